-- Support episodes: the facts the admin stats need and the conversation row forgets
-- (when a user started waiting after a resolution, when staff first answered, when it
-- was resolved). One row per episode, kept by a trigger on `direct_messages`, so the
-- send statements stay as they are (docs/architecture.md, decision 19).
--
-- An episode starts at the first user message while no episode is in progress (first
-- contact, or after a resolution: a reopen) and ends when the conversation is resolved.
CREATE TABLE chat_support_episodes (
    id BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES direct_messages(id) ON DELETE CASCADE,
    -- The user message that started it (its `created_at`).
    started_at TIMESTAMPTZ NOT NULL,
    -- Not the conversation's first episode: the user wrote again after a resolution.
    reopened BOOLEAN NOT NULL,
    -- The first staff message after `started_at`, and its voice.
    first_response_at TIMESTAMPTZ,
    first_response_voice VARCHAR(10) CHECK (first_response_voice IN ('persona', 'team')),
    first_response_persona_id INTEGER REFERENCES chat_fake_users(id),
    resolved_at TIMESTAMPTZ,
    -- The conversation's assignee while the episode was in progress (the last one).
    assignee_admin_id INTEGER REFERENCES users(id),
    CONSTRAINT chat_support_episodes_response CHECK (
        (first_response_at IS NULL AND first_response_voice IS NULL AND first_response_persona_id IS NULL)
        OR (first_response_voice = 'team' AND first_response_at IS NOT NULL AND first_response_persona_id IS NULL)
        OR (first_response_voice = 'persona' AND first_response_at IS NOT NULL
            AND first_response_persona_id IS NOT NULL)
    )
);
-- At most one episode in progress per conversation.
CREATE UNIQUE INDEX chat_support_episodes_in_progress
    ON chat_support_episodes (conversation_id) WHERE resolved_at IS NULL;
-- The backlog at a time: episodes in progress now that had started by then ...
CREATE INDEX chat_support_episodes_unresolved
    ON chat_support_episodes (started_at) INCLUDE (first_response_voice, first_response_persona_id,
        assignee_admin_id) WHERE resolved_at IS NULL;
-- The stats read each event by its time (covering, so the scans are index-only).
CREATE INDEX chat_support_episodes_started
    ON chat_support_episodes (started_at) INCLUDE (reopened, first_response_voice, first_response_persona_id,
        assignee_admin_id, resolved_at);
CREATE INDEX chat_support_episodes_responded
    ON chat_support_episodes (first_response_at) INCLUDE (started_at, first_response_voice,
        first_response_persona_id, assignee_admin_id) WHERE first_response_at IS NOT NULL;
-- ... and episodes resolved since then (which also serves resolutions by time).
CREATE INDEX chat_support_episodes_resolved
    ON chat_support_episodes (resolved_at) INCLUDE (started_at, first_response_voice, first_response_persona_id,
        assignee_admin_id) WHERE resolved_at IS NOT NULL;

-- The transitions, read from what the send and lifecycle statements already write:
-- * a user message sets `waiting_since` (NULL -> its time) and moves `last_message_id`;
-- * a staff message clears `waiting_since` and makes the conversation `pending`, moving
--   `last_message_id` (an admin setting `pending` by hand moves no message: no response);
-- * resolving (by an admin or the idle timer) sets `resolved` and `updated_at`.
CREATE FUNCTION chat_support_episode_track() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    msg RECORD;
BEGIN
    IF NEW.waiting_since IS NOT NULL AND OLD.waiting_since IS NULL
       AND NEW.last_message_id IS DISTINCT FROM OLD.last_message_id THEN
        INSERT INTO chat_support_episodes (conversation_id, started_at, reopened, assignee_admin_id)
        SELECT NEW.id, NEW.waiting_since,
               EXISTS (SELECT 1 FROM chat_support_episodes p WHERE p.conversation_id = NEW.id),
               NEW.assignee_admin_id
        ON CONFLICT (conversation_id) WHERE resolved_at IS NULL DO NOTHING;
    ELSIF NEW.support_status = 'pending' AND OLD.support_status = 'open'
          AND NEW.last_message_id IS DISTINCT FROM OLD.last_message_id THEN
        SELECT sender_type, sender_id, created_at INTO msg FROM dm_messages WHERE id = NEW.last_message_id;
        IF FOUND AND msg.sender_type <> 'real_user' THEN
            UPDATE chat_support_episodes
               SET first_response_at = msg.created_at,
                   first_response_voice = CASE WHEN msg.sender_type = 'fake_user' THEN 'persona' ELSE 'team' END,
                   first_response_persona_id = CASE WHEN msg.sender_type = 'fake_user' THEN msg.sender_id END
             WHERE conversation_id = NEW.id AND resolved_at IS NULL AND first_response_at IS NULL;
        END IF;
    END IF;
    IF NEW.support_status = 'resolved' AND OLD.support_status <> 'resolved' THEN
        UPDATE chat_support_episodes SET resolved_at = NEW.updated_at, assignee_admin_id = NEW.assignee_admin_id
         WHERE conversation_id = NEW.id AND resolved_at IS NULL;
    ELSIF NEW.assignee_admin_id IS DISTINCT FROM OLD.assignee_admin_id THEN
        UPDATE chat_support_episodes SET assignee_admin_id = NEW.assignee_admin_id
         WHERE conversation_id = NEW.id AND resolved_at IS NULL;
    END IF;
    RETURN NULL;
END;
$$;

-- The WHEN clause keeps DMs and support updates that change none of these columns (a
-- read mark, an archive) from calling the function at all.
CREATE TRIGGER chat_support_episode_track
    AFTER UPDATE ON direct_messages
    FOR EACH ROW
    WHEN (NEW.conversation_type = 'support' AND (
        OLD.waiting_since IS DISTINCT FROM NEW.waiting_since
        OR OLD.support_status IS DISTINCT FROM NEW.support_status
        OR OLD.assignee_admin_id IS DISTINCT FROM NEW.assignee_admin_id))
    EXECUTE FUNCTION chat_support_episode_track();

-- A support conversation created with a user already waiting (the legacy support
-- migration creates them so) starts its episode at that wait.
CREATE FUNCTION chat_support_episode_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO chat_support_episodes (conversation_id, started_at, reopened, assignee_admin_id)
    VALUES (NEW.id, NEW.waiting_since, false, NEW.assignee_admin_id)
    ON CONFLICT (conversation_id) WHERE resolved_at IS NULL DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER chat_support_episode_on_insert
    AFTER INSERT ON direct_messages
    FOR EACH ROW
    WHEN (NEW.conversation_type = 'support' AND NEW.waiting_since IS NOT NULL)
    EXECUTE FUNCTION chat_support_episode_on_insert();

-- Conversations waiting now get their episode (earlier history is not reconstructed:
-- the stats of support start with this migration; docs/admin-guide.md).
INSERT INTO chat_support_episodes (conversation_id, started_at, reopened, assignee_admin_id)
SELECT id, waiting_since, false, assignee_admin_id
  FROM direct_messages
 WHERE conversation_type = 'support' AND support_status = 'open' AND waiting_since IS NOT NULL;

-- DM and notice figures by time: new DMs by creation time, messages by time.
CREATE INDEX direct_messages_dm_created
    ON direct_messages (created_at) INCLUDE (user2_type, fake_user_id) WHERE conversation_type = 'user_dm';
-- Messages by time: a BRIN index (a few pages, next to nothing per insert), since ids and
-- times grow together in an append-only table.
CREATE INDEX dm_messages_created_brin ON dm_messages USING BRIN (created_at);
CREATE INDEX chat_notifications_created ON chat_notifications (created_at);

-- Figures of closed buckets (ended more than 10 minutes ago), written by the first
-- report that reads them: an event counts in the bucket holding its time, and no event
-- is written into the past, so a closed bucket never changes (docs/architecture.md,
-- decision 19). A bucket is its exact [start, end).
CREATE TABLE chat_stats_support_buckets (
    bucket_start TIMESTAMPTZ NOT NULL,
    bucket_end TIMESTAMPTZ NOT NULL,
    opened BIGINT NOT NULL,
    reopened BIGINT NOT NULL,
    resolved BIGINT NOT NULL,
    responded BIGINT NOT NULL,
    fr50 DOUBLE PRECISION,
    fr90 DOUBLE PRECISION,
    res50 DOUBLE PRECISION,
    res90 DOUBLE PRECISION,
    computed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (bucket_start, bucket_end)
);
-- DM figures of closed buckets: `persona_id` 0 is every DM (its row marks the bucket as
-- computed), other rows one persona's DMs (only personas with activity).
CREATE TABLE chat_stats_dm_buckets (
    bucket_start TIMESTAMPTZ NOT NULL,
    bucket_end TIMESTAMPTZ NOT NULL,
    persona_id INTEGER NOT NULL,
    new_user_dms BIGINT NOT NULL,
    new_persona_dms BIGINT NOT NULL,
    active_users BIGINT NOT NULL,
    user_to_user BIGINT NOT NULL,
    user_to_persona BIGINT NOT NULL,
    persona_to_user BIGINT NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (bucket_start, bucket_end, persona_id)
);
