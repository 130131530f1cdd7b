//! Admin notifications end to end: single, list and all-users sends, idempotency,
//! race-safe personal groups, retraction, expiry, style validation, the display
//! contract in the personal group, and the admin history.

use chat_tests::TestApp;
use diesel::connection::SimpleConnection;
use futures_util::future::join_all;
use serde_json::{Value, json};

const SEND: &str = "/api/admin/chat/notifications";

async fn send(app: &TestApp, admin: &str, body: Value) -> Value {
    let reply = app.post(SEND, admin, body).await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    reply.json()
}

/// The personal group of `user`, read from the database (users find it in their chat list).
fn personal_group(app: &TestApp, user: i32) -> i64 {
    app.db.count(&format!("SELECT id::bigint AS n FROM chat_groups WHERE kind = 'personal' AND owner_user_id = {user}"))
}

fn messages_path(group: i64) -> String {
    format!("/api/user/chat/groups/{group}/messages")
}

async fn page(app: &TestApp, token: &str, group: i64) -> Vec<Value> {
    let reply = app.get(&messages_path(group), token).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    reply.json()["items"].as_array().unwrap().clone()
}

fn stored(app: &TestApp) -> (i64, i64, i64) {
    (
        app.db.count("SELECT count(*) AS n FROM chat_notifications"),
        app.db.count("SELECT count(*) AS n FROM chat_messages"),
        app.db.count("SELECT count(*) AS n FROM chat_groups WHERE kind = 'personal'"),
    )
}

#[tokio::test]
async fn a_notice_to_one_user_lands_centred_in_their_new_personal_group_without_a_sender() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    assert_eq!(stored(&app).2, 0, "no personal group before the first notice");

    let sent = send(
        &app,
        &admin,
        json!({
            "userId": alice_id,
            "content": "  Welcome! Your account has been upgraded to Premium. ",
            "notificationStyle": {"backgroundColor": "#f0f9ff", "textColor": "#0369A1", "borderColor": "#38bdf8"}
        }),
    )
    .await;
    assert_eq!(sent["recipientCount"], 1);
    let group = personal_group(&app, alice_id);
    assert_eq!(
        app.db.count(&format!(
            "SELECT count(*) AS n FROM chat_group_members WHERE group_id = {group} AND user_id = {alice_id}"
        )),
        1,
        "the owner is a member of their personal group"
    );

    let items = page(&app, &alice, group).await;
    assert_eq!(items.len(), 1);
    let notice = &items[0];
    assert_eq!(notice["kind"], "notification");
    assert_eq!(notice["messageType"], "notification");
    assert_eq!(notice["align"], "center");
    assert_eq!(notice["content"], "Welcome! Your account has been upgraded to Premium.");
    assert_eq!(
        notice["style"],
        json!({"template": null, "backgroundColor": "#f0f9ff", "textColor": "#0369A1", "borderColor": "#38bdf8"})
    );
    let keys: Vec<&str> = notice.as_object().unwrap().keys().map(String::as_str).collect();
    for forbidden in ["sender", "senderId", "senderType", "displayName", "avatarUrl", "sentBy"] {
        assert!(!keys.contains(&forbidden), "a notice has no {forbidden}: {keys:?}");
    }
    let raw = String::from_utf8_lossy(&app.get(&messages_path(group), &alice).await.bytes).to_string();
    assert!(!raw.contains("Ada"), "the sending admin never appears in a user body: {raw}");

    // A second notice reuses the same personal group; templates give fixed palettes.
    send(&app, &admin, json!({"userId": alice_id, "content": "Maintenance tonight", "template": "warning"})).await;
    assert_eq!(stored(&app).2, 1);
    let items = page(&app, &alice, group).await;
    assert_eq!(
        items[0]["style"],
        json!({"template": "warning", "backgroundColor": "#fffbeb", "textColor": "#92400e", "borderColor": "#fbbf24"})
    );
    // No style at all is the info template.
    send(&app, &admin, json!({"userId": alice_id, "content": "Plain"})).await;
    assert_eq!(page(&app, &alice, group).await[0]["style"]["template"], "info");
}

#[tokio::test]
async fn a_list_send_reaches_each_distinct_user_once_and_unknown_users_store_nothing() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let ids: Vec<i32> = ["amber", "basil", "cedar"].iter().map(|n| app.user(n).0).collect();

    let unknown = app
        .post(SEND, &admin, json!({"userIds": [ids[0], 999_999, ids[1], 888_888], "content": "hi", "template": "info"}))
        .await;
    assert_eq!(unknown.status, 422);
    let fields: Vec<String> =
        unknown.json()["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect();
    assert_eq!(fields, ["userIds[3]", "userIds[1]"]);
    assert_eq!(unknown.json()["errors"][0]["code"], "unknown_user");
    assert_eq!(stored(&app), (0, 0, 0), "nothing stored, not even personal groups");
    let single = app.post(SEND, &admin, json!({"userId": 999_999, "content": "hi"})).await;
    assert_eq!((single.status, single.json()["errors"][0]["field"].clone()), (422, json!("userId")));

    let sent =
        send(&app, &admin, json!({"userIds": [ids[2], ids[0], ids[2], ids[1], ids[0]], "content": "Hello all three"}))
            .await;
    assert_eq!(sent["recipientCount"], 3);
    assert_eq!(stored(&app), (1, 3, 3));
    for id in &ids {
        let group = personal_group(&app, *id);
        assert_eq!(app.db.count(&format!("SELECT count(*) AS n FROM chat_messages WHERE group_id = {group}")), 1);
    }
}

#[tokio::test]
async fn the_audience_rules_are_enforced() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let cases = [
        (json!({"content": "x"}), "userId", "required"),
        (json!({"content": "x", "allUsers": false}), "userId", "required"),
        (json!({"content": "x", "userId": alice_id, "userIds": [alice_id]}), "userIds", "exclusive"),
        (json!({"content": "x", "userId": alice_id, "allUsers": true}), "allUsers", "exclusive"),
        (json!({"content": "x", "userIds": []}), "userIds", "empty"),
        (json!({"content": "x", "userIds": (1..=10_001).collect::<Vec<i32>>()}), "userIds", "too_many"),
        (json!({"content": "", "userId": alice_id}), "content", "empty"),
        (json!({"content": "x", "userId": alice_id, "expiresAt": "2001-01-01T00:00:00Z"}), "expiresAt", "in_past"),
        (json!({"content": "x", "userId": alice_id, "template": "neon"}), "template", "invalid_type"),
        (
            json!({"content": "x", "userId": alice_id, "template": "info", "notificationStyle": {"backgroundColor": "#000000", "textColor": "#000000", "borderColor": "#000000"}}),
            "notificationStyle",
            "exclusive",
        ),
    ];
    for (body, field, code) in cases {
        let reply = app.post(SEND, &admin, body.clone()).await;
        assert_eq!(reply.status, 422, "{body}");
        let errors = reply.json()["errors"].clone();
        assert!(
            errors.as_array().unwrap().iter().any(|e| e["field"] == field && e["code"] == code),
            "{body}: expected {field}/{code}, got {errors}"
        );
    }
    assert_eq!(stored(&app), (0, 0, 0));
    let user = app.post(SEND, &alice, json!({"userId": alice_id, "content": "x"})).await;
    assert_eq!((user.status, user.code().as_deref()), (403, Some("admin_only")));
    assert_eq!(app.get(SEND, &alice).await.status, 403);
    assert_eq!(app.call("DELETE", &format!("{SEND}/1"), Some(&alice), None).await.status, 403);
}

#[tokio::test]
async fn bad_colours_are_refused_naming_the_field_and_stored_nowhere() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let (alice_id, _) = app.user("alice");
    let good = "#a0b1c2";
    for bad in [
        json!("red"),
        json!("#fff"),
        json!("#ffffff;x:y"),
        json!("#ffffff\n"),
        json!(" #ffffff"),
        json!("#gggggg"),
        json!("url(x)"),
    ] {
        for field in ["backgroundColor", "textColor", "borderColor"] {
            let mut style = json!({"backgroundColor": good, "textColor": good, "borderColor": good});
            style[field] = bad.clone();
            let reply =
                app.post(SEND, &admin, json!({"userId": alice_id, "content": "x", "notificationStyle": style})).await;
            assert_eq!(reply.status, 422, "{field} = {bad}");
            let error = &reply.json()["errors"][0];
            assert_eq!(error["field"], format!("notificationStyle.{field}"), "{bad}");
            assert_eq!(error["code"], "invalid_colour");
        }
    }
    let number = app
        .post(SEND, &admin, json!({"userId": alice_id, "content": "x", "notificationStyle": {"backgroundColor": 16777215, "textColor": good, "borderColor": good}}))
        .await;
    assert_eq!(
        (number.status, number.json()["errors"][0]["field"].clone()),
        (422, json!("notificationStyle.backgroundColor"))
    );
    let extra = app
        .post(SEND, &admin, json!({"userId": alice_id, "content": "x", "notificationStyle": {"backgroundColor": good, "textColor": good, "borderColor": good, "position": "fixed"}}))
        .await;
    assert_eq!((extra.status, extra.json()["errors"][0]["field"].clone()), (422, json!("notificationStyle.position")));
    assert_eq!(stored(&app), (0, 0, 0));

    // The database refuses the same shapes, behind the validation.
    let mut conn = app.db.conn();
    let insert = |style: &str| {
        format!(
            "INSERT INTO chat_notifications (created_by_admin_id, audience, content, style)
             SELECT id, 'all', 'x', '{style}'::jsonb FROM users WHERE username = 'ada'"
        )
    };
    assert!(
        conn.batch_execute(&insert(r##"{"backgroundColor":"#000000","textColor":"#000000","borderColor":"#000000"}"##))
            .is_ok()
    );
    for bad in [
        r##"{"backgroundColor":"red","textColor":"#000000","borderColor":"#000000"}"##,
        r##"{"backgroundColor":"#fff","textColor":"#000000","borderColor":"#000000"}"##,
        r##"{"backgroundColor":"#ffffff\n","textColor":"#000000","borderColor":"#000000"}"##,
        r##"{"backgroundColor":"#ffffff;x:y","textColor":"#000000","borderColor":"#000000"}"##,
        r##"{"backgroundColor":"#000000","textColor":"#000000"}"##,
        r##"{"backgroundColor":"#000000","textColor":"#000000","borderColor":"#000000","x":"#000000"}"##,
        r##""#000000""##,
    ] {
        assert!(conn.batch_execute(&insert(bad)).is_err(), "the CHECK lets {bad} through");
    }
    let group_insert = conn.batch_execute(
        r##"INSERT INTO chat_groups (name, kind) VALUES ('g', 'other');
            INSERT INTO chat_messages (group_id, sender_type, content, message_type, is_notification, notification_style, notification_id)
            SELECT g.id, 'admin', 'x', 'notification', TRUE, '{"backgroundColor":"red"}', n.id
            FROM chat_groups g, chat_notifications n LIMIT 1"##,
    );
    assert!(group_insert.is_err(), "a notice row with a bad style is refused too");
}

#[tokio::test]
async fn an_all_users_send_reaches_everyone_in_a_few_statements() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    app.db
        .conn()
        .batch_execute(
            "INSERT INTO users (username, display_name) SELECT 'u' || g, 'User ' || g FROM generate_series(1, 500) g;
             -- Some users already have a personal group (one of them without the membership row).
             INSERT INTO chat_groups (name, kind, owner_user_id)
             SELECT 'Personal', 'personal', id FROM users WHERE username IN ('u1', 'u2', 'u3');
             INSERT INTO chat_group_members (group_id, user_id)
             SELECT id, owner_user_id FROM chat_groups WHERE kind = 'personal' AND owner_user_id <> (SELECT id FROM users WHERE username = 'u3');",
        )
        .unwrap();
    let users = app.db.count("SELECT count(*) AS n FROM users");
    let sent = send(
        &app,
        &admin,
        json!({"allUsers": true, "content": "Scheduled maintenance on Sunday", "template": "warning"}),
    )
    .await;
    assert_eq!(sent["recipientCount"], users);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_groups WHERE kind = 'personal'"), users);
    assert_eq!(
        app.db.count(
            "SELECT count(*) AS n FROM chat_groups g WHERE g.kind = 'personal'
               AND EXISTS (SELECT 1 FROM chat_group_members m WHERE m.group_id = g.id AND m.user_id = g.owner_user_id)"
        ),
        users,
        "every owner is a member"
    );
    assert_eq!(
        app.db.count(
            "SELECT count(*) AS n FROM (SELECT group_id FROM chat_messages WHERE is_notification GROUP BY group_id HAVING count(*) = 1) s"
        ),
        users,
        "one notice in each personal group"
    );
    // A second broadcast creates no group and reaches the same users again.
    let again = send(&app, &admin, json!({"allUsers": true, "content": "Done"})).await;
    assert_eq!(again["recipientCount"], users);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_groups WHERE kind = 'personal'"), users);
    let u7 = app.db.count("SELECT id::bigint AS n FROM users WHERE username = 'u7'") as i32;
    let items = page(&app, &chat_tests::token(u7, "user"), personal_group(&app, u7)).await;
    assert_eq!(
        items.iter().map(|m| m["content"].as_str().unwrap()).collect::<Vec<_>>(),
        ["Done", "Scheduled maintenance on Sunday"]
    );
}

#[tokio::test]
async fn a_retry_with_the_same_client_notification_id_creates_nothing() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let ids: Vec<i32> = ["amber", "basil"].iter().map(|n| app.user(n).0).collect();
    let key = uuid::Uuid::new_v4();
    let body = json!({"userIds": ids, "content": "Once", "clientNotificationId": key});
    let first = app.post(SEND, &admin, body.clone()).await;
    assert_eq!(first.status, 201);
    let before = stored(&app);
    let retry = app.post(SEND, &admin, body.clone()).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.json(), first.json());
    assert_eq!(stored(&app), before);

    // Concurrent retries of a new key: one send, everyone gets its id.
    let key = uuid::Uuid::new_v4();
    let body = json!({"allUsers": true, "content": "Twice?", "clientNotificationId": key});
    let replies = join_all((0..8).map(|_| app.post(SEND, &admin, body.clone()))).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1, "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(replies.iter().all(|r| r.status == 200 || r.status == 201));
    assert!(replies.iter().all(|r| r.json()["id"] == replies[0].json()["id"]));
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_messages WHERE content = 'Twice?'"), 3);
}

#[tokio::test]
async fn thirty_two_concurrent_sends_to_a_user_without_a_personal_group_yield_one_group() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let replies = join_all(
        (0..32).map(|i| app.post(SEND, &admin, json!({"userId": alice_id, "content": format!("notice {i}")}))),
    )
    .await;
    assert!(
        replies.iter().all(|r| r.status == 201),
        "{:?}",
        replies.iter().map(|r| (r.status, r.json())).collect::<Vec<_>>()
    );
    assert_eq!(app.db.count(&format!("SELECT count(*) AS n FROM chat_groups WHERE owner_user_id = {alice_id}")), 1);
    let group = personal_group(&app, alice_id);
    assert_eq!(app.db.count(&format!("SELECT count(*) AS n FROM chat_group_members WHERE user_id = {alice_id}")), 1);
    assert_eq!(app.db.count(&format!("SELECT count(*) AS n FROM chat_messages WHERE group_id = {group}")), 32);
    let reply = app.get(&format!("{}?limit=100", messages_path(group)), &alice).await;
    assert_eq!(reply.json()["items"].as_array().unwrap().len(), 32);
}

#[tokio::test]
async fn retracting_removes_a_notice_for_every_recipient_and_keeps_it_in_the_history() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let (amber_id, amber) = app.user("amber");
    let (basil_id, basil) = app.user("basil");
    let keep = send(&app, &admin, json!({"userIds": [amber_id, basil_id], "content": "Stays"})).await;
    let gone = send(
        &app,
        &admin,
        json!({"userIds": [amber_id, basil_id], "content": "Oops, wrong text", "template": "promo"}),
    )
    .await;
    let groups = [(personal_group(&app, amber_id), &amber), (personal_group(&app, basil_id), &basil)];
    for (group, token) in groups {
        assert_eq!(page(&app, token, group).await.len(), 2);
    }
    let path = format!("{SEND}/{}", gone["id"]);
    assert_eq!(app.call("DELETE", &path, Some(&admin), None).await.status, 204);
    for (group, token) in groups {
        let items = page(&app, token, group).await;
        assert_eq!(items.iter().map(|m| m["content"].as_str().unwrap()).collect::<Vec<_>>(), ["Stays"]);
        // The retracted notice is newer than the one left, yet it is not unread.
        let kept = items[0]["id"].as_i64().unwrap();
        let read =
            app.post(&format!("/api/user/chat/groups/{group}/read"), token, json!({"lastReadMessageId": kept})).await;
        assert_eq!(read.json(), json!({"lastReadMessageId": kept, "unreadCount": 0}));
    }
    assert_eq!(app.call("DELETE", &path, Some(&admin), None).await.status, 204, "retracting again changes nothing");
    let missing = app.call("DELETE", &format!("{SEND}/999999"), Some(&admin), None).await;
    assert_eq!((missing.status, missing.code().as_deref()), (404, Some("not_found")));

    let history = app.get(SEND, &admin).await.json();
    let items = history["items"].as_array().unwrap();
    assert_eq!(items[0]["id"], gone["id"]);
    assert_eq!(items[0]["status"], "retracted");
    assert!(items[0]["retractedAt"].is_string());
    assert_eq!(items[1]["id"], keep["id"]);
    assert_eq!(items[1]["status"], "active");
}

#[tokio::test]
async fn expired_notices_disappear_from_pages_and_unread_counts() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let expiring = send(
        &app,
        &admin,
        json!({"userId": alice_id, "content": "Flash sale, one hour", "template": "promo", "expiresAt": later}),
    )
    .await;
    send(&app, &admin, json!({"userId": alice_id, "content": "Forever"})).await;
    let group = personal_group(&app, alice_id);
    let items = page(&app, &alice, group).await;
    assert_eq!(items.len(), 2);
    assert!(items[1]["expiresAt"].is_string());
    let first = items[1]["id"].as_i64().unwrap();

    // Time passes: the notice's expiry is now in the past.
    app.db
        .conn()
        .batch_execute(&format!(
            "UPDATE chat_notifications SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second'
             WHERE id = {}",
            expiring["id"]
        ))
        .unwrap();
    let items = page(&app, &alice, group).await;
    assert_eq!(items.iter().map(|m| m["content"].as_str().unwrap()).collect::<Vec<_>>(), ["Forever"]);
    // A cursor naming the expired notice still works (it is a message of this group).
    let after = app.get(&format!("{}?after={first}", messages_path(group)), &alice).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.json()["items"].as_array().unwrap().len(), 1);
    let read =
        app.post(&format!("/api/user/chat/groups/{group}/read"), &alice, json!({"lastReadMessageId": first})).await;
    assert_eq!(read.json(), json!({"lastReadMessageId": first, "unreadCount": 1}));
    let history = app.get(SEND, &admin).await.json();
    assert_eq!(history["items"][1]["status"], "expired");
}

#[tokio::test]
async fn the_history_filters_by_user_pages_and_counts_reads() {
    let app = TestApp::spawn().await;
    let (ada_id, admin) = app.admin("ada");
    let (amber_id, amber) = app.user("amber");
    let (basil_id, _) = app.user("basil");
    let broadcast = send(&app, &admin, json!({"userIds": [amber_id, basil_id], "content": "To both"})).await;
    let to_basil = send(&app, &admin, json!({"userId": basil_id, "content": "Only Basil"})).await;
    let to_amber = send(&app, &admin, json!({"userId": amber_id, "content": "Only Amber"})).await;

    // Amber reads everything in her personal group.
    let group = personal_group(&app, amber_id);
    let newest = page(&app, &amber, group).await[0]["id"].as_i64().unwrap();
    let read =
        app.post(&format!("/api/user/chat/groups/{group}/read"), &amber, json!({"lastReadMessageId": newest})).await;
    assert_eq!(read.json(), json!({"lastReadMessageId": newest, "unreadCount": 0}));

    let all = app.get(SEND, &admin).await.json();
    let ids: Vec<&Value> = all["items"].as_array().unwrap().iter().map(|n| &n["id"]).collect();
    assert_eq!(ids, [&to_amber["id"], &to_basil["id"], &broadcast["id"]]);
    let first = &all["items"][2];
    assert_eq!(first["audience"], "users");
    assert_eq!((first["recipientCount"].as_i64(), first["readCount"].as_i64()), (Some(2), Some(1)));
    assert_eq!(first["sentBy"]["id"], ada_id);
    assert_eq!(all["items"][0]["audience"], "user");
    assert_eq!(all["items"][0]["targetUser"]["id"], amber_id);
    assert_eq!(all["items"][0]["readCount"], 1);

    let amber_only = app.get(&format!("{SEND}?userId={amber_id}"), &admin).await.json();
    let ids: Vec<&Value> = amber_only["items"].as_array().unwrap().iter().map(|n| &n["id"]).collect();
    assert_eq!(ids, [&to_amber["id"], &broadcast["id"]]);

    let first_page = app.get(&format!("{SEND}?limit=2"), &admin).await.json();
    assert_eq!(first_page["items"].as_array().unwrap().len(), 2);
    let cursor = first_page["nextCursor"].as_i64().unwrap();
    let second = app.get(&format!("{SEND}?limit=2&before={cursor}"), &admin).await.json();
    assert_eq!(second["items"][0]["id"], broadcast["id"]);
    assert_eq!(second["nextCursor"], Value::Null);
    assert_eq!(app.get(&format!("{SEND}?limit=0"), &admin).await.status, 422);
}
