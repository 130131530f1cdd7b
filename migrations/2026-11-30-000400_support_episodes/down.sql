DROP TABLE IF EXISTS chat_stats_dm_buckets;
DROP TABLE IF EXISTS chat_stats_support_buckets;
DROP INDEX IF EXISTS chat_notifications_created;
DROP INDEX IF EXISTS dm_messages_created_brin;
DROP INDEX IF EXISTS direct_messages_dm_created;
DROP TRIGGER IF EXISTS chat_support_episode_track ON direct_messages;
DROP FUNCTION IF EXISTS chat_support_episode_track();
DROP TABLE IF EXISTS chat_support_episodes;
