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

#[test]
fn an_existing_apps_tables_and_rows_survive_up_and_down() {
    let db = TestDb::empty();
    db.conn()
        .batch_execute(
            "CREATE TABLE users (id SERIAL PRIMARY KEY, username VARCHAR(64) NOT NULL UNIQUE,
                display_name VARCHAR(128) NOT NULL, email VARCHAR(255), profile_photo_url TEXT,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now());
             INSERT INTO users (username, display_name) VALUES ('legacy', 'Legacy User');",
        )
        .unwrap();
    chat_postgres::run_migrations(&db.url).unwrap();
    assert_eq!(db.count("SELECT count(*) AS n FROM users WHERE username = 'legacy'"), 1);
    chat_postgres::revert_all_migrations(&db.url).unwrap();
    assert_eq!(tables(&db), ["users"], "down drops only what up created");
    assert_eq!(db.count("SELECT count(*) AS n FROM users WHERE username = 'legacy'"), 1);
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
