-- Per-responder and per-assignee stats stored like the overview's (docs/architecture.md,
-- decision 21; docs/admin-guide.md, "Reading the stats").
--
-- Per assignee, every event now counts for the assignee at the moment it happened, so a
-- closed bucket never changes: an opening for the assignee when the episode started, a
-- first response for the assignee when it was given, a resolution for the assignee at
-- the resolution, and each reassignment of an episode in progress moves it out of one
-- admin's backlog into another's at its time. Before, every event of an episode counted
-- for its last assignee, which a reassignment could change months later.
--
-- The new columns and table copy admin ids the conversation row holds (and checks):
-- no foreign keys, so the trigger on the send path checks nothing more.
ALTER TABLE chat_support_episodes
    ADD COLUMN opened_assignee_id INTEGER,
    ADD COLUMN responded_assignee_id INTEGER;
-- Episodes recorded before this migration: their last assignee is the best known.
UPDATE chat_support_episodes
   SET opened_assignee_id = assignee_admin_id,
       responded_assignee_id = CASE WHEN first_response_at IS NOT NULL THEN assignee_admin_id END;

-- The stats read each event with its assignee (covering, so the scans stay index-only);
-- the backlog per assignee at a time also looks each episode's reassignments up by id.
DROP INDEX chat_support_episodes_started;
CREATE INDEX chat_support_episodes_started
    ON chat_support_episodes (started_at) INCLUDE (reopened, first_response_voice, first_response_persona_id,
        opened_assignee_id, resolved_at, id);
DROP INDEX chat_support_episodes_unresolved;
CREATE INDEX chat_support_episodes_unresolved
    ON chat_support_episodes (started_at) INCLUDE (first_response_voice, first_response_persona_id,
        assignee_admin_id, opened_assignee_id, id) WHERE resolved_at IS NULL;
DROP INDEX chat_support_episodes_resolved;
CREATE INDEX chat_support_episodes_resolved
    ON chat_support_episodes (resolved_at) INCLUDE (started_at, first_response_voice, first_response_persona_id,
        assignee_admin_id, opened_assignee_id, id) WHERE resolved_at IS NOT NULL;
DROP INDEX chat_support_episodes_responded;
CREATE INDEX chat_support_episodes_responded
    ON chat_support_episodes (first_response_at) INCLUDE (started_at, first_response_voice,
        first_response_persona_id, responded_assignee_id) WHERE first_response_at IS NOT NULL;

-- Reassignments of episodes in progress, at their time (the conversation's `updated_at`).
CREATE TABLE chat_support_reassignments (
    id BIGSERIAL PRIMARY KEY,
    episode_id BIGINT NOT NULL REFERENCES chat_support_episodes(id) ON DELETE CASCADE,
    moved_at TIMESTAMPTZ NOT NULL,
    from_admin_id INTEGER,
    to_admin_id INTEGER
);
-- Moves per bucket, and an episode's assignee at a time (the backlog at a range's start).
CREATE INDEX chat_support_reassignments_moved
    ON chat_support_reassignments (moved_at) INCLUDE (from_admin_id, to_admin_id);
CREATE INDEX chat_support_reassignments_episode ON chat_support_reassignments (episode_id, moved_at);

CREATE OR REPLACE FUNCTION chat_support_episode_track() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    msg RECORD;
BEGIN
    IF NEW.waiting_since IS NOT NULL AND OLD.waiting_since IS NULL
       AND NEW.last_message_id IS DISTINCT FROM OLD.last_message_id THEN
        INSERT INTO chat_support_episodes (conversation_id, started_at, reopened, assignee_admin_id,
                                           opened_assignee_id)
        SELECT NEW.id, NEW.waiting_since,
               EXISTS (SELECT 1 FROM chat_support_episodes p WHERE p.conversation_id = NEW.id),
               NEW.assignee_admin_id, NEW.assignee_admin_id
        ON CONFLICT (conversation_id) WHERE resolved_at IS NULL DO NOTHING;
    ELSIF NEW.support_status = 'pending' AND OLD.support_status = 'open'
          AND NEW.last_message_id IS DISTINCT FROM OLD.last_message_id THEN
        SELECT sender_type, sender_id, created_at INTO msg FROM dm_messages WHERE id = NEW.last_message_id;
        IF FOUND AND msg.sender_type <> 'real_user' THEN
            UPDATE chat_support_episodes
               SET first_response_at = msg.created_at,
                   first_response_voice = CASE WHEN msg.sender_type = 'fake_user' THEN 'persona' ELSE 'team' END,
                   first_response_persona_id = CASE WHEN msg.sender_type = 'fake_user' THEN msg.sender_id END,
                   responded_assignee_id = NEW.assignee_admin_id
             WHERE conversation_id = NEW.id AND resolved_at IS NULL AND first_response_at IS NULL;
        END IF;
    END IF;
    IF NEW.assignee_admin_id IS DISTINCT FROM OLD.assignee_admin_id THEN
        -- An episode started by this very update already has the new assignee.
        INSERT INTO chat_support_reassignments (episode_id, moved_at, from_admin_id, to_admin_id)
        SELECT id,
               CASE WHEN NEW.updated_at IS DISTINCT FROM OLD.updated_at THEN NEW.updated_at ELSE now() END,
               assignee_admin_id, NEW.assignee_admin_id
          FROM chat_support_episodes
         WHERE conversation_id = NEW.id AND resolved_at IS NULL
           AND assignee_admin_id IS DISTINCT FROM NEW.assignee_admin_id;
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

CREATE OR REPLACE FUNCTION chat_support_episode_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO chat_support_episodes (conversation_id, started_at, reopened, assignee_admin_id, opened_assignee_id)
    VALUES (NEW.id, NEW.waiting_since, false, NEW.assignee_admin_id, NEW.assignee_admin_id)
    ON CONFLICT (conversation_id) WHERE resolved_at IS NULL DO NOTHING;
    RETURN NULL;
END;
$$;

-- Support figures per group of closed buckets, stored once like the overview's: per
-- assignee as soon as the bucket is closed; per responder once it is also *settled*,
-- when no episode started in it is both unanswered and in progress (so its responder,
-- the voice of its first response, is known for good).
CREATE TABLE chat_stats_support_group_buckets (
    bucket_start TIMESTAMPTZ NOT NULL,
    bucket_end TIMESTAMPTZ NOT NULL,
    -- 'responder' or 'assignee'.
    grouped_by VARCHAR(10) NOT NULL CHECK (grouped_by IN ('responder', 'assignee')),
    -- 'persona', 'team', 'unanswered'; or 'assignee', 'unassigned'.
    group_kind VARCHAR(10) NOT NULL,
    -- The persona or admin (0 for the others).
    group_id INTEGER NOT NULL,
    opened BIGINT NOT NULL,
    reopened BIGINT NOT NULL,
    resolved BIGINT NOT NULL,
    responded BIGINT NOT NULL,
    fr50 DOUBLE PRECISION,
    fr90 DOUBLE PRECISION,
    res50 DOUBLE PRECISION,
    res90 DOUBLE PRECISION,
    -- Episodes in progress reassigned to (in) and away from (out) this group.
    moved_in BIGINT NOT NULL,
    moved_out BIGINT NOT NULL,
    PRIMARY KEY (bucket_start, bucket_end, grouped_by, group_kind, group_id)
);
-- Which buckets are stored per grouping (a bucket without events has no group row).
CREATE TABLE chat_stats_support_grouped (
    bucket_start TIMESTAMPTZ NOT NULL,
    bucket_end TIMESTAMPTZ NOT NULL,
    grouped_by VARCHAR(10) NOT NULL CHECK (grouped_by IN ('responder', 'assignee')),
    computed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (bucket_start, bucket_end, grouped_by)
);
