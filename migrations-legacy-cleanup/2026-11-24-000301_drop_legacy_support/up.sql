-- Seed 5.2: removes the old support model once its history lives in the support
-- conversations. Every removed row is kept, as JSON, in chat_legacy_support_archive, so
-- that down.sql can put it back (and the unmovable rows are never lost).
DO $$
DECLARE
    verified RECORD;
BEGIN
    IF to_regclass('chat_support_migration_batches') IS NULL THEN
        RAISE EXCEPTION 'refused: the chat schema is not up to date (run chat-server migrate)';
    END IF;
    IF EXISTS (SELECT 1 FROM chat_support_migration_batches WHERE finished_at IS NULL AND rolled_back_at IS NULL) THEN
        RAISE EXCEPTION 'refused: a support migration batch is unfinished (run chat-server legacy migrate-support --execute)';
    END IF;
    IF EXISTS (SELECT 1 FROM chat_support_migration_batches WHERE rolled_back_at IS NULL AND verified_at IS NULL) THEN
        RAISE EXCEPTION 'refused: a support migration batch is not verified (run chat-server legacy verify-support)';
    END IF;
    SELECT * INTO verified FROM chat_support_migration_batches
        WHERE rolled_back_at IS NULL AND verified_at IS NOT NULL ORDER BY verified_at DESC LIMIT 1;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM chat_messages cm LEFT JOIN chat_groups g ON g.id = cm.group_id
                   WHERE cm.support_conversation_user_id IS NOT NULL OR g.kind = 'support') THEN
            RAISE EXCEPTION 'refused: no verified support migration batch is recorded (run chat-server legacy migrate-support --execute, then verify-support)';
        END IF;
    ELSIF EXISTS (SELECT 1 FROM chat_messages cm LEFT JOIN chat_groups g ON g.id = cm.group_id
                  WHERE cm.id > verified.verified_max_message_id
                    AND (cm.support_conversation_user_id IS NOT NULL OR g.kind = 'support')) THEN
        RAISE EXCEPTION 'refused: support messages arrived after the verification (run migrate-support --execute and verify-support again)';
    END IF;
END
$$;

CREATE TABLE chat_legacy_support_archive (
    source TEXT NOT NULL CHECK (source IN ('chat_groups', 'chat_group_members', 'chat_messages')),
    row_data JSONB NOT NULL,
    archived_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO chat_legacy_support_archive (source, row_data)
SELECT 'chat_groups', to_jsonb(g) FROM chat_groups g WHERE g.kind = 'support';
INSERT INTO chat_legacy_support_archive (source, row_data)
SELECT 'chat_group_members', to_jsonb(m) FROM chat_group_members m
JOIN chat_groups g ON g.id = m.group_id WHERE g.kind = 'support';
INSERT INTO chat_legacy_support_archive (source, row_data)
SELECT 'chat_messages', to_jsonb(cm) FROM chat_messages cm LEFT JOIN chat_groups g ON g.id = cm.group_id
WHERE cm.support_conversation_user_id IS NOT NULL OR g.kind = 'support';

DELETE FROM chat_messages cm USING chat_groups g WHERE g.id = cm.group_id AND g.kind = 'support';
DELETE FROM chat_group_members m USING chat_groups g WHERE g.id = m.group_id AND g.kind = 'support';
DELETE FROM chat_groups WHERE kind = 'support';
ALTER TABLE chat_messages DROP COLUMN support_conversation_user_id;
