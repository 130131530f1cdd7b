-- Direct messages: blocks, the staff access log, full-text search, moderation.

-- A user who blocks another: the blocked user can neither start a DM with the blocker
-- nor post in their existing one.
CREATE TABLE chat_user_blocks (
    blocker_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX chat_user_blocks_blocked ON chat_user_blocks (blocked_id, blocker_id);

-- Every admin read of a DM's messages, so the community can be told truthfully that
-- staff access to private messages is recorded.
CREATE TABLE chat_admin_access_log (
    id BIGSERIAL PRIMARY KEY,
    admin_id INTEGER NOT NULL REFERENCES users(id),
    conversation_id BIGINT NOT NULL REFERENCES direct_messages(id) ON DELETE CASCADE,
    action VARCHAR(20) NOT NULL CHECK (action IN ('read_messages', 'search')),
    accessed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX chat_admin_access_log_recent ON chat_admin_access_log (id DESC);
CREATE INDEX chat_admin_access_log_conversation ON chat_admin_access_log (conversation_id, id DESC);
CREATE INDEX chat_admin_access_log_admin ON chat_admin_access_log (admin_id, id DESC);

-- Full-text search over messages. 'simple' does no stemming: the community writes in
-- more than one language, and a wrong stemmer is worse than none.
ALTER TABLE dm_messages
    ADD COLUMN content_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED;
CREATE INDEX dm_messages_content_search ON dm_messages USING GIN (content_tsv);

-- The persona-DM queue for admins: user-to-persona conversations by last activity.
CREATE INDEX direct_messages_persona_dm_activity
    ON direct_messages (fake_user_id, last_message_at DESC, id DESC) WHERE user2_type = 'fake_user';
