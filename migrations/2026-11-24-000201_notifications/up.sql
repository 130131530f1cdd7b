-- Admin notifications into users' personal groups (seed Phase 1.3, 2.4, 3.4), and the
-- read state of group chats.
--
-- A notification is one row of chat_notifications (who sent it, to whom, its content,
-- style, expiry and retraction) plus one row per recipient in chat_messages, in the
-- recipient's personal group (is_notification, notification_style, notification_id).
-- Retraction and expiry are decided on the notification row, so retracting a notice
-- sent to 100,000 users updates one row; every user view joins it.

-- A colour is exactly `#RRGGBB`. PostgreSQL's `$` matches only at the very end of the
-- string (no newline-sensitive mode), so '#ffffff\n' is refused, as in the domain.
CREATE FUNCTION chat_is_hex_colour(value jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(jsonb_typeof(value) = 'string' AND (value #>> '{}') ~ '^#[0-9a-fA-F]{6}$', FALSE)
$$;

-- A notification style is an object with exactly the three colours.
CREATE FUNCTION chat_is_notification_style(style jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(style) = 'object' THEN
        (style - ARRAY['backgroundColor', 'textColor', 'borderColor']) = '{}'::jsonb
        AND chat_is_hex_colour(style -> 'backgroundColor')
        AND chat_is_hex_colour(style -> 'textColor')
        AND chat_is_hex_colour(style -> 'borderColor')
    ELSE FALSE END
$$;

CREATE TABLE chat_notifications (
    id BIGSERIAL PRIMARY KEY,
    -- The sending admin: shown to admins, never in any user-facing body.
    created_by_admin_id INTEGER NOT NULL REFERENCES users(id),
    audience VARCHAR(10) NOT NULL CHECK (audience IN ('user', 'users', 'all')),
    -- The recipient of a single-user notification (for the admin history).
    target_user_id INTEGER REFERENCES users(id),
    content TEXT NOT NULL CHECK (char_length(content) BETWEEN 1 AND 4000),
    -- The named template the colours came from, or NULL for custom colours.
    template VARCHAR(20) CHECK (template IN ('info', 'success', 'warning', 'promo')),
    style JSONB NOT NULL CHECK (chat_is_notification_style(style)),
    expires_at TIMESTAMPTZ,
    retracted_at TIMESTAMPTZ,
    retracted_by_admin_id INTEGER REFERENCES users(id),
    -- Idempotency key of the sending client: a retry finds this row and creates nothing.
    client_notification_id UUID UNIQUE,
    -- How many personal groups received it (rows in chat_messages).
    recipient_count INTEGER NOT NULL DEFAULT 0 CHECK (recipient_count >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT chat_notifications_target CHECK ((audience = 'user') = (target_user_id IS NOT NULL)),
    CONSTRAINT chat_notifications_expiry CHECK (expires_at IS NULL OR expires_at > created_at),
    CONSTRAINT chat_notifications_retraction CHECK ((retracted_at IS NULL) = (retracted_by_admin_id IS NULL))
);

-- Each per-recipient row points at its notification; retraction and expiry filter by it.
ALTER TABLE chat_messages
    ADD COLUMN notification_id BIGINT REFERENCES chat_notifications(id) ON DELETE CASCADE;
-- Every notice row belongs to a notification. An existing app may have written notices
-- of its own (seed Phase 1.3: `is_notification = TRUE`, any style) that belong to none:
-- migration 2026-11-24-000000 stops `migrate` before anything changes and names them
-- (as `chat-server legacy preflight` does), rather than this CHECK failing. With the
-- operator's decision `chat-server migrate --old-notices keep` (chat.old_notices = 'keep')
-- those rows, and only those (ids up to the newest of them), stay as they are: the
-- constraints exempt them by id, so new rows are held to the rule.
DO $$
DECLARE
    total BIGINT;
    newest INTEGER;
    exempt TEXT := '';
BEGIN
    SELECT count(*), max(id) INTO total, newest FROM chat_messages WHERE is_notification;
    IF total > 0 THEN
        IF current_setting('chat.old_notices', true) IS DISTINCT FROM 'keep' THEN
            -- Migration 2026-11-24-000000 names them before anything changes.
            RAISE EXCEPTION 'refused: % chat_messages rows are notices the existing app wrote (run chat-server legacy preflight)', total;
        END IF;
        exempt := format(' OR (notification_id IS NULL AND id <= %s)', newest);
    END IF;
    EXECUTE 'ALTER TABLE chat_messages
        ADD CONSTRAINT chat_messages_notification_shape
            CHECK (is_notification = (notification_id IS NOT NULL)' || exempt || '),
        ADD CONSTRAINT chat_messages_notification_style
            CHECK (NOT is_notification OR chat_is_notification_style(notification_style)' || exempt || ')';
END
$$;
CREATE INDEX chat_messages_notification_idx
    ON chat_messages (notification_id) WHERE notification_id IS NOT NULL;
-- Group history pages and last-message previews walk (group_id, id). A fresh database
-- got this index from the baseline; an existing app's database may not have it.
CREATE INDEX IF NOT EXISTS chat_messages_group_idx ON chat_messages (group_id, id DESC);

-- One personal group per user: the race-free get-or-create of notifications relies on
-- it (INSERT ... ON CONFLICT DO NOTHING). An existing database with two personal groups
-- for one owner cannot take the index: fail with the owners named, so an operator can
-- merge them first (see docs/legacy-schema.md), rather than with a bare unique violation.
DO $$
DECLARE
    owners TEXT;
BEGIN
    SELECT string_agg(owner_user_id::text, ', ' ORDER BY owner_user_id) INTO owners
    FROM (
        SELECT owner_user_id FROM chat_groups
        WHERE kind = 'personal' GROUP BY owner_user_id HAVING count(*) > 1
    ) dup;
    IF owners IS NOT NULL THEN
        RAISE EXCEPTION 'users with more than one personal group: %', owners
            USING HINT = 'Merge each user''s personal groups into one (see docs/legacy-schema.md), then migrate again.';
    END IF;
END
$$;
CREATE UNIQUE INDEX chat_groups_one_personal_per_owner ON chat_groups (owner_user_id) WHERE kind = 'personal';

-- Each member's read mark in a group: the newest message they have read.
CREATE TABLE chat_group_reads (
    group_id INTEGER NOT NULL REFERENCES chat_groups(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    last_read_message_id BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, user_id)
);
