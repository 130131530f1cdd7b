-- One-to-one conversations (seed Phase 1.1 and 1.2), improved where the spec needs it.
--
-- A conversation has two sides. Side 1 is always a real user (`user1_id`): the owner of
-- a support conversation, the user of a persona DM, or the lower id of a user-to-user DM
-- (so an unordered pair has exactly one spelling). Side 2 is the other user
-- (`user2_type = 'real_user'`), a persona (`'fake_user'`), or the support team
-- (`'support'`); for the latter two, every admin shares side 2's read state.
CREATE TABLE direct_messages (
    id BIGSERIAL PRIMARY KEY,
    conversation_type VARCHAR(20) NOT NULL
        CHECK (conversation_type IN ('support', 'user_dm')),
    user1_id INTEGER NOT NULL REFERENCES users(id),
    user2_id INTEGER REFERENCES users(id),
    user2_type VARCHAR(20) NOT NULL
        CHECK (user2_type IN ('real_user', 'fake_user', 'support')),
    -- The persona of a persona DM, or the persona shown in a support conversation's header.
    fake_user_id INTEGER REFERENCES chat_fake_users(id),
    -- Support lifecycle (NULL for DMs).
    support_status VARCHAR(20) CHECK (support_status IN ('open', 'pending', 'resolved')),
    assignee_admin_id INTEGER REFERENCES users(id),
    -- When the oldest user message that no admin has answered yet arrived.
    waiting_since TIMESTAMPTZ,
    -- Read state per side: the last message id read, and the count of the other side's
    -- messages after it (kept in the send transaction, so lists never count rows).
    user1_last_read_id BIGINT NOT NULL DEFAULT 0,
    user1_unread INTEGER NOT NULL DEFAULT 0 CHECK (user1_unread >= 0),
    user2_last_read_id BIGINT NOT NULL DEFAULT 0,
    user2_unread INTEGER NOT NULL DEFAULT 0 CHECK (user2_unread >= 0),
    user1_archived_at TIMESTAMPTZ,
    user2_archived_at TIMESTAMPTZ,
    last_message_id BIGINT,
    -- The seq of the newest message: the next one gets last_seq + 1, under the row lock.
    last_seq BIGINT NOT NULL DEFAULT 0,
    -- Last activity: the last message's time, or the creation time before any message.
    last_message_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    CONSTRAINT direct_messages_shape CHECK (
        (conversation_type = 'support' AND user2_type = 'support' AND user2_id IS NULL
            AND support_status IS NOT NULL)
        OR (conversation_type = 'user_dm' AND user2_type = 'real_user' AND user2_id IS NOT NULL
            AND user1_id < user2_id AND fake_user_id IS NULL AND support_status IS NULL
            AND assignee_admin_id IS NULL)
        OR (conversation_type = 'user_dm' AND user2_type = 'fake_user' AND user2_id IS NULL
            AND fake_user_id IS NOT NULL AND support_status IS NULL AND assignee_admin_id IS NULL)
    )
);

-- Uniqueness without a NULL hole: each partial index covers only NOT NULL columns.
CREATE UNIQUE INDEX direct_messages_one_support_per_user
    ON direct_messages (user1_id) WHERE conversation_type = 'support';
CREATE UNIQUE INDEX direct_messages_one_dm_per_pair
    ON direct_messages (user1_id, user2_id) WHERE user2_type = 'real_user';
CREATE UNIQUE INDEX direct_messages_one_dm_per_persona
    ON direct_messages (user1_id, fake_user_id) WHERE user2_type = 'fake_user';

-- A user's conversations by last activity, from either side (keyset order).
CREATE INDEX direct_messages_user1_activity
    ON direct_messages (user1_id, last_message_at DESC, id DESC);
CREATE INDEX direct_messages_user2_activity
    ON direct_messages (user2_id, last_message_at DESC, id DESC) WHERE user2_id IS NOT NULL;
-- The admin support queue: users waiting for an answer, longest waiting first.
CREATE INDEX direct_messages_support_waiting
    ON direct_messages (waiting_since, id)
    WHERE conversation_type = 'support' AND support_status = 'open' AND waiting_since IS NOT NULL;
-- The admin support queue filtered by another status, by last activity.
CREATE INDEX direct_messages_support_status_activity
    ON direct_messages (support_status, last_message_at DESC, id DESC)
    WHERE conversation_type = 'support';
-- The admin support queue over every status, by last activity.
CREATE INDEX direct_messages_support_activity
    ON direct_messages (last_message_at DESC, id DESC)
    WHERE conversation_type = 'support';
-- The admin DM list over all DMs, by last activity.
CREATE INDEX direct_messages_dm_activity
    ON direct_messages (last_message_at DESC, id DESC) WHERE conversation_type = 'user_dm';

CREATE TABLE dm_messages (
    id BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES direct_messages(id) ON DELETE CASCADE,
    -- Position in the conversation: 1, 2, 3... with no gap, assigned under the
    -- conversation's row lock, so it follows commit order.
    seq BIGINT NOT NULL,
    -- real_user: a user id; fake_user: a persona id; admin: the admin answering as the team.
    sender_id INTEGER NOT NULL,
    sender_type VARCHAR(20) NOT NULL CHECK (sender_type IN ('real_user', 'fake_user', 'admin')),
    -- The admin who wrote a persona or team message: kept for audit, shown to admins only.
    acting_admin_id INTEGER REFERENCES users(id),
    content TEXT NOT NULL CHECK (char_length(content) BETWEEN 1 AND 4000),
    message_type VARCHAR(20) NOT NULL DEFAULT 'text'
        CHECK (message_type IN ('text', 'image', 'link', 'notification')),
    is_notification BOOLEAN NOT NULL DEFAULT FALSE,
    -- Idempotency key chosen by the client; a retry returns the stored row.
    client_message_id UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    hidden_at TIMESTAMPTZ,
    hidden_by_admin_id INTEGER REFERENCES users(id),
    hidden_reason TEXT,
    CONSTRAINT dm_messages_acting_admin CHECK ((sender_type = 'real_user') = (acting_admin_id IS NULL))
);

-- History pages (keyset on seq within a conversation), unread recounts, resume.
-- Lists order by seq, which no other index yields, so the planner cannot walk the
-- primary key and filter by conversation (a pitfall with one busy conversation).
CREATE UNIQUE INDEX dm_messages_conversation_seq ON dm_messages (conversation_id, seq);
CREATE UNIQUE INDEX dm_messages_client_id_idx
    ON dm_messages (conversation_id, client_message_id) WHERE client_message_id IS NOT NULL;

-- Seed Phase 1.3: notifications in the existing groups' message table. An existing app
-- may already have these columns (with its data): each is added only where absent, and
-- the ones added here are recorded in chat_legacy_baseline (as 'table.column'), so that
-- down.sql drops only those and never an existing app's column.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = 'chat_messages'::regclass AND attname = 'is_notification'
                     AND NOT attisdropped) THEN
        ALTER TABLE chat_messages ADD COLUMN is_notification BOOLEAN NOT NULL DEFAULT FALSE;
        INSERT INTO chat_legacy_baseline VALUES ('chat_messages.is_notification');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = 'chat_messages'::regclass AND attname = 'notification_style'
                     AND NOT attisdropped) THEN
        ALTER TABLE chat_messages ADD COLUMN notification_style JSONB NOT NULL DEFAULT '{}';
        INSERT INTO chat_legacy_baseline VALUES ('chat_messages.notification_style');
    END IF;
END
$$;
