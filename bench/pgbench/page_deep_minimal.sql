-- S3 floor: a page before a pseudo-random message of the big DM.
-- The least PostgreSQL work that returns the same rows as the server's request: the
-- one statement that returns them (no access check, no transaction), run prepared.
\set r random(0, 999999)
\set before 2 * :r + 1
SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.sender_type, m.acting_admin_id, m.content, m.message_type, m.client_message_id, m.created_at, (m.hidden_at IS NOT NULL) AS hidden, CASE m.sender_type WHEN 'real_user' THEN su.display_name WHEN 'fake_user' THEN sp.name END AS sender_name, sa.display_name AS acting_admin_name FROM dm_messages m LEFT JOIN users su ON m.sender_type = 'real_user' AND su.id = m.sender_id LEFT JOIN chat_fake_users sp ON m.sender_type = 'fake_user' AND sp.id = m.sender_id LEFT JOIN users sa ON sa.id = m.acting_admin_id WHERE m.conversation_id = '101001' AND m.seq < COALESCE((SELECT c.seq FROM dm_messages c WHERE c.id = :before AND c.conversation_id = '101001'), 9223372036854775807) ORDER BY m.seq DESC LIMIT '51';
