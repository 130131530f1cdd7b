DROP TABLE chat_group_reads;
DROP INDEX chat_groups_one_personal_per_owner;
DROP INDEX chat_messages_notification_idx;
-- Notification rows would violate nothing after the columns go, but they are the
-- notifications themselves: remove them with their metadata.
DELETE FROM chat_messages WHERE notification_id IS NOT NULL;
ALTER TABLE chat_messages
    DROP CONSTRAINT chat_messages_notification_style,
    DROP CONSTRAINT chat_messages_notification_shape,
    DROP COLUMN notification_id;
DROP TABLE chat_notifications;
DROP FUNCTION chat_is_notification_style(jsonb);
DROP FUNCTION chat_is_hex_colour(jsonb);
