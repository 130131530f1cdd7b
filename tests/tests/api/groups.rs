//! The group read side: members read a group's messages (regular messages with their
//! sender, notices with their display contract), mark them read, and get per-group
//! summaries for the chat list; nobody writes into a personal group as a user.

use std::sync::Arc;

use chat_domain::store::Store;
use chat_domain::{Principal, UserId};
use chat_postgres::{PgStore, PoolConfig};
use chat_tests::TestApp;
use diesel::connection::SimpleConnection;
use serde_json::{Value, json};

fn messages_path(group: i64) -> String {
    format!("/api/user/chat/groups/{group}/messages")
}

/// A main group with `members`, and `count` text messages alternating between them.
fn main_group(app: &TestApp, members: &[i32], count: i32) -> i64 {
    let list = members.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
    app.db
        .conn()
        .batch_execute(&format!(
            "INSERT INTO chat_groups (name, kind) VALUES ('Main PEA Communication', 'main');
             INSERT INTO chat_group_members (group_id, user_id)
             SELECT g.id, u FROM chat_groups g, unnest(ARRAY[{list}]) u WHERE g.kind = 'main';
             INSERT INTO chat_messages (group_id, sender_id, sender_type, content)
             SELECT g.id, (ARRAY[{list}])[1 + s % {len}], 'real_user', 'message ' || s
             FROM chat_groups g, generate_series(1, {count}) s WHERE g.kind = 'main' ORDER BY s;",
            len = members.len()
        ))
        .unwrap();
    app.db.count("SELECT id::bigint AS n FROM chat_groups WHERE kind = 'main'")
}

fn ids(items: &Value) -> Vec<i64> {
    items["items"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn members_page_a_group_both_ways_with_senders_and_no_avatars() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, _) = app.user("bob");
    let (_, carol) = app.user("carol");
    let group = main_group(&app, &[alice_id, bob_id], 120);

    let first = app.get(&format!("{}?limit=50", messages_path(group)), &alice).await.json();
    let newest = &first["items"][0];
    assert_eq!(newest["kind"], "message");
    assert_eq!(newest["messageType"], "text");
    assert_eq!(newest["content"], "message 120");
    assert_eq!(newest["sender"], json!({"type": "real_user", "id": alice_id, "displayName": "Alice"}));
    assert!(newest.get("avatarUrl").is_none() && newest["sender"].get("avatarUrl").is_none());
    assert!(newest.get("align").is_none() && newest.get("style").is_none());

    // Newest first, 120 messages in pages of 50, 50, 20.
    let mut seen = ids(&first);
    let mut cursor = first["nextCursor"].as_i64();
    while let Some(before) = cursor {
        let page = app.get(&format!("{}?limit=50&before={before}", messages_path(group)), &alice).await.json();
        seen.extend(ids(&page));
        cursor = page["nextCursor"].as_i64();
    }
    assert_eq!(seen.len(), 120);
    assert!(seen.windows(2).all(|w| w[0] > w[1]));
    // Oldest first from the start.
    let forward = app.get(&format!("{}?after=0&limit=100", messages_path(group)), &alice).await.json();
    let forward_ids = ids(&forward);
    assert_eq!(forward_ids.len(), 100);
    assert!(forward_ids.windows(2).all(|w| w[0] < w[1]));
    let rest =
        app.get(&format!("{}?after={}&limit=100", messages_path(group), forward["nextCursor"]), &alice).await.json();
    assert_eq!(ids(&rest).len(), 20);
    assert_eq!(rest["nextCursor"], Value::Null);

    // A non-member, a missing group and a malformed id answer alike.
    let outsider = app.get(&messages_path(group), &carol).await;
    let missing = app.get(&messages_path(999_999), &carol).await;
    let malformed = app.get("/api/user/chat/groups/abc/messages", &carol).await;
    let huge = app.get("/api/user/chat/groups/9000000000/messages", &carol).await;
    assert_eq!(outsider.status, 404);
    for other in [&missing, &malformed, &huge] {
        assert_eq!((other.status, &other.bytes), (outsider.status, &outsider.bytes));
    }
    assert_eq!(app.get(&format!("{}?limit=101", messages_path(group)), &alice).await.status, 422);
    assert_eq!(app.get(&format!("{}?before=1&after=1", messages_path(group)), &alice).await.status, 422);
}

#[tokio::test]
async fn read_marks_count_other_peoples_visible_messages_and_never_move_back() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, _) = app.user("bob");
    let group = main_group(&app, &[alice_id, bob_id], 10);
    let all = ids(&app.get(&format!("{}?after=0", messages_path(group)), &alice).await.json());
    let read_path = format!("/api/user/chat/groups/{group}/read");

    // Messages alternate bob (odd s) / alice (even s); after the 4th, bob wrote 5, 7, 9.
    let read = app.post(&read_path, &alice, json!({"lastReadMessageId": all[3]})).await;
    assert_eq!(read.json(), json!({"lastReadMessageId": all[3], "unreadCount": 3}));
    let back = app.post(&read_path, &alice, json!({"lastReadMessageId": all[1]})).await;
    assert_eq!(back.json(), json!({"lastReadMessageId": all[3], "unreadCount": 3}), "never backwards");
    let done = app.post(&read_path, &alice, json!({"lastReadMessageId": all[9]})).await;
    assert_eq!(done.json()["unreadCount"], 0);

    // A message of another group, or none at all, is not found.
    let (carol_id, _) = app.user("carol");
    app.db
        .conn()
        .batch_execute(&format!(
            "INSERT INTO chat_groups (name, kind) VALUES ('Other', 'other');
         INSERT INTO chat_messages (group_id, sender_id, sender_type, content)
         SELECT id, {carol_id}, 'real_user', 'elsewhere' FROM chat_groups WHERE kind = 'other';"
        ))
        .unwrap();
    let foreign = app.db.count("SELECT max(id)::bigint AS n FROM chat_messages");
    let a = app.post(&read_path, &alice, json!({"lastReadMessageId": foreign})).await;
    let b = app.post(&read_path, &alice, json!({"lastReadMessageId": 9_000_000_000_i64})).await;
    assert_eq!(a.status, 404);
    assert_eq!((a.status, &a.bytes), (b.status, &b.bytes));
    let cursor = app.get(&format!("{}?before={foreign}", messages_path(group)), &alice).await;
    assert_eq!((cursor.status, &cursor.bytes), (a.status, &a.bytes));
}

#[tokio::test]
async fn the_chat_list_helper_gives_each_groups_visible_preview_and_unread_count() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, _) = app.user("bob");
    let main = main_group(&app, &[alice_id, bob_id], 3);
    let sent = app
        .post(
            "/api/admin/chat/notifications",
            &admin,
            json!({"userId": alice_id, "content": "Kept", "template": "success"}),
        )
        .await;
    assert_eq!(sent.status, 201);
    let retracted =
        app.post("/api/admin/chat/notifications", &admin, json!({"userId": alice_id, "content": "Retracted"})).await;
    app.call("DELETE", &format!("/api/admin/chat/notifications/{}", retracted.json()["id"]), Some(&admin), None).await;
    // An old shared support group and an inactive group are never listed.
    app.db
        .conn()
        .batch_execute(&format!(
            "INSERT INTO chat_groups (name, kind) VALUES ('Old support', 'support');
         INSERT INTO chat_groups (name, kind, is_active) VALUES ('Archived', 'other', FALSE);
         INSERT INTO chat_group_members (group_id, user_id)
         SELECT id, {alice_id} FROM chat_groups WHERE name IN ('Old support', 'Archived');"
        ))
        .unwrap();

    let store: Arc<dyn Store> = Arc::new(PgStore::new(&app.db.url, PoolConfig::default()));
    let caller = Principal::user(UserId(alice_id));
    let summaries = store.run(move |tx| chat_domain::group_messages::group_summaries(tx, &caller)).await.unwrap();
    assert_eq!(summaries.len(), 2, "{summaries:#?}");
    let personal = &summaries[0];
    assert_eq!(personal.group.kind, chat_domain::group_messages::GroupKind::Personal, "newest activity first");
    assert_eq!(personal.last_message.as_ref().unwrap().content, "Kept", "the retracted notice is no preview");
    assert_eq!(personal.read.unread, 1, "the retracted notice does not count");
    let main_summary = &summaries[1];
    assert_eq!(i64::from(main_summary.group.id.get()), main);
    assert_eq!(main_summary.last_message.as_ref().unwrap().content, "message 3");
    assert_eq!(main_summary.read.unread, 2, "bob's two messages; alice's own does not count");

    // The old support group is not readable through the group routes either.
    let support_group = app.db.count("SELECT id::bigint AS n FROM chat_groups WHERE kind = 'support'");
    assert_eq!(app.get(&messages_path(support_group), &alice).await.status, 404);
}

#[tokio::test]
async fn no_route_lets_a_user_write_into_their_personal_group() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    app.post("/api/admin/chat/notifications", &admin, json!({"userId": alice_id, "content": "Hello"})).await;
    let group = app.db.count(&format!("SELECT id::bigint AS n FROM chat_groups WHERE owner_user_id = {alice_id}"));
    let before = app.db.count("SELECT count(*) AS n FROM chat_messages");
    let post = app.post(&messages_path(group), &alice, json!({"content": "let me write here"})).await;
    assert_eq!(post.status, 405, "the path is read-only: {:?}", post.json());
    assert_eq!(post.header("allow"), Some("GET"));
    let admin_route =
        app.post("/api/admin/chat/notifications", &alice, json!({"userId": alice_id, "content": "x"})).await;
    assert_eq!(admin_route.code().as_deref(), Some("admin_only"));
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_messages"), before, "nothing stored");

    // The rule any future posting route must ask, on the group as the adapter loads it.
    let store: Arc<dyn Store> = Arc::new(PgStore::new(&app.db.url, PoolConfig::default()));
    let caller = Principal::user(UserId(alice_id));
    let group_id = chat_domain::GroupId(i32::try_from(group).unwrap());
    let refusal = store
        .run(move |tx| {
            let info = tx.member_group(group_id, caller.user_id)?;
            Ok::<_, chat_domain::RepoError>(chat_domain::group_messages::authorize_group_post(&caller, info.as_ref()))
        })
        .await
        .unwrap();
    assert_eq!(refusal, Err(chat_domain::group_messages::GroupPostError::PersonalGroupReadOnly));
}
