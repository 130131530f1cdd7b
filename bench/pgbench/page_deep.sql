-- S3 history, a page before a pseudo-random message of the big DM (its ids are the odd numbers).
-- The SQL chat-server runs for this request, captured from PostgreSQL's statement log
-- by bench/capture_sql.sh, with the binds as pgbench variables. Without the
-- user-existence check (cached for 60 s per user, so not part of a steady request).
\set r random(0, 999999)
\set before 2 * :r + 1
BEGIN;
SELECT "direct_messages"."id", "direct_messages"."conversation_type", "direct_messages"."user1_id", "direct_messages"."user2_id", "direct_messages"."user2_type", "direct_messages"."fake_user_id", "direct_messages"."support_status", "direct_messages"."assignee_admin_id", "direct_messages"."waiting_since", "direct_messages"."user1_last_read_id", "direct_messages"."user1_unread", "direct_messages"."user2_last_read_id", "direct_messages"."user2_unread", "direct_messages"."last_message_id", "direct_messages"."last_seq", "direct_messages"."user1_archived_at", "direct_messages"."user2_archived_at", "direct_messages"."last_message_at" FROM "direct_messages" WHERE ("direct_messages"."id" = '101001') LIMIT '1';
SELECT "dm_messages"."seq" FROM "dm_messages" WHERE (("dm_messages"."id" = :before) AND ("dm_messages"."conversation_id" = '101001')) LIMIT '1';
SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.sender_type, m.acting_admin_id, m.content, m.message_type, m.client_message_id, m.created_at, (m.hidden_at IS NOT NULL) AS hidden, CASE m.sender_type WHEN 'real_user' THEN su.display_name WHEN 'fake_user' THEN sp.name END AS sender_name, sa.display_name AS acting_admin_name FROM dm_messages m LEFT JOIN users su ON m.sender_type = 'real_user' AND su.id = m.sender_id LEFT JOIN chat_fake_users sp ON m.sender_type = 'fake_user' AND sp.id = m.sender_id LEFT JOIN users sa ON sa.id = m.acting_admin_id WHERE m.conversation_id = '101001' AND m.seq < COALESCE((SELECT c.seq FROM dm_messages c WHERE c.id = :before AND c.conversation_id = '101001'), 9223372036854775807) ORDER BY m.seq DESC LIMIT '51';
COMMIT;
