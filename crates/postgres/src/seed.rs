//! Demo data for local development (`chat-server seed-demo`). Idempotent.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Int4, Text};

/// Why the demo data could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot seed demo data: {0}")]
pub struct SeedError(#[from] Box<dyn std::error::Error + Send + Sync>);

/// A demo account, for printing development tokens.
#[derive(Debug, Clone, QueryableByName)]
pub struct DemoUser {
    /// Its `users.id`.
    #[diesel(sql_type = Int4)]
    pub id: i32,
    /// Its login name.
    #[diesel(sql_type = Text)]
    pub username: String,
    /// Whether the demo treats it as an admin (the role is in the token, not the table).
    #[diesel(sql_type = Bool)]
    pub is_admin: bool,
}

/// What the demo seed contains.
#[derive(Debug, Clone)]
pub struct DemoData {
    /// Demo users and admins, by id.
    pub users: Vec<DemoUser>,
}

const SEED_SQL: &str = r#"
INSERT INTO users (username, display_name, email, profile_photo_url) VALUES
    ('alice', 'Alice Martin', 'alice@example.com', 'https://i.pravatar.cc/150?u=alice'),
    ('bob', 'Bob Nguyen', 'bob@example.com', 'https://i.pravatar.cc/150?u=bob'),
    ('carol', 'Carol Diaz', 'carol@example.com', 'https://i.pravatar.cc/150?u=carol'),
    ('dave', 'Dave Okafor', 'dave@example.com', NULL),
    ('erin', 'Erin Kowalski', 'erin@example.com', 'https://i.pravatar.cc/150?u=erin'),
    ('ada', 'Ada (Admin)', 'ada@example.com', 'https://i.pravatar.cc/150?u=ada'),
    ('grace', 'Grace (Admin)', 'grace@example.com', 'https://i.pravatar.cc/150?u=grace')
ON CONFLICT (username) DO NOTHING;

INSERT INTO chat_fake_users (name, avatar_url, bio, dm_enabled, is_support_agent)
SELECT v.name, v.avatar_url, v.bio, v.dm_enabled, v.is_support_agent
FROM (VALUES
    ('Sam from Support', 'https://i.pravatar.cc/150?u=sam', 'Here to help, every day.', FALSE, TRUE),
    ('Coach Mia', 'https://i.pravatar.cc/150?u=mia', 'Community coach. Ask me anything.', TRUE, FALSE),
    ('Leo the Guide', 'https://i.pravatar.cc/150?u=leo', 'Shows newcomers around.', TRUE, TRUE)
) AS v(name, avatar_url, bio, dm_enabled, is_support_agent)
WHERE NOT EXISTS (SELECT 1 FROM chat_fake_users p WHERE p.name = v.name);

INSERT INTO chat_groups (name, kind)
SELECT 'Main PEA Communication', 'main'
WHERE NOT EXISTS (SELECT 1 FROM chat_groups WHERE name = 'Main PEA Communication' AND kind = 'main');

INSERT INTO chat_group_members (group_id, user_id)
SELECT g.id, u.id
FROM chat_groups g CROSS JOIN users u
WHERE g.name = 'Main PEA Communication' AND g.kind = 'main'
  AND u.username IN ('alice', 'bob', 'carol', 'dave', 'ada', 'grace')
ON CONFLICT DO NOTHING;

INSERT INTO chat_groups (name, kind, owner_user_id)
SELECT 'Personal', 'personal', u.id
FROM users u
WHERE u.username IN ('alice', 'bob', 'carol', 'dave', 'erin')
  AND NOT EXISTS (SELECT 1 FROM chat_groups g WHERE g.kind = 'personal' AND g.owner_user_id = u.id);

INSERT INTO chat_group_members (group_id, user_id)
SELECT g.id, g.owner_user_id FROM chat_groups g
WHERE g.kind = 'personal' AND g.owner_user_id IS NOT NULL
ON CONFLICT DO NOTHING;
"#;

/// Writes the demo users, admins, personas, main group and personal groups (in one
/// transaction; running it again changes nothing) and returns the demo accounts.
pub fn seed_demo(database_url: &str) -> Result<DemoData, SeedError> {
    let boxed = |e: Box<dyn std::error::Error + Send + Sync>| SeedError(e);
    let mut conn = crate::establish(database_url).map_err(|e| boxed(e.into()))?;
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        conn.batch_execute(SEED_SQL)?;
        let users = diesel::sql_query(
            "SELECT id, username, username IN ('ada', 'grace') AS is_admin FROM users
             WHERE username IN ('alice', 'bob', 'carol', 'dave', 'erin', 'ada', 'grace') ORDER BY id",
        )
        .load::<DemoUser>(conn)?;
        Ok(DemoData { users })
    })
    .map_err(|e| boxed(e.into()))
}
