//! `legacy fixture`: fills a database with old-style support data, for tests and for
//! measuring the move at scale. Deterministic: the same spec gives the same rows.
//!
//! Users `n` (1-based, per fixture): every 25th has no old messages; `n % 25 = 1` and
//! `n % 100 = 50` already have a new-style support conversation with 3 messages (the
//! latter no old ones), `n % 50 = 2` an empty one. Messages come in threads of 4 per
//! owner, the first two at the same instant; ids do not follow time. Among them, by
//! message number `g`: users, personas (one inactive), admins (one deleted) as senders;
//! long (~4000 characters) and unicode content, multi-line text, images, rows deleted
//! in the old app; and rows that must not move: NULL or unknown owner, no sender,
//! another user as sender, unknown persona, empty or over-long content, a sticker.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::{LegacyError, connect};

/// How much to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixtureSpec {
    /// Users (at least 100).
    pub users: i32,
    /// Old support messages.
    pub messages: i64,
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixtureSummary {
    /// Users created.
    pub users: i64,
    /// Old support messages created.
    pub messages: i64,
    /// New-style support conversations created.
    pub conversations: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Writes the fixture in one transaction, next to whatever the database holds.
pub fn fixture(database_url: &str, spec: FixtureSpec) -> Result<FixtureSummary, LegacyError> {
    if spec.users < 100 || spec.messages < 1 {
        return Err(LegacyError::Refused("a fixture needs at least 100 users and 1 message".to_owned()));
    }
    let mut conn = connect(database_url)?;
    conn.transaction(|conn| {
        conn.batch_execute(&people_sql(spec.users))?;
        conn.batch_execute(&messages_sql(spec.users, spec.messages))?;
        conn.batch_execute(NEW_STYLE_SQL)?;
        let count = |conn: &mut PgConnection, sql: &str| diesel::sql_query(sql).get_result::<Count>(conn).map(|c| c.n);
        Ok(FixtureSummary {
            users: count(conn, "SELECT count(*) AS n FROM fx_users")?,
            messages: spec.messages,
            conversations: count(
                conn,
                "SELECT count(*) AS n FROM direct_messages d JOIN fx_users u ON u.id = d.user1_id",
            )?,
        })
    })
}

fn people_sql(users: i32) -> String {
    format!(
        "CREATE TEMP TABLE fx_users (n INT PRIMARY KEY, id INT NOT NULL) ON COMMIT DROP;
         CREATE TEMP TABLE fx_admins (n INT PRIMARY KEY, id INT NOT NULL) ON COMMIT DROP;
         CREATE TEMP TABLE fx_personas (n INT PRIMARY KEY, id INT NOT NULL) ON COMMIT DROP;
         CREATE TEMP TABLE fx_groups (n INT PRIMARY KEY, id INT NOT NULL) ON COMMIT DROP;
         CREATE TEMP TABLE fx_base ON COMMIT DROP AS SELECT COALESCE(max(id), 0) AS base FROM users;
         WITH ins AS (
            INSERT INTO users (username, display_name, email, profile_photo_url)
            SELECT 'legacy_' || b.base || '_' || g, 'Légacy Üser ' || g, 'legacy' || g || '@example.com',
                   'https://cdn.example.com/u/' || g || '.png'
            FROM generate_series(1, {users}) g, fx_base b ORDER BY g RETURNING id, username)
         INSERT INTO fx_users SELECT split_part(username, '_', 3)::int, id FROM ins;
         WITH ins AS (
            INSERT INTO users (username, display_name)
            SELECT 'legacyadmin_' || b.base || '_' || g, 'Admin ' || g FROM generate_series(1, 5) g, fx_base b
            ORDER BY g RETURNING id, username)
         INSERT INTO fx_admins SELECT split_part(username, '_', 3)::int, id FROM ins;
         WITH ins AS (
            INSERT INTO chat_fake_users (name, bio, is_support_agent, is_active)
            VALUES ('Sam from Support', 'Légacy persona 1', TRUE, TRUE), ('Léa 🌸', 'Légacy persona 2', TRUE, TRUE),
                   ('Kim', 'Légacy persona 3', TRUE, TRUE), ('Old Bot', 'Légacy persona 4', TRUE, FALSE)
            RETURNING id, bio)
         INSERT INTO fx_personas SELECT split_part(bio, ' ', 3)::int, id FROM ins;
         WITH ins AS (
            INSERT INTO chat_groups (name, kind)
            SELECT 'Support ' || g || ' (légacy)', 'support' FROM generate_series(1, 3) g ORDER BY g
            RETURNING id, name)
         INSERT INTO fx_groups SELECT split_part(name, ' ', 2)::int, id FROM ins;
         INSERT INTO chat_group_members (group_id, user_id)
         SELECT g.id, u.id FROM fx_users u JOIN fx_groups g ON g.n = 1 + u.n % 3
         UNION ALL SELECT g.id, a.id FROM fx_admins a CROSS JOIN fx_groups g;"
    )
}

fn messages_sql(users: i32, messages: i64) -> String {
    format!(
        "INSERT INTO chat_messages (group_id, sender_id, sender_type, content, message_type,
                                    support_conversation_user_id, created_at, is_active)
         SELECT grp.id,
                CASE WHEN g % 5000 = 17 THEN NULL
                     WHEN g % 2000 = 6 THEN other.id
                     WHEN g % 5000 = 27 THEN 999999999
                     WHEN g % 3000 = 18 THEN 888888888
                     WHEN k < 5 THEN o.id
                     WHEN k = 8 THEN adm.id
                     ELSE per.id END,
                CASE WHEN g % 5000 IN (17, 27) THEN 'fake_user'
                     WHEN g % 2000 = 6 THEN 'real_user'
                     WHEN g % 3000 = 18 THEN 'admin'
                     WHEN k < 5 THEN 'real_user' WHEN k = 8 THEN 'admin' ELSE 'fake_user' END,
                CASE WHEN g % 1000 = 1 THEN repeat('x', 4001)
                     WHEN g % 1000 = 2 THEN ''
                     WHEN g % 300 = 7 THEN 'https://cdn.example.com/img/' || g || '.png'
                     WHEN g % 50 = 0 THEN left(repeat('Grüße aus Köln 👋🏽 — ошибка 支持 ', 200), 3990 + (g % 10)::int)
                     WHEN g % 7 = 0 THEN 'مرحبا، أحتاج مساعدة #' || g || ' 🙏'
                     WHEN g % 11 = 0 THEN E'line one\\nline two\\t#' || g
                     ELSE 'Support message #' || g END,
                CASE WHEN g % 300 = 7 THEN 'image' WHEN g % 5000 = 37 THEN 'sticker' ELSE 'text' END,
                CASE WHEN g % 500 = 3 THEN NULL WHEN g % 500 = 4 THEN 1000000000 + (g % 1000000)::int ELSE o.id END,
                timestamptz '2024-01-01 00:00:00+00' + b * interval '37 seconds'
                    + (CASE WHEN g % 4 IN (1, 2) THEN 0 ELSE g % 4 END) * interval '1 second'
                    + (g % 3) * interval '1 microsecond' * (g % 4 / 3),
                g % 200 <> 5
         FROM (SELECT g, g % 10 AS k, (g - 1) / 4 AS b,
                      1 + ((((g - 1) / 4) * 2654435761) % 4294967296) % {users} AS raw
               FROM generate_series(1::bigint, {messages}) g) s
         CROSS JOIN LATERAL (SELECT CASE WHEN s.raw % 25 = 0 THEN s.raw - 1 ELSE s.raw END AS n) own
         JOIN fx_users o ON o.n = own.n
         JOIN fx_users other ON other.n = 1 + own.n % {users}
         JOIN fx_admins adm ON adm.n = 1 + g % 5
         JOIN fx_personas per ON per.n = CASE WHEN k = 7 THEN 1 + (g / 10) % 4 WHEN k = 9 THEN 1 ELSE 1 + (g / 10) % 3 END
         JOIN fx_groups grp ON grp.n = 1 + own.n % 3
         ORDER BY (g * 7919) % {messages}, g;"
    )
}

/// Support conversations that already exist in the new model, with read state.
const NEW_STYLE_SQL: &str = "
    INSERT INTO direct_messages (conversation_type, user1_id, user2_type, fake_user_id, support_status,
                                 created_at, last_message_at)
    SELECT 'support', u.id, 'support', p.id, 'open', timestamptz '2026-01-01 00:00:00+00',
           timestamptz '2026-01-01 00:00:00+00'
    FROM fx_users u JOIN fx_personas p ON p.n = 1
    WHERE u.n % 25 = 1 OR u.n % 100 = 50 OR u.n % 50 = 2 ORDER BY u.n;
    INSERT INTO dm_messages (conversation_id, seq, sender_id, sender_type, acting_admin_id, content, created_at)
    SELECT d.id, s, CASE s WHEN 2 THEN p.id ELSE u.id END, CASE s WHEN 2 THEN 'fake_user' ELSE 'real_user' END,
           CASE s WHEN 2 THEN a.id END, 'New-style message ' || s,
           timestamptz '2026-01-01 00:00:00+00' + s * interval '1 minute'
    FROM fx_users u JOIN direct_messages d ON d.conversation_type = 'support' AND d.user1_id = u.id
    JOIN fx_personas p ON p.n = 1 JOIN fx_admins a ON a.n = 1 CROSS JOIN generate_series(1, 3) s
    WHERE u.n % 25 = 1 OR u.n % 100 = 50 ORDER BY d.id, s;
    UPDATE direct_messages d SET last_seq = 3,
        last_message_id = (SELECT id FROM dm_messages m WHERE m.conversation_id = d.id AND m.seq = 3),
        last_message_at = timestamptz '2026-01-01 00:03:00+00', waiting_since = timestamptz '2026-01-01 00:03:00+00',
        user1_last_read_id = (SELECT id FROM dm_messages m WHERE m.conversation_id = d.id AND m.seq = 2),
        user1_unread = 0, user2_last_read_id = 0, user2_unread = 2
    FROM fx_users u WHERE d.user1_id = u.id AND d.conversation_type = 'support' AND (u.n % 25 = 1 OR u.n % 100 = 50);";
