//! After the move: the cleanup migration's guard, its revert, and moved history read
//! through the API (persona and team answers without an acting admin).

use chat_postgres::legacy::{self, CleanupOutcome, ExecuteOptions, ExecuteOutcome, LegacyError};
use chat_tests::{TestApp, TestDb};
use diesel::connection::SimpleConnection;
use serde_json::Value;

use crate::legacy_support::{SMALL, checksum, fixture_db};

fn refused(result: Result<CleanupOutcome, LegacyError>) -> String {
    match result {
        Err(LegacyError::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn old_side(db: &TestDb) -> [(i64, String); 3] {
    ["chat_messages", "chat_groups", "chat_group_members"].map(|t| checksum(db, &format!("SELECT * FROM {t}")))
}

#[test]
fn the_cleanup_refuses_before_verification_and_succeeds_after() {
    let db = fixture_db(SMALL);
    let why = refused(legacy::cleanup(&db.url));
    assert!(why.contains("no verified"), "{why}");
    legacy::execute(&db.url, &ExecuteOptions::default(), &mut |_| {}).unwrap();
    let why = refused(legacy::cleanup(&db.url));
    assert!(why.contains("not verified"), "{why}");
    assert!(legacy::verify(&db.url).unwrap().passed());

    // A support message written after the verification blocks the cleanup again.
    db.conn()
        .batch_execute(
            "INSERT INTO chat_messages (group_id, sender_id, sender_type, content, support_conversation_user_id)
             SELECT group_id, sender_id, sender_type, 'late', support_conversation_user_id FROM chat_messages
             WHERE sender_type = 'real_user' AND support_conversation_user_id = sender_id LIMIT 1",
        )
        .unwrap();
    assert!(refused(legacy::cleanup(&db.url)).contains("after the verification"));
    assert!(matches!(
        legacy::execute(&db.url, &ExecuteOptions::default(), &mut |_| {}).unwrap(),
        ExecuteOutcome::Finished { .. }
    ));
    assert!(legacy::verify(&db.url).unwrap().passed());

    let before = old_side(&db);
    assert_eq!(legacy::cleanup(&db.url).unwrap(), CleanupOutcome::Done);
    assert_eq!(legacy::cleanup(&db.url).unwrap(), CleanupOutcome::AlreadyDone);
    let column = "SELECT count(*) AS n FROM information_schema.columns
                  WHERE table_name = 'chat_messages' AND column_name = 'support_conversation_user_id'";
    assert_eq!(db.count(column), 0);
    assert_eq!(db.count("SELECT count(*) AS n FROM chat_groups WHERE kind = 'support'"), 0);
    assert!(db.count("SELECT count(*) AS n FROM chat_legacy_support_archive") > SMALL.messages);
    assert!(chat_postgres::run_migrations(&db.url).unwrap().is_empty(), "`migrate` still works afterwards");
    assert!(matches!(legacy::rollback(&db.url, 2), Err(LegacyError::Refused(_))), "no rollback after cleanup");

    assert_eq!(legacy::revert_cleanup(&db.url).unwrap(), CleanupOutcome::Done);
    assert_eq!(db.count(column), 1);
    assert_eq!(old_side(&db), before, "the revert puts every old row back as it was");
    assert!(legacy::verify(&db.url).unwrap().passed());
}

#[test]
fn the_cleanup_runs_on_a_database_without_old_support_data() {
    let db = TestDb::migrated();
    assert_eq!(legacy::cleanup(&db.url).unwrap(), CleanupOutcome::Done);
    assert_eq!(legacy::revert_cleanup(&db.url).unwrap(), CleanupOutcome::Done);
    assert_eq!(legacy::revert_cleanup(&db.url).unwrap(), CleanupOutcome::AlreadyDone);
}

/// One user's old thread: their question, a persona answer (no acting admin known), a
/// team answer by an admin who still exists and one by an admin who does not.
const THREAD: &str = "
    INSERT INTO chat_fake_users (id, name, is_support_agent) VALUES (901, 'Sam', TRUE);
    INSERT INTO chat_groups (id, name, kind) VALUES (901, 'Support', 'support');
    INSERT INTO chat_messages (group_id, sender_id, sender_type, content, support_conversation_user_id, created_at)
    VALUES (901, $USER, 'real_user', 'Hello, old support?', $USER, '2024-03-01 10:00:00+00'),
           (901, 901, 'fake_user', 'Sam here', $USER, '2024-03-01 10:05:00+00'),
           (901, $ADMIN, 'admin', 'Team answer', $USER, '2024-03-01 10:06:00+00'),
           (901, 777777, 'admin', 'Answer by a departed admin', $USER, '2024-03-01 10:07:00+00');";

#[tokio::test]
async fn moved_history_reads_through_the_api_without_showing_admins_to_users() {
    let app = TestApp::spawn().await;
    let (user, user_token) = app.user("olduser");
    let (admin, admin_token) = app.admin("ada");
    let seed = THREAD.replace("$USER", &user.to_string()).replace("$ADMIN", &admin.to_string());
    app.db.conn().batch_execute(&seed).unwrap();
    legacy::execute(&app.db.url, &ExecuteOptions::default(), &mut |_| {}).unwrap();

    let conversation = app.get("/api/user/chat/support", &user_token).await;
    assert_eq!(conversation.status, 200, "the moved conversation is the user's: {:?}", conversation.json());
    let body = conversation.json();
    assert_eq!(body["header"]["personaName"], "Sam");
    assert_eq!(body["unreadCount"], 0, "moved history counts as read");
    let id = body["id"].as_i64().unwrap();

    let page = app.get("/api/user/chat/support/messages", &user_token).await;
    assert_eq!(page.status, 200, "{:?}", page.json());
    let items = page.json()["items"].as_array().unwrap().clone();
    let contents: Vec<&str> = items.iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["Answer by a departed admin", "Team answer", "Sam here", "Hello, old support?"]);
    let types: Vec<&Value> = items.iter().map(|m| &m["sender"]["type"]).collect();
    assert_eq!(types, ["support", "support", "fake_user", "real_user"]);
    assert!(!page.bytes.windows(4).any(|w| w == b"acti"), "no acting admin in the user's view");

    let admin_page = app.get(&format!("/api/admin/chat/support/{id}/messages"), &admin_token).await.json();
    let acting: Vec<&Value> = admin_page["items"].as_array().unwrap().iter().map(|m| &m["actingAdmin"]).collect();
    assert_eq!(acting[0], &Value::Null, "the departed admin is unknown");
    assert_eq!(acting[1]["id"], admin, "a team answer keeps its admin");
    assert_eq!(acting[2], &Value::Null, "the old support never recorded who spoke as a persona");

    // The conversation goes on after the move: new messages come after the history.
    let sent =
        app.post("/api/user/chat/support/messages", &user_token, serde_json::json!({"content": "Still there?"})).await;
    assert_eq!(sent.status, 201, "{:?}", sent.json());
    let newest = app.get("/api/user/chat/support/messages?limit=1", &user_token).await.json();
    assert_eq!(newest["items"][0]["content"], "Still there?");

    // A rollback keeps a conversation that got a message since, with only that message.
    let undone = legacy::rollback(&app.db.url, 1).unwrap();
    assert_eq!((undone.messages_removed, undone.conversations_kept, undone.conversations_removed), (4, 1, 0));
    let left = app.get("/api/user/chat/support/messages", &user_token).await.json();
    let contents: Vec<&Value> = left["items"].as_array().unwrap().iter().map(|m| &m["content"]).collect();
    assert_eq!(contents, ["Still there?"]);
    assert_eq!(app.db.count(&format!("SELECT last_seq AS n FROM direct_messages WHERE id = {id}")), 1);
    app.stop().await;
}
