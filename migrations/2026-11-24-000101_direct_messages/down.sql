DROP INDEX direct_messages_persona_dm_activity;
ALTER TABLE dm_messages DROP COLUMN content_tsv;
DROP TABLE chat_admin_access_log;
DROP TABLE chat_user_blocks;
