-- The existing app's schema, which this service reads (users, groups, personas) and
-- partly writes (notifications in chat_messages). A fresh database gets it here; an
-- existing database keeps its tables: each table is created only where absent, and the
-- tables this migration created are recorded so that down.sql drops only those.
CREATE TABLE IF NOT EXISTS chat_legacy_baseline (
    table_name TEXT PRIMARY KEY
);

DO $$
BEGIN
    IF to_regclass('public.users') IS NULL THEN
        CREATE TABLE users (
            id SERIAL PRIMARY KEY,
            username VARCHAR(64) NOT NULL UNIQUE,
            display_name VARCHAR(128) NOT NULL,
            email VARCHAR(255),
            profile_photo_url TEXT,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        INSERT INTO chat_legacy_baseline VALUES ('users');
    END IF;

    IF to_regclass('public.chat_fake_users') IS NULL THEN
        CREATE TABLE chat_fake_users (
            id SERIAL PRIMARY KEY,
            name VARCHAR(64) NOT NULL,
            avatar_url TEXT,
            bio TEXT,
            dm_enabled BOOLEAN NOT NULL DEFAULT FALSE,
            is_support_agent BOOLEAN NOT NULL DEFAULT FALSE,
            is_active BOOLEAN NOT NULL DEFAULT TRUE,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        INSERT INTO chat_legacy_baseline VALUES ('chat_fake_users');
    END IF;

    IF to_regclass('public.chat_groups') IS NULL THEN
        CREATE TABLE chat_groups (
            id SERIAL PRIMARY KEY,
            name VARCHAR(128) NOT NULL,
            kind VARCHAR(20) NOT NULL DEFAULT 'other'
                CHECK (kind IN ('main', 'personal', 'support', 'other')),
            owner_user_id INTEGER REFERENCES users(id),
            avatar_url TEXT,
            is_active BOOLEAN NOT NULL DEFAULT TRUE,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        INSERT INTO chat_legacy_baseline VALUES ('chat_groups');
    END IF;

    IF to_regclass('public.chat_group_members') IS NULL THEN
        CREATE TABLE chat_group_members (
            group_id INTEGER NOT NULL REFERENCES chat_groups(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            joined_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (group_id, user_id)
        );
        CREATE INDEX chat_group_members_user_idx ON chat_group_members (user_id, group_id);
        INSERT INTO chat_legacy_baseline VALUES ('chat_group_members');
    END IF;

    IF to_regclass('public.chat_messages') IS NULL THEN
        CREATE TABLE chat_messages (
            id SERIAL PRIMARY KEY,
            group_id INTEGER NOT NULL REFERENCES chat_groups(id) ON DELETE CASCADE,
            sender_id INTEGER,
            sender_type VARCHAR(20) NOT NULL DEFAULT 'real_user'
                CHECK (sender_type IN ('real_user', 'fake_user', 'admin')),
            content TEXT NOT NULL,
            message_type VARCHAR(20) NOT NULL DEFAULT 'text',
            support_conversation_user_id INTEGER,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            is_active BOOLEAN NOT NULL DEFAULT TRUE
        );
        CREATE INDEX chat_messages_group_idx ON chat_messages (group_id, id DESC);
        CREATE INDEX chat_messages_support_user_idx
            ON chat_messages (support_conversation_user_id, id)
            WHERE support_conversation_user_id IS NOT NULL;
        INSERT INTO chat_legacy_baseline VALUES ('chat_messages');
    END IF;
END
$$;
