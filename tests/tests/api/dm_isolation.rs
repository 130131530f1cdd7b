//! Isolation of DMs, groups and search: every user route that takes an id, called by
//! every user with ids of conversations, messages and groups they are not in, answers
//! exactly like an id that does not exist; no list, count, page or hit leaks anything.

use chat_tests::TestApp;
use serde_json::json;

const DMS: &str = "/api/user/chat/direct-messages";
const MISSING: i64 = 9_000_000_000;

/// Every user route addressing DM `dm`, with a message `message` as cursor or read mark.
fn dm_routes(dm: i64, message: i64) -> Vec<(&'static str, String, Option<serde_json::Value>)> {
    vec![
        ("GET", format!("{DMS}/{dm}"), None),
        ("GET", format!("{DMS}/{dm}/messages"), None),
        ("POST", format!("{DMS}/{dm}/messages"), Some(json!({"content": "intrusion"}))),
        ("POST", format!("{DMS}/{dm}/read"), Some(json!({"lastReadMessageId": message}))),
        ("POST", format!("{DMS}/{dm}/archive"), None),
        ("DELETE", format!("{DMS}/{dm}/archive"), None),
    ]
}

#[tokio::test]
async fn foreign_dms_groups_messages_and_cursors_answer_like_missing_ones() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let mut users = Vec::new();
    for name in ["anna", "bert", "cleo", "dirk"] {
        users.push(app.user(name));
    }
    let ids: Vec<i32> = users.iter().map(|(id, _)| *id).collect();
    let main = app.db.group("Main", "main", &ids);
    let private = app.db.group("Anna and Bert", "other", &ids[..2]);
    let legacy_support = app.db.group("Support (old)", "support", &ids);
    let persona = app.post("/api/admin/chat/personas", &admin, json!({"name": "Mia", "dmEnabled": true})).await.json()
        ["id"]
        .as_i64()
        .unwrap();

    // Pairs (anna, bert) and (cleo, dirk), plus each user's persona DM and support thread.
    let mut owned: Vec<(usize, i64, i64)> = Vec::new(); // (owner index, dm id, message id)
    for (a, b) in [(0, 1), (2, 3)] {
        let dm =
            app.post(DMS, &users[a].1, json!({"targetType": "real_user", "targetId": users[b].0})).await.json()["id"]
                .as_i64()
                .unwrap();
        let message = app
            .post(&format!("{DMS}/{dm}/messages"), &users[a].1, json!({"content": format!("pair secret {a}{b}")}))
            .await
            .json()["id"]
            .as_i64()
            .unwrap();
        owned.push((a, dm, message));
        owned.push((b, dm, message));
    }
    for (i, (_, token)) in users.iter().enumerate() {
        let dm = app.post(DMS, token, json!({"targetType": "fake_user", "targetId": persona})).await.json()["id"]
            .as_i64()
            .unwrap();
        let message = app
            .post(&format!("{DMS}/{dm}/messages"), token, json!({"content": format!("persona secret {i}")}))
            .await
            .json()["id"]
            .as_i64()
            .unwrap();
        owned.push((i, dm, message));
        app.post("/api/user/chat/support/messages", token, json!({"content": format!("support secret {i}")})).await;
    }
    let rows_before = app.db.count("SELECT count(*) AS n FROM dm_messages");
    let state_before = app.db.count(
        "SELECT sum(user1_last_read_id + user1_unread + user2_last_read_id + user2_unread
                   + (user1_archived_at IS NOT NULL)::int + (user2_archived_at IS NOT NULL)::int)::bigint AS n
         FROM direct_messages",
    );

    for (me, (_, token)) in users.iter().enumerate() {
        let mine: Vec<i64> = owned.iter().filter(|(o, _, _)| *o == me).map(|(_, dm, _)| *dm).collect();
        let own_dm = mine[0];
        for &(_, dm, message) in owned.iter().filter(|(_, dm, _)| !mine.contains(dm)) {
            for ((method, path, body), (_, missing_path, missing_body)) in
                dm_routes(dm, message).into_iter().zip(dm_routes(MISSING, MISSING))
            {
                let foreign = app.call(method, &path, Some(token), body).await;
                let missing = app.call(method, &missing_path, Some(token), missing_body).await;
                assert_eq!((foreign.status, &foreign.bytes), (missing.status, &missing.bytes), "{method} {path}");
                assert_eq!(foreign.status, 404, "{method} {path}");
            }
            // A foreign message as cursor or read mark in the caller's own DM.
            for path in [
                format!("{DMS}/{own_dm}/messages?before={message}"),
                format!("{DMS}/{own_dm}/messages?after={message}"),
            ] {
                let foreign = app.get(&path, token).await;
                let missing = app.get(&path.replace(&message.to_string(), &MISSING.to_string()), token).await;
                assert_eq!((foreign.status, &foreign.bytes), (missing.status, &missing.bytes), "{path}");
            }
            let foreign = app.post(&format!("{DMS}/{own_dm}/read"), token, json!({"lastReadMessageId": message})).await;
            let missing = app.post(&format!("{DMS}/{own_dm}/read"), token, json!({"lastReadMessageId": MISSING})).await;
            assert_eq!((foreign.status, &foreign.bytes), (missing.status, &missing.bytes));
        }

        // Groups: members of a group the caller is not in answer like a missing group.
        if me >= 2 {
            let foreign = app.get(&format!("/api/user/chat/groups/{private}/members"), token).await;
            let missing = app.get("/api/user/chat/groups/999999/members", token).await;
            assert_eq!((foreign.status, &foreign.bytes), (missing.status, &missing.bytes));
        }
        assert_eq!(app.get(&format!("/api/user/chat/groups/{main}/members"), token).await.status, 200);
        // Members of an old shared support group never see each other, even as members.
        let old_support = app.get(&format!("/api/user/chat/groups/{legacy_support}/members"), token).await;
        let missing = app.get("/api/user/chat/groups/999999/members", token).await;
        assert_eq!((old_support.status, &old_support.bytes), (missing.status, &missing.bytes));

        // Lists and search hold only the caller's own conversations.
        let list = app.get(&format!("{DMS}?limit=100"), token).await.json();
        let listed: Vec<i64> = list["items"].as_array().unwrap().iter().map(|d| d["id"].as_i64().unwrap()).collect();
        let mut expected = mine.clone();
        expected.sort_unstable();
        let mut got = listed.clone();
        got.sort_unstable();
        assert_eq!(got, expected);
        let hits = app.get("/api/user/chat/search?q=secret&limit=100", token).await;
        let raw = String::from_utf8_lossy(&hits.bytes).to_string();
        let count = hits.json()["items"].as_array().unwrap().len();
        assert_eq!(count, 3, "{raw}");
        for other in (0..users.len()).filter(|o| *o != me) {
            assert!(
                !raw.contains(&format!("persona secret {other}")) && !raw.contains(&format!("support secret {other}"))
            );
        }
    }
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), rows_before, "no probe stored anything");
    let state_after = app.db.count(
        "SELECT sum(user1_last_read_id + user1_unread + user2_last_read_id + user2_unread
                   + (user1_archived_at IS NOT NULL)::int + (user2_archived_at IS NOT NULL)::int)::bigint AS n
         FROM direct_messages",
    );
    assert_eq!(state_before, state_after, "no probe changed any state");
}
