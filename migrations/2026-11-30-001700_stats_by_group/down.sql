DROP TABLE IF EXISTS chat_stats_support_grouped;
DROP TABLE IF EXISTS chat_stats_support_group_buckets;
DROP TABLE IF EXISTS chat_support_reassignments;
-- The functions and indexes of 2026-11-30-001600_support_episodes.
CREATE OR REPLACE FUNCTION chat_support_episode_track() RETURNS trigger
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

CREATE OR REPLACE FUNCTION chat_support_episode_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO chat_support_episodes (conversation_id, started_at, reopened, assignee_admin_id)
    VALUES (NEW.id, NEW.waiting_since, false, NEW.assignee_admin_id)
    ON CONFLICT (conversation_id) WHERE resolved_at IS NULL DO NOTHING;
    RETURN NULL;
END;
$$;

DROP INDEX chat_support_episodes_started;
DROP INDEX chat_support_episodes_responded;
DROP INDEX chat_support_episodes_unresolved;
DROP INDEX chat_support_episodes_resolved;
ALTER TABLE chat_support_episodes DROP COLUMN opened_assignee_id, DROP COLUMN responded_assignee_id;
CREATE INDEX chat_support_episodes_started
    ON chat_support_episodes (started_at) INCLUDE (reopened, first_response_voice, first_response_persona_id,
        assignee_admin_id, resolved_at);
CREATE INDEX chat_support_episodes_responded
    ON chat_support_episodes (first_response_at) INCLUDE (started_at, first_response_voice,
        first_response_persona_id, assignee_admin_id) WHERE first_response_at IS NOT NULL;
CREATE INDEX chat_support_episodes_unresolved
    ON chat_support_episodes (started_at) INCLUDE (first_response_voice, first_response_persona_id,
        assignee_admin_id) WHERE resolved_at IS NULL;
CREATE INDEX chat_support_episodes_resolved
    ON chat_support_episodes (resolved_at) INCLUDE (started_at, first_response_voice, first_response_persona_id,
        assignee_admin_id) WHERE resolved_at IS NOT NULL;
