-- A year of the benchmark seed, for the admin stats (docs/performance.md, "Admin stats").
-- Run after seed.sql: the seed's rows, spread over the 365 days before the seed's last
-- hour, so that a year-long report reads all of them:
--   messages       the 2,000,000 messages, one every 15.768 s, in id order
--   DMs            created at their first message
--   episodes       2 per support conversation (200,000): the first resolved, the second
--                  resolved except for the seed's 10% open conversations; first responses
--                  after 1 to 121 minutes (every 20th never answered), resolutions after
--                  1 to 49 hours; answered as persona 1 (4 of 5), persona 4 or the team;
--                  assigned to one of the 8 admins (8 of 9) or nobody; every 4th
--                  conversation's episodes start unassigned and are taken by their
--                  admin at the first response (or 30 minutes in), a reassignment
--   notices        52 (one a week), each to 1,000 users, half of them read
\set ON_ERROR_STOP on
SET synchronous_commit = off;
BEGIN;
CREATE TEMP TABLE stats_seed AS SELECT date_trunc('hour', max(created_at)) - interval '365 days' AS t0
  FROM dm_messages;

UPDATE dm_messages SET created_at = (SELECT t0 FROM stats_seed) + id * interval '15768 milliseconds';
UPDATE direct_messages d SET created_at = s.first_at, last_message_at = s.last_at
  FROM (SELECT conversation_id, min(created_at) AS first_at, max(created_at) AS last_at
          FROM dm_messages GROUP BY conversation_id) s
 WHERE s.conversation_id = d.id;

DELETE FROM chat_support_episodes;
INSERT INTO chat_support_episodes (conversation_id, started_at, reopened, first_response_at, first_response_voice,
                                   first_response_persona_id, resolved_at, assignee_admin_id)
SELECT c, x.started, k = 1,
       CASE WHEN (c + k) % 20 <> 0 THEN x.started + (60 + (c * 37 + k * 11) % 7200) * interval '1 second' END,
       CASE WHEN (c + k) % 20 = 0 THEN NULL WHEN c % 7 = 0 THEN 'team' ELSE 'persona' END,
       CASE WHEN (c + k) % 20 = 0 OR c % 7 = 0 THEN NULL WHEN c % 5 = 0 THEN 4 ELSE 1 END,
       CASE WHEN k = 0 OR c % 10 <> 0
            THEN x.started + (3600 + (c * 13 + k * 7) % 172800) * interval '1 second' END,
       CASE WHEN c % 9 = 0 THEN NULL ELSE 1 + c % 8 END
  FROM generate_series(1, 100000) c
  CROSS JOIN generate_series(0, 1) k
  CROSS JOIN LATERAL (SELECT (SELECT t0 FROM stats_seed)
                             + ((k * 100000 + c) * 157.68 - 172800 * (1 - k)) * interval '1 second' AS started) x
 WHERE x.started > (SELECT t0 FROM stats_seed) - interval '2 days';
UPDATE chat_support_episodes
   SET opened_assignee_id = CASE WHEN conversation_id % 4 <> 0 THEN assignee_admin_id END,
       responded_assignee_id = CASE WHEN first_response_at IS NOT NULL THEN assignee_admin_id END;
INSERT INTO chat_support_reassignments (episode_id, moved_at, from_admin_id, to_admin_id)
SELECT id, COALESCE(first_response_at, started_at + interval '30 minutes'), NULL, assignee_admin_id
  FROM chat_support_episodes WHERE conversation_id % 4 = 0 AND assignee_admin_id IS NOT NULL;

-- Notices: personal groups for users 1001..2000, 52 weekly notices to all of them.
INSERT INTO chat_groups (name, kind, owner_user_id)
SELECT 'Notifications', 'personal', u FROM generate_series(1001, 2000) u;
INSERT INTO chat_group_members (group_id, user_id)
SELECT id, owner_user_id FROM chat_groups WHERE kind = 'personal' AND owner_user_id BETWEEN 1001 AND 2000;
INSERT INTO chat_notifications (created_by_admin_id, audience, content, template, style, recipient_count, created_at)
SELECT 1, 'users', 'Weekly news ' || w, 'info',
       '{"backgroundColor": "#f0f9ff", "textColor": "#0369a1", "borderColor": "#38bdf8"}', 1000,
       (SELECT t0 FROM stats_seed) + w * interval '7 days'
  FROM generate_series(0, 51) w;
INSERT INTO chat_messages (group_id, sender_type, content, message_type, created_at, is_notification,
                           notification_style, notification_id)
SELECT g.id, 'admin', n.content, 'notification', n.created_at, true, n.style, n.id
  FROM chat_notifications n
  JOIN chat_groups g ON g.kind = 'personal' AND g.owner_user_id BETWEEN 1001 AND 2000
 ORDER BY n.id, g.id;
INSERT INTO chat_group_reads (group_id, user_id, last_read_message_id)
SELECT g.id, g.owner_user_id, (SELECT max(m.id) FROM chat_messages m WHERE m.group_id = g.id)
  FROM chat_groups g WHERE g.kind = 'personal' AND g.owner_user_id BETWEEN 1001 AND 1500;
COMMIT;
VACUUM ANALYZE;
