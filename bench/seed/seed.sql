-- Deterministic benchmark seed (no random()): run after `chat-server migrate` on an
-- empty database. Shapes (see docs/performance.md):
--   users 1..200000 (1..8 are the admins' accounts; the role comes from the token)
--   personas 1..4 (1 is the default support agent)
--   group 1 "Main PEA Communication" (kind main) with every user
--   conversations  1..100000       support of user 1000+id (10% open, 20% pending, 70% resolved)
--                  100001..101000  DMs of the hub user 200000 with users 101001..102000
--                  101001          the big DM between users 11 and 12 (1,000,000 messages)
--                  101002..200000  other DMs: n = id-101002, users (1001+n, 1002+n+(n%7)*13)
--   messages       2,000,000 ids interleaved: odd ids in the big DM, even ids spread over
--                  every other conversation (about 5 each), so planner statistics see one
--                  huge conversation among many small ones.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
BEGIN;
INSERT INTO users (id, username, display_name, email)
SELECT g, 'u' || g, 'User ' || g, 'u' || g || '@example.test' FROM generate_series(1, 200000) g;
SELECT setval(pg_get_serial_sequence('users', 'id'), 200000);

INSERT INTO chat_fake_users (id, name, bio, dm_enabled, is_support_agent)
VALUES (1, 'Sam from Support', 'Support', true, true), (2, 'Alex', 'Coach', true, false),
       (3, 'Robin', 'Guide', true, false), (4, 'Kim', 'Support', false, true);
SELECT setval(pg_get_serial_sequence('chat_fake_users', 'id'), 4);

INSERT INTO chat_groups (id, name, kind) VALUES (1, 'Main PEA Communication', 'main');
SELECT setval(pg_get_serial_sequence('chat_groups', 'id'), 1);
INSERT INTO chat_group_members (group_id, user_id) SELECT 1, g FROM generate_series(1, 200000) g;

-- Support conversations.
INSERT INTO direct_messages (id, conversation_type, user1_id, user2_type, fake_user_id, support_status)
SELECT g, 'support', 1000 + g, 'support', 1,
       CASE WHEN g % 10 = 0 THEN 'open' WHEN g % 10 IN (1, 2) THEN 'pending' ELSE 'resolved' END
FROM generate_series(1, 100000) g;
-- The hub user's 1,000 DMs.
INSERT INTO direct_messages (id, conversation_type, user1_id, user2_id, user2_type)
SELECT 100000 + k, 'user_dm', 101000 + k, 200000, 'real_user' FROM generate_series(1, 1000) k;
-- The big DM.
INSERT INTO direct_messages (id, conversation_type, user1_id, user2_id, user2_type)
VALUES (101001, 'user_dm', 11, 12, 'real_user');
-- Other DMs.
INSERT INTO direct_messages (id, conversation_type, user1_id, user2_id, user2_type)
SELECT 101002 + n, 'user_dm', 1001 + n, 1002 + n + (n % 7) * 13, 'real_user' FROM generate_series(0, 98998) n;
SELECT setval(pg_get_serial_sequence('direct_messages', 'id'), 200000);

-- Messages: odd g -> the big DM (seq (g+1)/2), even g -> conversation c of the other
-- 199,999 (seq k / 199999 + 1). Senders alternate between the two sides.
INSERT INTO dm_messages (id, conversation_id, seq, sender_id, sender_type, acting_admin_id, content,
                         message_type, client_message_id, created_at)
SELECT g, x.conv, x.seq,
       CASE WHEN x.conv <= 100000 AND x.seq % 2 = 0 THEN 1
            WHEN x.seq % 2 = 0 THEN d.user2_id ELSE d.user1_id END,
       CASE WHEN x.conv <= 100000 AND x.seq % 2 = 0 THEN 'fake_user' ELSE 'real_user' END,
       CASE WHEN x.conv <= 100000 AND x.seq % 2 = 0 THEN 1 END,
       'seed message ' || g || ' in conversation ' || x.conv || ': lorem ipsum dolor sit amet',
       'text', NULL,
       -- Within the last two days: nothing for the server's auto-resolve (72 h) or
       -- auto-archive (30 days) to rewrite while a benchmark runs.
       date_trunc('hour', now()) - interval '2 days' + g * interval '80 milliseconds'
FROM generate_series(1, 2000000) g
CROSS JOIN LATERAL (
    SELECT CASE WHEN g % 2 = 1 THEN 101001::bigint
                WHEN (g / 2 - 1) % 199999 + 1 < 101001 THEN (g / 2 - 1) % 199999 + 1
                ELSE (g / 2 - 1) % 199999 + 2 END AS conv,
           CASE WHEN g % 2 = 1 THEN (g + 1) / 2 ELSE (g / 2 - 1) / 199999 + 1 END AS seq
) x
JOIN direct_messages d ON d.id = x.conv;
SELECT setval(pg_get_serial_sequence('dm_messages', 'id'), 2000000);

-- Conversation rows agree with their messages.
UPDATE direct_messages d
SET last_seq = s.last_seq, last_message_id = s.last_id, last_message_at = s.last_at,
    created_at = s.first_at, updated_at = s.last_at,
    user2_unread = CASE WHEN d.id % 4 = 0 THEN 1 ELSE 0 END,
    user1_unread = CASE WHEN d.id % 3 = 0 THEN 1 ELSE 0 END,
    waiting_since = CASE WHEN d.support_status = 'open' THEN s.last_at END
FROM (SELECT conversation_id, max(seq) AS last_seq, max(id) AS last_id, max(created_at) AS last_at,
             min(created_at) AS first_at
      FROM dm_messages GROUP BY conversation_id) s
WHERE s.conversation_id = d.id;
COMMIT;
VACUUM ANALYZE;
