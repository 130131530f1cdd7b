//! The unified chat list: order, unread counts and totals after a scripted sequence of
//! sends and reads; paging; and nothing of anyone else.

use chat_tests::TestApp;
use serde_json::{Value, json};

const LIST: &str = "/api/user/chat/conversations";

fn rows(list: &Value) -> Vec<(String, i64, i64)> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (i["kind"].as_str().unwrap().to_owned(), i["id"].as_i64().unwrap(), i["unreadCount"].as_i64().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn the_chat_list_orders_counts_totals_and_pages() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    let (carol_id, carol) = app.user("carol");
    let main = i64::from(app.db.group("Main PEA Communication", "main", &[alice_id, bob_id, carol_id]));

    // Before anything: support is pinned (not created yet), the main group is listed.
    let list = app.get(LIST, &alice).await.json();
    assert_eq!(list["support"]["title"], "Help & Support");
    assert_eq!(list["support"]["id"], Value::Null);
    assert_eq!(rows(&list), [("group".to_owned(), main, 0)]);
    assert_eq!(list["items"][0]["groupKind"], "main");
    assert_eq!(list["totalUnread"], 0);

    let start = |from: &str, to: i32| {
        let app = &app;
        let from = from.to_owned();
        async move { app.start_dm(&from, to).await }
    };
    let say = |token: &str, dm: i64, content: &str| {
        let app = &app;
        let token = token.to_owned();
        let content = content.to_owned();
        async move {
            let reply = app
                .post(&format!("/api/user/chat/direct-messages/{dm}/messages"), &token, json!({"content": content}))
                .await;
            reply.json()["id"].as_i64().unwrap()
        }
    };
    let with_bob = start(&bob, alice_id).await;
    say(&bob, with_bob, "hi alice").await;
    app.post("/api/user/chat/support/messages", &alice, json!({"content": "help"})).await;
    let support = app.get("/api/user/chat/support", &alice).await.json()["id"].as_i64().unwrap();
    app.post(&format!("/api/admin/chat/support/{support}/messages"), &ada, json!({"content": "on it", "asTeam": true}))
        .await;
    let with_carol = start(&carol, alice_id).await;
    say(&carol, with_carol, "x").await;
    let last_from_carol = say(&carol, with_carol, "y").await;
    let notice = app
        .post(
            "/api/admin/chat/notifications",
            &ada,
            json!({"userId": alice_id, "content": "Welcome!", "template": "info"}),
        )
        .await;
    assert_eq!(notice.status, 201, "{:?}", notice.json());

    let list = app.get(LIST, &alice).await.json();
    let personal = list["items"][0]["id"].as_i64().unwrap();
    assert_eq!(list["items"][0]["groupKind"], "personal");
    assert_eq!(list["items"][0]["lastMessage"]["kind"], "notification");
    assert_eq!(
        rows(&list),
        [
            ("group".to_owned(), personal, 1),
            ("user_dm".to_owned(), with_carol, 2),
            ("user_dm".to_owned(), with_bob, 1),
            ("group".to_owned(), main, 0),
        ]
    );
    assert_eq!(list["items"][1]["title"], "Carol");
    assert_eq!(list["items"][1]["lastMessage"]["content"], "y");
    assert_eq!(list["support"]["id"], support);
    assert_eq!(list["support"]["unreadCount"], 1);
    assert_eq!(list["totalUnread"], 5, "1 notice + 2 from carol + 1 from bob + 1 support answer: {list}");

    // Reads bring the totals down.
    app.post(
        &format!("/api/user/chat/direct-messages/{with_carol}/read"),
        &alice,
        json!({"lastReadMessageId": last_from_carol}),
    )
    .await;
    let notice_id = list["items"][0]["lastMessage"]["id"].clone();
    app.post(&format!("/api/user/chat/groups/{personal}/read"), &alice, json!({"lastReadMessageId": notice_id})).await;
    let list = app.get(LIST, &alice).await.json();
    assert_eq!(list["totalUnread"], 2, "bob's message and the support answer remain");

    // Paging: two rows, then the rest, no gap and no duplicate.
    let first = app.get(&format!("{LIST}?limit=2"), &alice).await.json();
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let second = app.get(&format!("{LIST}?limit=2&cursor={cursor}"), &alice).await.json();
    let mut paged = rows(&first);
    paged.extend(rows(&second));
    assert_eq!(paged, rows(&list));
    assert_eq!(second["nextCursor"], Value::Null);
    assert_eq!(app.get(&format!("{LIST}?cursor=nonsense"), &alice).await.status, 422);

    // Bob sees his DM with alice and the main group: nothing of carol's, nor alice's
    // support or personal group.
    let bobs = app.get(LIST, &bob).await.json();
    assert_eq!(rows(&bobs), [("user_dm".to_owned(), with_bob, 0), ("group".to_owned(), main, 0)]);
    assert_eq!(bobs["support"]["id"], Value::Null);
    let raw = String::from_utf8_lossy(&app.get(LIST, &bob).await.bytes).to_string();
    assert!(!raw.contains("Welcome") && !raw.contains("on it") && !raw.contains("\"y\""), "{raw}");
}
