//! The schema behind notifications: one personal group per user, also on an existing
//! app's database, where the migration refuses clearly rather than half-applying.

use chat_tests::TestDb;
use diesel::connection::SimpleConnection;

const LEGACY: &str = "
    CREATE TABLE users (id SERIAL PRIMARY KEY, username VARCHAR(64) NOT NULL UNIQUE,
        display_name VARCHAR(128) NOT NULL, email VARCHAR(255), profile_photo_url TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    CREATE TABLE chat_groups (id SERIAL PRIMARY KEY, name VARCHAR(128) NOT NULL,
        kind VARCHAR(20) NOT NULL DEFAULT 'other', owner_user_id INTEGER REFERENCES users(id),
        avatar_url TEXT, is_active BOOLEAN NOT NULL DEFAULT TRUE, created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    INSERT INTO users (username, display_name) VALUES ('legacy', 'Legacy'), ('twice', 'Twice');
    INSERT INTO chat_groups (name, kind, owner_user_id) VALUES
        ('Personal', 'personal', 1), ('Personal', 'personal', 2), ('Personal again', 'personal', 2);
";

#[test]
fn an_existing_database_with_two_personal_groups_for_one_user_is_refused_with_the_owner_named() {
    let db = TestDb::empty();
    db.conn().batch_execute(LEGACY).unwrap();
    let err = chat_postgres::run_migrations(&db.url).unwrap_err().to_string();
    assert!(err.contains("more than one personal group: 2"), "{err}");
    assert_eq!(db.count("SELECT count(*) AS n FROM chat_groups"), 3, "nothing was changed");
    assert_eq!(
        db.count("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'chat_notifications'"),
        0
    );

    // Once an operator merged the duplicates, the migration applies.
    db.conn().batch_execute("DELETE FROM chat_groups WHERE name = 'Personal again'").unwrap();
    chat_postgres::run_migrations(&db.url).unwrap();
    assert_eq!(db.count("SELECT count(*) AS n FROM chat_groups WHERE kind = 'personal'"), 2);
}

#[test]
fn the_schema_allows_one_personal_group_per_user_and_no_notice_without_its_notification() {
    let db = TestDb::migrated();
    let user = db.insert_user("alice");
    let mut conn = db.conn();
    conn.batch_execute(&format!(
        "INSERT INTO chat_groups (name, kind, owner_user_id) VALUES ('Personal', 'personal', {user})"
    ))
    .unwrap();
    let second = conn.batch_execute(&format!(
        "INSERT INTO chat_groups (name, kind, owner_user_id) VALUES ('Mine too', 'personal', {user})"
    ));
    assert!(second.is_err());
    conn.batch_execute(&format!(
        "INSERT INTO chat_groups (name, kind, owner_user_id) VALUES ('Club', 'other', {user})"
    ))
    .unwrap();
    let orphan_notice = conn.batch_execute(
        "INSERT INTO chat_messages (group_id, sender_type, content, message_type, is_notification, notification_style)
         SELECT id, 'admin', 'x', 'notification', TRUE,
                '{\"backgroundColor\":\"#000000\",\"textColor\":\"#000000\",\"borderColor\":\"#000000\"}'
         FROM chat_groups LIMIT 1",
    );
    assert!(orphan_notice.is_err(), "a notice row must name its notification");
}
