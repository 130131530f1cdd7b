ALTER TABLE chat_messages
    DROP COLUMN IF EXISTS notification_style,
    DROP COLUMN IF EXISTS is_notification;
DROP TABLE dm_messages;
DROP TABLE direct_messages;
