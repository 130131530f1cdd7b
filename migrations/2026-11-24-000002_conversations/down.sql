-- Drop only the chat_messages columns up.sql added (recorded in chat_legacy_baseline):
-- an existing app that already had is_notification / notification_style keeps them and
-- their data. A database migrated before this bookkeeping existed has no record, so its
-- columns are kept too: keeping a column is recoverable, dropping one is not.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM chat_legacy_baseline WHERE table_name = 'chat_messages.notification_style') THEN
        ALTER TABLE chat_messages DROP COLUMN notification_style;
    END IF;
    IF EXISTS (SELECT 1 FROM chat_legacy_baseline WHERE table_name = 'chat_messages.is_notification') THEN
        ALTER TABLE chat_messages DROP COLUMN is_notification;
    END IF;
    DELETE FROM chat_legacy_baseline
        WHERE table_name IN ('chat_messages.notification_style', 'chat_messages.is_notification');
END
$$;
DROP TABLE dm_messages;
DROP TABLE direct_messages;
