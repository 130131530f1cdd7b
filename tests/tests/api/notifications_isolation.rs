//! Isolation, extended to personal groups and notices: five users, each with private
//! notices and a shared broadcast; every group route is called by each user with every
//! other user's group and message ids. Foreign ids must answer exactly like ids that do
//! not exist, and nothing of one user (nor the sending admin) may appear in another's pages.

use chat_tests::{TestApp, TestDb};
use diesel::RunQueryDsl;
use serde_json::json;

const NONEXISTENT: i64 = 2_000_000_000;

fn ids(db: &TestDb, sql: &str) -> Vec<i64> {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql).load::<Id>(&mut db.conn()).unwrap().into_iter().map(|r| r.n).collect()
}

struct Member {
    name: String,
    token: String,
    group: i64,
    notices: Vec<i64>,
}

#[tokio::test]
async fn no_user_can_reach_or_see_another_users_personal_group_or_notices() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("zelda");
    let mut members = Vec::new();
    for name in ["amber", "basil", "cedar", "daisy", "ember"] {
        let (id, token) = app.user(name);
        for i in 0..2 {
            let sent = app
                .post(
                    "/api/admin/chat/notifications",
                    &admin,
                    json!({"userId": id, "content": format!("secret of {name} #{i}")}),
                )
                .await;
            assert_eq!(sent.status, 201);
        }
        let group = app.db.count(&format!("SELECT id::bigint AS n FROM chat_groups WHERE owner_user_id = {id}"));
        members.push(Member { name: name.to_owned(), token, group, notices: Vec::new() });
    }
    let broadcast =
        app.post("/api/admin/chat/notifications", &admin, json!({"allUsers": true, "content": "for everyone"})).await;
    assert_eq!(broadcast.json()["recipientCount"], 6, "five users and the admin");
    for m in &mut members {
        m.notices = ids(
            &app.db,
            &format!("SELECT id::bigint AS n FROM chat_messages WHERE group_id = {} ORDER BY id", m.group),
        );
        assert_eq!(m.notices.len(), 3);
    }
    let reads_before = app.db.count("SELECT count(*) AS n FROM chat_group_reads");

    for me in &members {
        let messages = |group: i64| format!("/api/user/chat/groups/{group}/messages");
        let read = |group: i64| format!("/api/user/chat/groups/{group}/read");
        let missing_page = app.get(&messages(NONEXISTENT), &me.token).await;
        let missing_read = app.post(&read(NONEXISTENT), &me.token, json!({"lastReadMessageId": 1})).await;
        let missing_before = app.get(&format!("{}?before={NONEXISTENT}", messages(me.group)), &me.token).await;
        let missing_mark = app.post(&read(me.group), &me.token, json!({"lastReadMessageId": NONEXISTENT})).await;
        assert_eq!(missing_page.status, 404);
        assert_eq!(missing_before.status, 404);

        for other in members.iter().filter(|o| o.name != me.name) {
            let page = app.get(&messages(other.group), &me.token).await;
            assert_eq!((page.status, &page.bytes), (missing_page.status, &missing_page.bytes));
            for &notice in &other.notices {
                let r = app.post(&read(other.group), &me.token, json!({"lastReadMessageId": notice})).await;
                assert_eq!((r.status, &r.bytes), (missing_read.status, &missing_read.bytes));
                // Another user's notice as a cursor or read mark in my own group.
                let c = app.get(&format!("{}?before={notice}", messages(me.group)), &me.token).await;
                assert_eq!((c.status, &c.bytes), (missing_before.status, &missing_before.bytes));
                let a = app.get(&format!("{}?after={notice}", messages(me.group)), &me.token).await;
                assert_eq!((a.status, &a.bytes), (missing_before.status, &missing_before.bytes));
                let m = app.post(&read(me.group), &me.token, json!({"lastReadMessageId": notice})).await;
                assert_eq!((m.status, &m.bytes), (missing_mark.status, &missing_mark.bytes));
            }
            // The admin history is refused before any lookup.
            let history = app.get("/api/admin/chat/notifications?userId=1", &me.token).await;
            assert_eq!(history.code().as_deref(), Some("admin_only"));
        }

        let page = app.get(&format!("{}?limit=100", messages(me.group)), &me.token).await;
        let items = page.json()["items"].as_array().unwrap().clone();
        let mut ids: Vec<i64> = items.iter().map(|m| m["id"].as_i64().unwrap()).collect();
        ids.reverse();
        assert_eq!(ids, me.notices);
        assert!(
            items.iter().all(|m| m["groupId"] == me.group && m["kind"] == "notification" && m.get("sender").is_none())
        );
        let raw = String::from_utf8_lossy(&page.bytes);
        for other in members.iter().filter(|o| o.name != me.name) {
            assert!(!raw.contains(&other.name), "{} sees {}: {raw}", me.name, other.name);
        }
        assert!(!raw.to_lowercase().contains("zelda"), "the sending admin is never shown: {raw}");
    }
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_group_reads"), reads_before, "no probe moved a read mark");
}
