//! Isolation: five users, each with a support conversation; every user route is called by
//! each user with every other user's ids. Foreign ids must answer exactly like ids that
//! do not exist, and nothing of one user may appear in another's lists, pages or counts.

use chat_tests::TestApp;
use serde_json::json;

const SUPPORT: &str = "/api/user/chat/support";
const MESSAGES: &str = "/api/user/chat/support/messages";
const NONEXISTENT: i64 = 9_000_000_000;

struct Member {
    name: String,
    token: String,
    conversation: i64,
    messages: Vec<i64>,
}

#[tokio::test]
async fn no_user_can_reach_or_see_another_users_support_conversation() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let mut members = Vec::new();
    for name in ["amber", "basil", "cedar", "daisy", "ember"] {
        let (_, token) = app.user(name);
        let mut messages = Vec::new();
        let mut conversation = 0;
        for i in 0..3 {
            let m = app.post(MESSAGES, &token, json!({"content": format!("secret of {name} #{i}")})).await.json();
            conversation = m["conversationId"].as_i64().unwrap();
            messages.push(m["id"].as_i64().unwrap());
        }
        let path = format!("/api/admin/chat/support/{conversation}/messages");
        let reply = app.post(&path, &admin, json!({"content": format!("answer for {name}"), "asTeam": true})).await;
        messages.push(reply.json()["id"].as_i64().unwrap());
        members.push(Member { name: name.to_owned(), token, conversation, messages });
    }
    let state_before = app.db.count(
        "SELECT sum(user1_last_read_id + user1_unread + user2_last_read_id + user2_unread)::bigint AS n FROM direct_messages",
    );

    for me in &members {
        // What a nonexistent id answers, per route.
        let missing_before = app.get(&format!("{MESSAGES}?before={NONEXISTENT}"), &me.token).await;
        let missing_after = app.get(&format!("{MESSAGES}?after={NONEXISTENT}"), &me.token).await;
        let missing_read =
            app.post("/api/user/chat/support/read", &me.token, json!({"lastReadMessageId": NONEXISTENT})).await;
        assert_eq!(missing_before.status, 404);
        assert_eq!(missing_read.status, 404);

        for other in members.iter().filter(|o| o.name != me.name) {
            for &foreign in &other.messages {
                let before = app.get(&format!("{MESSAGES}?before={foreign}"), &me.token).await;
                assert_eq!((before.status, &before.bytes), (missing_before.status, &missing_before.bytes));
                let after = app.get(&format!("{MESSAGES}?after={foreign}"), &me.token).await;
                assert_eq!((after.status, &after.bytes), (missing_after.status, &missing_after.bytes));
                let read =
                    app.post("/api/user/chat/support/read", &me.token, json!({"lastReadMessageId": foreign})).await;
                assert_eq!((read.status, &read.bytes), (missing_read.status, &missing_read.bytes));
            }
            // Naming the other conversation on an admin route is refused before any lookup.
            let admin_route = app.get(&format!("/api/admin/chat/support/{}", other.conversation), &me.token).await;
            let admin_missing = app.get(&format!("/api/admin/chat/support/{NONEXISTENT}"), &me.token).await;
            assert_eq!((admin_route.status, &admin_route.bytes), (admin_missing.status, &admin_missing.bytes));
            // A conversation id smuggled into the query is refused, not honoured.
            let smuggled = app.get(&format!("{MESSAGES}?conversationId={}", other.conversation), &me.token).await;
            assert_eq!(smuggled.status, 422);
        }

        // Everything the user can list is theirs alone.
        let mine = app.get(SUPPORT, &me.token).await;
        assert_eq!(mine.json()["id"], me.conversation);
        let page = app.get(&format!("{MESSAGES}?limit=100"), &me.token).await;
        let items = page.json()["items"].as_array().unwrap().clone();
        let ids: Vec<i64> = items.iter().map(|m| m["id"].as_i64().unwrap()).rev().collect();
        assert_eq!(ids, me.messages);
        assert!(items.iter().all(|m| m["conversationId"] == me.conversation));
        assert_eq!(mine.json()["unreadCount"], 1, "only the answer to this user counts");
        for reply in [&mine, &page] {
            let raw = String::from_utf8_lossy(&reply.bytes);
            for other in members.iter().filter(|o| o.name != me.name) {
                assert!(!raw.contains(&other.name), "{} sees {}: {raw}", me.name, other.name);
            }
        }
    }
    let state_after = app.db.count(
        "SELECT sum(user1_last_read_id + user1_unread + user2_last_read_id + user2_unread)::bigint AS n FROM direct_messages",
    );
    assert_eq!(state_before, state_after, "no probe changed any read state");
}
