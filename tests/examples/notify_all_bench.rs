//! Measures one notice sent to every user, end to end over HTTP, on a fresh database
//! with `--users N` users (default 100,000): the first send (every personal group is
//! created) and a second one (groups exist), then retraction, the admin history with
//! read counts, and a recipient's page. Prints timings, reach, rows written and database growth.
//!
//! ```sh
//! cargo run --release -p chat-tests --example notify_all_bench -- --users 100000
//! ```

#![expect(clippy::unwrap_used, reason = "a benchmark: a panic is a failed run")]

use std::time::Instant;

use chat_tests::{TestApp, token};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde_json::json;

#[derive(QueryableByName)]
struct Bytes {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The size of this database (tables and indexes), in bytes.
fn db_size(conn: &mut PgConnection) -> i64 {
    diesel::sql_query("SELECT pg_database_size(current_database())::bigint AS n").get_result::<Bytes>(conn).unwrap().n
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let users: i64 =
        args.iter().position(|a| a == "--users").and_then(|i| args.get(i + 1)).map_or(100_000, |n| n.parse().unwrap());
    let app = TestApp::spawn().await;
    let mut conn = app.db.conn();
    let seeded = Instant::now();
    conn.batch_execute(&format!(
        "INSERT INTO users (username, display_name) SELECT 'u' || g, 'User ' || g FROM generate_series(1, {users}) g;
         ANALYZE users;"
    ))
    .unwrap();
    println!("seeded {users} users in {:.2?}", seeded.elapsed());
    let (admin_id, admin) = app.admin("bench-admin");
    let rows = |app: &TestApp| {
        (
            app.db.count("SELECT count(*) AS n FROM chat_groups WHERE kind = 'personal'"),
            app.db.count("SELECT count(*) AS n FROM chat_group_members"),
            app.db.count("SELECT count(*) AS n FROM chat_messages"),
        )
    };

    let mut last_id = 0;
    let sends = [
        ("first send (creates every personal group)", "Welcome"),
        ("second send (groups exist)", "Again"),
        ("third send (groups exist)", "Once more"),
    ];
    for (label, content) in sends {
        let before = rows(&app);
        let size = db_size(&mut conn);
        let started = Instant::now();
        let reply = app
            .post(
                "/api/admin/chat/notifications",
                &admin,
                json!({"allUsers": true, "content": content, "template": "info"}),
            )
            .await;
        let elapsed = started.elapsed();
        assert_eq!(reply.status, 201, "{:?}", reply.json());
        let after = rows(&app);
        last_id = reply.json()["id"].as_i64().unwrap();
        println!(
            "{label}: {elapsed:.2?}, reach {}, rows written: {} personal groups + {} memberships + {} notices + 1 notification; database grew {:.1} MiB",
            reply.json()["recipientCount"],
            after.0 - before.0,
            after.1 - before.1,
            after.2 - before.2,
            (db_size(&mut conn) - size) as f64 / (1024.0 * 1024.0)
        );
    }
    conn.batch_execute("ANALYZE").unwrap();

    // Half the users read everything, so the history's read counts have work to do.
    conn.batch_execute(
        "INSERT INTO chat_group_reads (group_id, user_id, last_read_message_id)
         SELECT g.id, g.owner_user_id, (SELECT max(m.id) FROM chat_messages m WHERE m.group_id = g.id)
         FROM chat_groups g WHERE g.kind = 'personal' AND g.owner_user_id % 2 = 0",
    )
    .unwrap();
    let started = Instant::now();
    let history = app.get("/api/admin/chat/notifications", &admin).await;
    println!(
        "admin history (3 notices, read counts over {users} recipients each): {:.2?}, read counts {:?}",
        started.elapsed(),
        history.json()["items"].as_array().unwrap().iter().map(|n| n["readCount"].clone()).collect::<Vec<_>>()
    );

    let user = admin_id - 1;
    let group = app.db.count(&format!("SELECT id::bigint AS n FROM chat_groups WHERE owner_user_id = {user}"));
    let started = Instant::now();
    let page = app.get(&format!("/api/user/chat/groups/{group}/messages"), &token(user, "user")).await;
    println!(
        "a recipient's page: {:.2?} ({} notices)",
        started.elapsed(),
        page.json()["items"].as_array().unwrap().len()
    );

    let started = Instant::now();
    let retract = app.call("DELETE", &format!("/api/admin/chat/notifications/{last_id}"), Some(&admin), None).await;
    assert_eq!(retract.status, 204);
    println!("retraction (gone for {users} recipients): {:.2?}", started.elapsed());
    app.stop().await;
}
