-- Runs before every other migration: an existing app's database whose own notices
-- (`chat_messages.is_notification = TRUE`, seed Phase 1.3) belong to no notification
-- would be refused by migration 000201's CHECKs halfway through `migrate`. Stop here
-- instead, before anything changes, naming the rows and the remedy. Once 000201 is
-- applied (chat_notifications exists) there is nothing left to check.
DO $$
DECLARE
    total BIGINT;
    ids TEXT;
BEGIN
    IF to_regclass('chat_notifications') IS NOT NULL OR to_regclass('chat_messages') IS NULL
       OR NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('chat_messages')
                      AND attname = 'is_notification' AND NOT attisdropped)
       OR current_setting('chat.old_notices', true) = 'keep' THEN
        RETURN;
    END IF;
    EXECUTE 'SELECT count(*) FROM chat_messages WHERE is_notification' INTO total;
    IF total > 0 THEN
        SELECT string_agg(id::text, ', ' ORDER BY id) INTO ids
        FROM (SELECT id FROM chat_messages WHERE is_notification ORDER BY id LIMIT 50) s;
        RAISE EXCEPTION '%', format(
            'refused: %s chat_messages rows are notices the existing app wrote (is_notification = TRUE) that belong '
            'to no notification: %s. Remedy: keep them as they are with `chat-server migrate --old-notices keep` '
            '(the new service shows them as ordinary group messages; notices in support threads move as notices), '
            'or clear or delete them in the existing app first (`chat-server legacy preflight` lists them).',
            total, ids || CASE WHEN total > 50 THEN format(' and %s more', total - 50) ELSE '' END);
    END IF;
END
$$;
