//! Isolation of DMs, groups, the chat list and search: every user route that takes an
//! id, called by every user with ids of conversations, messages and groups they are not
//! in (and with ids of conversations that are not DMs at all: support conversations and
//! personal groups), answers exactly like an id that does not exist; no list, count,
//! page, preview or hit leaks anything.

use std::collections::BTreeSet;

use chat_tests::TestApp;
use diesel::connection::SimpleConnection;
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
    let mut supports: Vec<(i64, i64)> = Vec::new(); // (support conversation id, message id), per user
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
        let sent =
            app.post("/api/user/chat/support/messages", token, json!({"content": format!("support secret {i}")})).await;
        let support = app.get("/api/user/chat/support", token).await.json()["id"].as_i64().unwrap();
        supports.push((support, sent.json()["id"].as_i64().unwrap()));
    }
    // Each user's personal group, with a notice in it; group ids are moved far away from
    // conversation ids, so that a group id passed to a DM route names no DM by accident.
    app.db.conn().batch_execute("SELECT setval('chat_groups_id_seq', 500000)").unwrap();
    let mut personal_groups = Vec::new();
    for (i, (id, token)) in users.iter().enumerate() {
        let notice = app
            .post(
                "/api/admin/chat/notifications",
                &admin,
                json!({"userId": id, "content": format!("notice secret {i}"), "template": "info"}),
            )
            .await;
        assert_eq!(notice.status, 201, "{:?}", notice.json());
        let list = app.get("/api/user/chat/conversations?limit=100", token).await.json();
        let personal = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["groupKind"] == "personal")
            .and_then(|item| item["id"].as_i64())
            .unwrap();
        personal_groups.push(personal);
    }
    let dm_ids: Vec<i64> = owned.iter().map(|(_, dm, _)| *dm).collect();
    assert!(personal_groups.iter().all(|g| !dm_ids.contains(g) && supports.iter().all(|(s, _)| s != g)));
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

        // Ids of conversations that are not DMs (every user's support conversation and
        // personal group, the caller's own included) answer the DM routes like missing ids.
        let not_dms =
            supports.iter().map(|(id, message)| (*id, *message)).chain(personal_groups.iter().map(|g| (*g, *g)));
        for (id, message) in not_dms {
            for ((method, path, body), (_, missing_path, missing_body)) in
                dm_routes(id, message).into_iter().zip(dm_routes(MISSING, MISSING))
            {
                let probe = app.call(method, &path, Some(token), body).await;
                let missing = app.call(method, &missing_path, Some(token), missing_body).await;
                assert_eq!((probe.status, &probe.bytes), (missing.status, &missing.bytes), "{method} {path}");
            }
        }

        // The chat list holds exactly the caller's own conversations, previews and counts.
        let reply = app.get("/api/user/chat/conversations?limit=100", token).await;
        let raw = String::from_utf8_lossy(&reply.bytes).to_string();
        let list = reply.json();
        let listed: BTreeSet<(String, i64)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| (item["kind"].as_str().unwrap().to_owned(), item["id"].as_i64().unwrap()))
            .collect();
        let mut expected: BTreeSet<(String, i64)> = owned
            .iter()
            .filter(|(o, _, _)| *o == me)
            .map(|(_, dm, _)| {
                let kind = if owned.iter().filter(|(_, d, _)| d == dm).count() == 2 { "user_dm" } else { "persona_dm" };
                (kind.to_owned(), *dm)
            })
            .collect();
        expected.insert(("group".to_owned(), i64::from(main)));
        expected.insert(("group".to_owned(), personal_groups[me]));
        if me < 2 {
            expected.insert(("group".to_owned(), i64::from(private)));
        }
        assert_eq!(listed, expected, "{raw}");
        assert_eq!(list["support"]["id"], supports[me].0);
        // Unread: the pair message for its receiver (b = odd index), and the notice.
        let item_unread: i64 =
            list["items"].as_array().unwrap().iter().map(|i| i["unreadCount"].as_i64().unwrap()).sum();
        let expected_unread = 1 + i64::from(me % 2 == 1);
        assert_eq!(item_unread, expected_unread, "{raw}");
        assert_eq!(list["support"]["unreadCount"], 0, "{raw}");
        assert_eq!(list["totalUnread"], expected_unread, "{raw}");
        for other in (0..users.len()).filter(|o| *o != me) {
            for secret in ["persona secret", "support secret", "notice secret"] {
                assert!(!raw.contains(&format!("{secret} {other}")), "{secret} {other} leaked to {me}: {raw}");
            }
        }
        let (own_pair, foreign_pair) =
            if me < 2 { ("pair secret 01", "pair secret 23") } else { ("pair secret 23", "pair secret 01") };
        assert!(raw.contains(own_pair) && !raw.contains(foreign_pair), "{raw}");

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
