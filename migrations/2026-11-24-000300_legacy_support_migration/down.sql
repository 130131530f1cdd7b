-- Moved rows are history users can see: refuse rather than drop them silently.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM dm_messages WHERE legacy_message_id IS NOT NULL) THEN
        RAISE EXCEPTION 'moved support messages exist: run chat-server legacy rollback-support first';
    END IF;
END
$$;
DROP TABLE chat_support_migration_conversations;
DROP TABLE chat_support_migration_batches;
ALTER TABLE dm_messages DROP CONSTRAINT dm_messages_acting_admin;
ALTER TABLE dm_messages ADD CONSTRAINT dm_messages_acting_admin
    CHECK ((sender_type = 'real_user') = (acting_admin_id IS NULL));
ALTER TABLE dm_messages DROP COLUMN legacy_batch_id, DROP COLUMN legacy_message_id;
