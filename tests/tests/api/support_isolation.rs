//! Isolation: five users, each with a support conversation; every user route is called by
//! each user with every other user's ids. Foreign ids must answer exactly like ids that
//! do not exist, and nothing of one user may appear in another's lists, pages or counts.
//! That includes the id-taking DM and group routes: support conversations share the
//! `direct_messages` id space with DMs, and a support conversation id must not open a
//! door there either.

use chat_tests::{Reply, TestApp};
use diesel::connection::SimpleConnection;
use serde_json::{Value, json};

const SUPPORT: &str = "/api/user/chat/support";
const MESSAGES: &str = "/api/user/chat/support/messages";
const NONEXISTENT: i64 = 9_000_000_000;
/// A missing id that still fits the `INTEGER` group ids.
const NONEXISTENT_GROUP: i64 = 2_000_000_000;

/// Every id-taking DM and group route of the user API, for a conversation or group `id`
/// and a message id `message` (a foreign one, so the body is the same for every id).
fn dm_and_group_routes(id: i64, message: i64) -> Vec<(&'static str, String, Option<Value>)> {
    let dm = format!("/api/user/chat/direct-messages/{id}");
    let group = format!("/api/user/chat/groups/{id}");
    vec![
        ("GET", dm.clone(), None),
        ("GET", format!("{dm}/messages"), None),
        ("GET", format!("{dm}/messages?before={message}"), None),
        ("POST", format!("{dm}/messages"), Some(json!({"content": "let me in"}))),
        ("POST", format!("{dm}/read"), Some(json!({"lastReadMessageId": message}))),
        ("POST", format!("{dm}/archive"), None),
        ("DELETE", format!("{dm}/archive"), None),
        ("GET", format!("{group}/messages"), None),
        ("GET", format!("{group}/members"), None),
        ("POST", format!("{group}/read"), Some(json!({"lastReadMessageId": message}))),
    ]
}

async fn call_all(app: &TestApp, token: &str, routes: Vec<(&'static str, String, Option<Value>)>) -> Vec<Reply> {
    let mut replies = Vec::new();
    for (method, path, body) in routes {
        replies.push(app.call(method, &path, Some(token), body).await);
    }
    replies
}

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
    let mut ids = Vec::new();
    for name in ["amber", "basil", "cedar", "daisy", "ember"] {
        let (id, token) = app.user(name);
        ids.push(id);
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
    // Everyone shares a group (so the group routes have something to find), whose id no
    // support conversation shares: any difference on the group routes below would be a
    // leak, not a coincidence.
    app.db.conn().batch_execute("SELECT setval('chat_groups_id_seq', 1000)").unwrap();
    let main = app.db.group("Main PEA Communication", "main", &ids);
    assert!(members.iter().all(|m| m.conversation != i64::from(main)));
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

        // Their own support conversation is no DM (nor a group) either.
        let own = call_all(&app, &me.token, dm_and_group_routes(me.conversation, me.messages[0])).await;
        let missing = call_all(&app, &me.token, dm_and_group_routes(NONEXISTENT, me.messages[0])).await;
        for ((route, own), missing) in dm_and_group_routes(me.conversation, 0).iter().zip(&own).zip(&missing) {
            assert_eq!((own.status, &own.bytes), (missing.status, &missing.bytes), "own: {} {}", route.0, route.1);
        }

        for other in members.iter().filter(|o| o.name != me.name) {
            // The DM and group routes, given the other user's support conversation.
            let message = other.messages[0];
            let foreign = call_all(&app, &me.token, dm_and_group_routes(other.conversation, message)).await;
            let missing = call_all(&app, &me.token, dm_and_group_routes(NONEXISTENT, message)).await;
            let missing_group = call_all(&app, &me.token, dm_and_group_routes(NONEXISTENT_GROUP, message)).await;
            let routes = dm_and_group_routes(other.conversation, message);
            for (((route, foreign), missing), missing_group) in
                routes.iter().zip(&foreign).zip(&missing).zip(&missing_group)
            {
                let (method, path, _) = route;
                assert_eq!(foreign.status, 404, "{} {method} {path}: {:?}", me.name, foreign.json());
                assert_eq!((foreign.status, &foreign.bytes), (missing.status, &missing.bytes), "{method} {path}");
                assert_eq!(
                    (foreign.status, &foreign.bytes),
                    (missing_group.status, &missing_group.bytes),
                    "{method} {path}"
                );
            }

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
    // Nothing was written through the DM and group routes.
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 20);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM direct_messages WHERE conversation_type <> 'support'"), 0);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_group_reads"), 0);
    let archived = "SELECT count(*) AS n FROM direct_messages WHERE user1_archived_at IS NOT NULL OR user2_archived_at IS NOT NULL";
    assert_eq!(app.db.count(archived), 0);
    let state_after = app.db.count(
        "SELECT sum(user1_last_read_id + user1_unread + user2_last_read_id + user2_unread)::bigint AS n FROM direct_messages",
    );
    assert_eq!(state_before, state_after, "no probe changed any read state");
}
