//! `legacy fixture --old-app`: an existing app's database written the way the plan
//! writes its own SQL, for the tests and the runbook rehearsal: `TIMESTAMP` without time
//! zone, nullable columns, no CHECKs, a table of the old app's own pointing at messages
//! with a cascading foreign key, notices the old app already sent, and a database time
//! zone other than UTC (Europe/Berlin).
//!
//! It must be written into an **empty** database, before `chat-server migrate` (which
//! keeps these tables as they are). Deterministic except for the "recent" threads,
//! whose times are relative to now (a user still waiting today).
//!
//! Users 1..=40 (ids as numbered), admins 41 and 42, personas 1 ("Sam", support agent),
//! 2 ("Old Bot", retired) and 3 ("Léa", support agent). Groups: 1 main, 2 and 3 support,
//! 10 + n the personal group of user n (for n <= 5). Every user but 10, 20, 30 and 40 has
//! an old support thread of 6 messages in group `2 + n % 2`, starting at
//! `2024-03-01 10:00` local time plus n days (for n divisible by 3 the user has the last
//! word); users 31..=35 wrote today (the last message is minutes old; 35's was deleted). Special rows, by id:
//!
//! | id | row |
//! |---|---|
//! | 1001 | user 1's question at 2024-03-01 10:00 Berlin (09:00 UTC) |
//! | 1002 | `sender_type = 'system'` in user 3's thread ("conversation closed") |
//! | 1003 | NULL content (user 4) |
//! | 1004 | NULL created_at (user 5) |
//! | 1005 | NULL is_active (user 6) |
//! | 1006 | NULL message_type (user 7) |
//! | 1007 | a notice (`is_notification = TRUE`) in user 9's support thread |
//! | 2001..=2005 | notices in the personal groups of users 1..5 |
//! | 3001 | an ordinary message in the main group |
//!
//! Reactions (`chat_message_reactions`): on 1001, on each thread's second message, and on
//! 3001.

use diesel::Connection;
use diesel::connection::SimpleConnection;

use super::{LegacyError, connect};

/// The old app's tables, in the plan's style.
const SCHEMA: &str = "
    CREATE TABLE users (
        id SERIAL PRIMARY KEY,
        username VARCHAR(64) UNIQUE,
        display_name VARCHAR(128),
        email VARCHAR(255),
        profile_photo_url TEXT,
        created_at TIMESTAMP DEFAULT NOW()
    );
    CREATE TABLE chat_fake_users (
        id SERIAL PRIMARY KEY,
        name VARCHAR(64),
        avatar_url TEXT,
        bio TEXT,
        dm_enabled BOOLEAN DEFAULT FALSE,
        is_support_agent BOOLEAN DEFAULT FALSE,
        is_active BOOLEAN DEFAULT TRUE,
        created_at TIMESTAMP DEFAULT NOW(),
        updated_at TIMESTAMP DEFAULT NOW()
    );
    CREATE TABLE chat_groups (
        id SERIAL PRIMARY KEY,
        name VARCHAR(128),
        kind VARCHAR(20) DEFAULT 'other',
        owner_user_id INTEGER REFERENCES users(id),
        avatar_url TEXT,
        is_active BOOLEAN DEFAULT TRUE,
        created_at TIMESTAMP DEFAULT NOW()
    );
    CREATE TABLE chat_group_members (
        group_id INTEGER NOT NULL REFERENCES chat_groups(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        joined_at TIMESTAMP DEFAULT NOW(),
        PRIMARY KEY (group_id, user_id)
    );
    CREATE TABLE chat_messages (
        id SERIAL PRIMARY KEY,
        group_id INTEGER REFERENCES chat_groups(id) ON DELETE CASCADE,
        sender_id INTEGER,
        sender_type VARCHAR(20) DEFAULT 'real_user',
        content TEXT,
        message_type VARCHAR(20) DEFAULT 'text',
        support_conversation_user_id INTEGER,
        created_at TIMESTAMP DEFAULT NOW(),
        is_active BOOLEAN DEFAULT TRUE,
        is_notification BOOLEAN DEFAULT FALSE,
        notification_style JSONB DEFAULT '{}'
    );
    CREATE TABLE chat_message_reactions (
        id SERIAL PRIMARY KEY,
        message_id INTEGER REFERENCES chat_messages(id) ON DELETE CASCADE,
        user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
        emoji VARCHAR(16),
        created_at TIMESTAMP DEFAULT NOW()
    );";

/// The old app's rows (times are local: the database's zone is Europe/Berlin).
const DATA: &str = "
    INSERT INTO users (id, username, display_name, email, created_at)
    SELECT n, 'old' || n, 'Old Üser ' || n, 'old' || n || '@example.com', timestamp '2023-01-01 12:00' + n * interval '1 day'
    FROM generate_series(1, 40) n;
    INSERT INTO users (id, username, display_name) VALUES (41, 'oldadmin1', 'Admin One'), (42, 'oldadmin2', 'Admin Two');
    SELECT setval('users_id_seq', 42);
    INSERT INTO chat_fake_users (id, name, bio, is_support_agent, is_active)
    VALUES (1, 'Sam', 'old persona', TRUE, TRUE), (2, 'Old Bot', NULL, TRUE, FALSE), (3, 'Léa', NULL, TRUE, TRUE);
    SELECT setval('chat_fake_users_id_seq', 3);
    INSERT INTO chat_groups (id, name, kind) VALUES (1, 'Main PEA Communication', 'main'),
        (2, 'Support A', 'support'), (3, 'Support B', 'support');
    INSERT INTO chat_groups (id, name, kind, owner_user_id) SELECT 10 + n, 'Personal', 'personal', n FROM generate_series(1, 5) n;
    SELECT setval('chat_groups_id_seq', 20);
    INSERT INTO chat_group_members (group_id, user_id)
    SELECT 1, n FROM generate_series(1, 42) n
    UNION ALL SELECT 2 + n % 2, n FROM generate_series(1, 40) n
    UNION ALL SELECT g, a FROM generate_series(2, 3) g, generate_series(41, 42) a
    UNION ALL SELECT 10 + n, n FROM generate_series(1, 5) n;

    -- Threads: question, persona answer, follow-up, team answer, thanks, persona close.
    INSERT INTO chat_messages (id, group_id, sender_id, sender_type, content, message_type,
                               support_conversation_user_id, created_at, is_active)
    SELECT 10 * n + k, 2 + n % 2,
           CASE k WHEN 2 THEN 1 + n % 2 * 2 WHEN 4 THEN 41 + n % 2 WHEN 6 THEN 1 ELSE n END,
           CASE k WHEN 2 THEN 'fake_user' WHEN 4 THEN 'admin' WHEN 6 THEN 'fake_user' ELSE 'real_user' END,
           CASE k WHEN 1 THEN 'Hallo, ich brauche Hilfe #' || n WHEN 3 THEN E'Noch eine Frage\\nZeile 2'
                  WHEN 5 THEN 'Danke 🙏' ELSE 'Antwort ' || k || ' für ' || n END,
           'text', n,
           CASE WHEN n BETWEEN 31 AND 35 THEN date_trunc('second', localtimestamp) - (7 - k) * interval '10 minutes'
                ELSE timestamp '2024-03-01 10:00' + n * interval '1 day' + k * interval '7 minutes' END,
           k <> 5 OR n % 7 <> 0
    FROM generate_series(1, 40) n, generate_series(1, 6) k
    WHERE n % 10 <> 0 AND NOT (n % 3 = 0 AND k = 6) AND NOT (n BETWEEN 31 AND 35 AND k = 6);

    INSERT INTO chat_messages (id, group_id, sender_id, sender_type, content, message_type,
                               support_conversation_user_id, created_at, is_active, is_notification, notification_style)
    VALUES (1001, 3, 1, 'real_user', 'Frage um zehn', 'text', 1, timestamp '2024-03-01 10:00', TRUE, FALSE, '{}'),
           (1002, 3, 41, 'system', 'Konversation geschlossen', 'text', 3, timestamp '2024-03-04 12:00', TRUE, FALSE, '{}'),
           (1003, 2, 4, 'real_user', NULL, 'text', 4, timestamp '2024-03-05 12:00', TRUE, FALSE, '{}'),
           (1004, 3, 5, 'real_user', 'ohne Zeit', 'text', 5, NULL, TRUE, FALSE, '{}'),
           (1005, 2, 6, 'real_user', 'ohne Status', 'text', 6, timestamp '2024-03-07 12:00', NULL, FALSE, '{}'),
           (1006, 3, 7, 'real_user', 'ohne Typ', NULL, 7, timestamp '2024-03-08 12:00', TRUE, FALSE, '{}'),
           (1007, 3, 41, 'admin', 'Wartungsarbeiten heute Nacht', 'text', 9, timestamp '2024-03-10 12:00', TRUE, TRUE,
            '{\"backgroundColor\": \"#fff3cd\", \"textColor\": \"#856404\", \"borderColor\": \"#ffeeba\"}'),
           (3001, 1, 2, 'real_user', 'Hallo zusammen', 'text', NULL, timestamp '2024-02-01 09:00', TRUE, FALSE, '{}');
    INSERT INTO chat_messages (id, group_id, sender_id, sender_type, content, support_conversation_user_id, created_at,
                               is_notification, notification_style)
    SELECT 2000 + n, 10 + n, 41, 'admin', 'Neuigkeiten für dich ' || n, NULL, timestamp '2024-04-01 08:00' + n * interval '1 hour',
           TRUE, '{}'
    FROM generate_series(1, 5) n;
    SELECT setval('chat_messages_id_seq', 5000);

    INSERT INTO chat_message_reactions (message_id, user_id, emoji, created_at)
    SELECT 10 * n + 2, n, '👍', timestamp '2024-03-02 10:00' + n * interval '1 day'
    FROM generate_series(1, 40) n WHERE n % 10 <> 0
    UNION ALL VALUES (1001, 41, '👀', timestamp '2024-03-01 10:05'), (3001, 3, '❤️', timestamp '2024-02-01 09:30');";

/// Writes the old app's schema and rows into an empty database and sets the
/// database's time zone to Europe/Berlin (new sessions read it).
pub fn old_app_fixture(database_url: &str) -> Result<(), LegacyError> {
    let mut conn = connect(database_url)?;
    conn.batch_execute(
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET TimeZone = %L', current_database(), 'Europe/Berlin'); END $$",
    )?;
    // This session was opened before the setting: write local times in that zone too.
    conn.batch_execute("SET TimeZone = 'Europe/Berlin'")?;
    conn.transaction::<_, LegacyError, _>(|conn| {
        conn.batch_execute(SCHEMA)?;
        conn.batch_execute(DATA)?;
        Ok(())
    })
}
