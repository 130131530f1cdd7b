-- Seed 5.2: removes the old support model once its history lives in the support
-- conversations. Every removed row is kept, as JSON, in chat_legacy_support_archive, so
-- that down.sql can put it back (and the unmovable rows are never lost), and so is
-- every row of another table that points at a removed row (the existing app's own
-- tables, such as reactions, and this service's chat_group_reads).
--
-- The guard re-checks, in this transaction, what the last verification proved row by
-- row (chat_support_migration_rows): an old row is removed only if it was verified,
-- is unchanged since (md5 of the row), and its moved copy still exists.
SET LOCAL TimeZone = 'UTC';

DO $$
DECLARE
    verified RECORD;
    total BIGINT;
    ids TEXT;
BEGIN
    IF to_regclass('chat_support_migration_rows') IS NULL THEN
        RAISE EXCEPTION 'refused: the chat schema is not up to date (run chat-server migrate)';
    END IF;
    IF EXISTS (SELECT 1 FROM chat_support_migration_batches WHERE finished_at IS NULL AND rolled_back_at IS NULL) THEN
        RAISE EXCEPTION 'refused: a support migration batch is unfinished (run chat-server legacy migrate-support --execute)';
    END IF;
    IF EXISTS (SELECT 1 FROM chat_support_migration_batches WHERE rolled_back_at IS NULL AND verified_at IS NULL) THEN
        RAISE EXCEPTION 'refused: a support migration batch is not verified (run chat-server legacy verify-support)';
    END IF;
    SELECT * INTO verified FROM chat_support_migration_batches
        WHERE rolled_back_at IS NULL AND verified_at IS NOT NULL ORDER BY verified_at DESC LIMIT 1;
    IF NOT FOUND AND EXISTS (SELECT 1 FROM chat_messages cm LEFT JOIN chat_groups g ON g.id = cm.group_id
                             WHERE cm.support_conversation_user_id IS NOT NULL OR g.kind = 'support') THEN
        RAISE EXCEPTION 'refused: no verified support migration batch is recorded (run chat-server legacy migrate-support --execute, then verify-support)';
    END IF;
    SELECT count(*), string_agg(id::text, ', ' ORDER BY id) FILTER (WHERE rn <= 50) INTO total, ids
    FROM (SELECT cm.id, row_number() OVER (ORDER BY cm.id) AS rn
          FROM chat_messages cm
          LEFT JOIN chat_groups g ON g.id = cm.group_id
          LEFT JOIN chat_support_migration_rows r ON r.message_id = cm.id
          LEFT JOIN dm_messages m ON m.id = r.dm_message_id AND m.legacy_message_id = cm.id
          WHERE (cm.support_conversation_user_id IS NOT NULL OR g.kind = 'support')
            AND (r.message_id IS NULL OR r.row_md5 <> md5(to_jsonb(cm)::text)
                 OR (r.dm_message_id IS NOT NULL AND m.id IS NULL))) s;
    IF total > 0 THEN
        RAISE EXCEPTION 'refused: % old support rows are not accounted for by the verification (committed or changed after the verification, not moved, or their moved copy is gone): % (run chat-server legacy migrate-support --execute and verify-support again)',
            total, ids || CASE WHEN total > 50 THEN format(' and %s more', total - 50) ELSE '' END;
    END IF;
END
$$;

-- Rows of other tables pointing at the old support messages or groups (single-column
-- keys onto id). A key the archive cannot restore stops the cleanup, named.
CREATE TEMP TABLE legacy_cleanup_keys ON COMMIT DROP AS
SELECT c.conrelid::regclass::text AS tbl, quote_ident(a.attname) AS col, c.confrelid::regclass::text AS target,
       array_length(c.conkey, 1) = 1 AND fa.attname = 'id'
           AND NOT EXISTS (SELECT 1 FROM pg_constraint d WHERE d.contype = 'f' AND d.confrelid = c.conrelid
                           AND d.conrelid <> c.conrelid) AS archivable
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
WHERE c.contype = 'f' AND c.confrelid IN ('chat_messages'::regclass, 'chat_groups'::regclass, 'chat_group_members'::regclass)
  AND c.conrelid NOT IN ('chat_messages'::regclass, 'chat_group_members'::regclass);

DO $$
DECLARE
    names TEXT;
BEGIN
    SELECT string_agg(tbl || '.' || col || ' -> ' || target, ', ') INTO names FROM legacy_cleanup_keys WHERE NOT archivable;
    IF names IS NOT NULL THEN
        RAISE EXCEPTION 'refused: rows of other tables point at old support rows through keys the cleanup cannot archive and restore: % (remove or re-point those rows first; see chat-server legacy preflight)', names;
    END IF;
END
$$;

CREATE TABLE chat_legacy_support_archive (
    -- chat_groups, chat_group_members, chat_messages, or another table's name.
    source TEXT NOT NULL,
    row_data JSONB NOT NULL,
    archived_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

DO $$
DECLARE
    t RECORD;
BEGIN
    FOR t IN
        SELECT tbl, string_agg(format('t.%s IN (%s)', col, CASE target
                   WHEN 'chat_messages' THEN 'SELECT cm.id FROM chat_messages cm JOIN chat_groups g ON g.id = cm.group_id WHERE g.kind = ''support'''
                   ELSE 'SELECT id FROM chat_groups WHERE kind = ''support''' END), ' OR ') AS refs
        FROM legacy_cleanup_keys GROUP BY tbl ORDER BY tbl
    LOOP
        EXECUTE format('INSERT INTO chat_legacy_support_archive (source, row_data) SELECT %L, to_jsonb(t) FROM %s t WHERE %s',
                       t.tbl, t.tbl, t.refs);
        EXECUTE format('DELETE FROM %s t WHERE %s', t.tbl, t.refs);
    END LOOP;
END
$$;

INSERT INTO chat_legacy_support_archive (source, row_data)
SELECT 'chat_groups', to_jsonb(g) FROM chat_groups g WHERE g.kind = 'support';
INSERT INTO chat_legacy_support_archive (source, row_data)
SELECT 'chat_group_members', to_jsonb(m) FROM chat_group_members m
JOIN chat_groups g ON g.id = m.group_id WHERE g.kind = 'support';
INSERT INTO chat_legacy_support_archive (source, row_data)
SELECT 'chat_messages', to_jsonb(cm) FROM chat_messages cm LEFT JOIN chat_groups g ON g.id = cm.group_id
WHERE cm.support_conversation_user_id IS NOT NULL OR g.kind = 'support';

DELETE FROM chat_messages cm USING chat_groups g WHERE g.id = cm.group_id AND g.kind = 'support';
DELETE FROM chat_group_members m USING chat_groups g WHERE g.id = m.group_id AND g.kind = 'support';
DELETE FROM chat_groups WHERE kind = 'support';
ALTER TABLE chat_messages DROP COLUMN support_conversation_user_id;
