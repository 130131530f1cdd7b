-- Puts the old support model back from the archive, rows and ids as they were.
ALTER TABLE chat_messages ADD COLUMN support_conversation_user_id INTEGER;
INSERT INTO chat_groups
SELECT (jsonb_populate_record(NULL::chat_groups, row_data)).* FROM chat_legacy_support_archive
WHERE source = 'chat_groups';
INSERT INTO chat_group_members
SELECT (jsonb_populate_record(NULL::chat_group_members, row_data)).* FROM chat_legacy_support_archive
WHERE source = 'chat_group_members';
INSERT INTO chat_messages
SELECT (jsonb_populate_record(NULL::chat_messages, a.row_data)).* FROM chat_legacy_support_archive a
WHERE a.source = 'chat_messages'
  AND NOT EXISTS (SELECT 1 FROM chat_messages cm WHERE cm.id = (a.row_data->>'id')::int);
UPDATE chat_messages cm SET support_conversation_user_id = (a.row_data->>'support_conversation_user_id')::int
FROM chat_legacy_support_archive a
WHERE a.source = 'chat_messages' AND cm.id = (a.row_data->>'id')::int;
-- Rows of other tables that pointed at them (reactions, read marks...).
DO $$
DECLARE
    src TEXT;
BEGIN
    FOR src IN SELECT DISTINCT source FROM chat_legacy_support_archive
               WHERE source NOT IN ('chat_groups', 'chat_group_members', 'chat_messages') ORDER BY 1
    LOOP
        EXECUTE format('INSERT INTO %s SELECT (jsonb_populate_record(NULL::%s, row_data)).* FROM chat_legacy_support_archive WHERE source = %L',
                       src, src, src);
    END LOOP;
END
$$;
CREATE INDEX IF NOT EXISTS chat_messages_support_user_idx
    ON chat_messages (support_conversation_user_id, id) WHERE support_conversation_user_id IS NOT NULL;
DROP TABLE chat_legacy_support_archive;
