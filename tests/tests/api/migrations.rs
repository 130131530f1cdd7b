//! Every migration runs up, down and up again; an existing app's tables survive.

use chat_tests::TestDb;
use diesel::connection::SimpleConnection;

fn tables(db: &TestDb) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    use diesel::RunQueryDsl;
    diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' ORDER BY 1",
    )
    .load::<Name>(&mut db.conn())
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect()
}

#[test]
fn migrations_go_up_down_and_up_again() {
    let db = TestDb::empty();
    let applied = chat_postgres::run_migrations(&db.url).unwrap();
    assert!(applied.len() >= 2, "{applied:?}");
    let up = tables(&db);
    for table in [
        "users",
        "chat_groups",
        "chat_group_members",
        "chat_messages",
        "chat_fake_users",
        "direct_messages",
        "dm_messages",
    ] {
        assert!(up.contains(&table.to_owned()), "{table} missing after up: {up:?}");
    }
    let reverted = chat_postgres::revert_all_migrations(&db.url).unwrap();
    assert_eq!(reverted.len(), applied.len());
    assert!(tables(&db).is_empty(), "a fresh database is empty after down: {:?}", tables(&db));
    chat_postgres::run_migrations(&db.url).unwrap();
    assert_eq!(tables(&db), up);
    assert!(chat_postgres::run_migrations(&db.url).unwrap().is_empty(), "nothing left to apply");
}

fn columns(db: &TestDb, table: &str) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    use diesel::RunQueryDsl;
    diesel::sql_query(format!(
        "SELECT column_name::text AS name FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position"
    ))
    .load::<Name>(&mut db.conn())
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect()
}

/// The existing app's users, groups and group messages, with rows.
const EXISTING_APP: &str = "
    CREATE TABLE users (id SERIAL PRIMARY KEY, username VARCHAR(64) NOT NULL UNIQUE,
        display_name VARCHAR(128) NOT NULL, email VARCHAR(255), profile_photo_url TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    INSERT INTO users (username, display_name) VALUES ('legacy', 'Legacy User');
    CREATE TABLE chat_groups (id SERIAL PRIMARY KEY, name VARCHAR(128) NOT NULL,
        kind VARCHAR(20) NOT NULL DEFAULT 'other', owner_user_id INTEGER REFERENCES users(id),
        avatar_url TEXT, is_active BOOLEAN NOT NULL DEFAULT TRUE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    INSERT INTO chat_groups (name, kind) VALUES ('Main PEA Communication', 'main');
    CREATE TABLE chat_messages (id SERIAL PRIMARY KEY,
        group_id INTEGER NOT NULL REFERENCES chat_groups(id) ON DELETE CASCADE,
        sender_id INTEGER, sender_type VARCHAR(20) NOT NULL DEFAULT 'real_user',
        content TEXT NOT NULL, message_type VARCHAR(20) NOT NULL DEFAULT 'text',
        support_conversation_user_id INTEGER, created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        is_active BOOLEAN NOT NULL DEFAULT TRUE";

#[test]
fn an_existing_apps_tables_and_rows_survive_up_and_down() {
    let db = TestDb::empty();
    // The existing app already has the Phase 1.3 columns, with data of its own.
    db.conn()
        .batch_execute(&format!(
            "{EXISTING_APP},
                is_notification BOOLEAN NOT NULL DEFAULT FALSE,
                notification_style JSONB NOT NULL DEFAULT '{{}}');
             INSERT INTO chat_messages (group_id, sender_id, content, notification_style)
                VALUES (1, 1, 'hello from the old app', '{{\"banner\": \"blue\"}}');"
        ))
        .unwrap();
    let before = columns(&db, "chat_messages");
    let kept = "SELECT count(*) AS n FROM chat_messages
                WHERE content = 'hello from the old app' AND NOT is_notification
                  AND notification_style = '{\"banner\": \"blue\"}'";
    chat_postgres::run_migrations(&db.url).unwrap();
    assert_eq!(db.count("SELECT count(*) AS n FROM users WHERE username = 'legacy'"), 1);
    assert_eq!(db.count(kept), 1);
    chat_postgres::revert_all_migrations(&db.url).unwrap();
    assert_eq!(tables(&db), ["chat_groups", "chat_messages", "users"], "down drops only what up created");
    assert_eq!(columns(&db, "chat_messages"), before, "down keeps the app's own columns");
    assert_eq!(db.count("SELECT count(*) AS n FROM users WHERE username = 'legacy'"), 1);
    assert_eq!(db.count(kept), 1, "the app's data in is_notification/notification_style survives");
    // And up again works on what down left.
    chat_postgres::run_migrations(&db.url).unwrap();
    assert_eq!(db.count(kept), 1);
}

#[test]
fn down_removes_the_notification_columns_that_up_added_to_an_existing_app() {
    let db = TestDb::empty();
    db.conn()
        .batch_execute(&format!(
            "{EXISTING_APP});
             INSERT INTO chat_messages (group_id, sender_id, content) VALUES (1, 1, 'old');"
        ))
        .unwrap();
    let before = columns(&db, "chat_messages");
    chat_postgres::run_migrations(&db.url).unwrap();
    let up = columns(&db, "chat_messages");
    assert!(up.contains(&"is_notification".to_owned()) && up.contains(&"notification_style".to_owned()), "{up:?}");
    chat_postgres::revert_all_migrations(&db.url).unwrap();
    assert_eq!(columns(&db, "chat_messages"), before, "the app's table is back to its own shape");
    assert_eq!(db.count("SELECT count(*) AS n FROM chat_messages WHERE content = 'old'"), 1);
}

#[test]
fn the_schema_enforces_one_support_conversation_per_user_and_one_dm_per_pair() {
    let db = TestDb::migrated();
    let a = db.insert_user("a");
    let b = db.insert_user("b");
    let mut conn = db.conn();
    conn.batch_execute(&format!(
        "INSERT INTO direct_messages (conversation_type, user1_id, user2_type, support_status)
         VALUES ('support', {a}, 'support', 'open')"
    ))
    .unwrap();
    let second_support = conn.batch_execute(&format!(
        "INSERT INTO direct_messages (conversation_type, user1_id, user2_type, support_status)
         VALUES ('support', {a}, 'support', 'open')"
    ));
    assert!(second_support.is_err());
    let (lo, hi) = (a.min(b), a.max(b));
    conn.batch_execute(&format!(
        "INSERT INTO direct_messages (conversation_type, user1_id, user2_id, user2_type)
         VALUES ('user_dm', {lo}, {hi}, 'real_user')"
    ))
    .unwrap();
    let same_pair = conn.batch_execute(&format!(
        "INSERT INTO direct_messages (conversation_type, user1_id, user2_id, user2_type)
         VALUES ('user_dm', {lo}, {hi}, 'real_user')"
    ));
    assert!(same_pair.is_err());
    let reversed_pair = conn.batch_execute(&format!(
        "INSERT INTO direct_messages (conversation_type, user1_id, user2_id, user2_type)
         VALUES ('user_dm', {hi}, {lo}, 'real_user')"
    ));
    assert!(reversed_pair.is_err(), "the pair has one spelling (user1 < user2)");
}
