//! The search index's pending list is merged by the store, off the send path: sends
//! leave their entries pending (which keeps them cheap), the store's thread merges
//! them, and what was merged is still found. Only the index's owner may merge; for
//! any other role the merge asks nothing and says so.

use std::time::{Duration, Instant};

use chat_postgres::{PoolConfig, SearchMerge, merge_search_pending};
use chat_tests::{TestApp, TestDb};
use diesel::connection::SimpleConnection;
use serde_json::json;

const MESSAGES: &str = "/api/user/chat/support/messages";

/// Pages in the GIN index's pending list (`pgstattuple`, which reads without merging).
fn pending_pages(db: &TestDb) -> i64 {
    db.count("SELECT pending_pages::bigint AS n FROM pgstatginindex('dm_messages_content_search')")
}

async fn app_merging_every(interval: Option<Duration>) -> TestApp {
    let db = TestDb::migrated();
    db.conn().batch_execute("CREATE EXTENSION IF NOT EXISTS pgstattuple").unwrap();
    TestApp::spawn_with(db, PoolConfig { search_index_merge: interval, ..PoolConfig::default() }).await
}

/// Alice sends `n` messages mentioning "quokka" to support.
async fn send_quokkas(app: &TestApp, token: &str, n: usize) {
    for i in 0..n {
        let sent = app.post(MESSAGES, token, json!({"content": format!("quokka sighting number {i}")})).await;
        assert_eq!(sent.status, 201, "{}", String::from_utf8_lossy(&sent.bytes));
    }
}

#[tokio::test]
async fn without_the_merge_sends_leave_their_search_entries_pending() {
    let app = app_merging_every(None).await;
    let (_, alice) = app.user("alice");
    send_quokkas(&app, &alice, 20).await;
    assert!(pending_pages(&app.db) > 0, "sends append to the pending list (fastupdate), which the merge empties");
}

#[tokio::test]
async fn the_store_merges_pending_search_entries_and_they_are_still_found() {
    let app = app_merging_every(Some(Duration::from_millis(50))).await;
    let (_, alice) = app.user("alice");
    send_quokkas(&app, &alice, 20).await;

    let started = Instant::now();
    while pending_pages(&app.db) > 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "the store never merged the pending list");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hits = app.get("/api/user/chat/search?q=quokka&limit=50", &alice).await.json();
    assert_eq!(hits["items"].as_array().map(Vec::len), Some(20), "{hits}");
}

#[tokio::test]
async fn only_the_index_owner_merges_and_another_role_is_told_without_an_error() {
    let app = app_merging_every(None).await;
    let (_, alice) = app.user("alice");
    send_quokkas(&app, &alice, 5).await;

    // The server's role as another than the one that ran the migrations (`SET ROLE`:
    // the same check as a connection of that role, whatever the cluster's auth).
    let mut conn = app.db.conn();
    let role = format!("chat_app_{}", &app.db.name[2..14]);
    conn.batch_execute(&format!(
        "CREATE ROLE {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
         SET ROLE {role};"
    ))
    .unwrap();
    let outcome = merge_search_pending(&mut conn);
    let pending = pending_pages(&app.db);
    conn.batch_execute(&format!("RESET ROLE; DROP OWNED BY {role}; DROP ROLE {role}")).unwrap();

    assert!(matches!(outcome, Ok(SearchMerge::NotOwner)), "{outcome:?}");
    assert!(pending > 0, "the other role merged nothing");
    assert!(matches!(merge_search_pending(&mut conn), Ok(SearchMerge::Pages(p)) if p > 0));
    assert_eq!(pending_pages(&app.db), 0);
}

#[tokio::test]
async fn before_the_migrations_there_is_nothing_to_merge_and_no_error() {
    let db = TestDb::empty();
    assert_eq!(merge_search_pending(&mut db.conn()).ok(), Some(SearchMerge::Missing));
}
