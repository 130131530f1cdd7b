-- Bookkeeping for moving the group-based support history (chat_messages rows with
-- support_conversation_user_id) into per-user support conversations
-- (`chat-server legacy migrate-support`, docs/migration.md).

-- The old -> new mapping lives on the moved rows themselves: `legacy_message_id` is the
-- chat_messages id a row was copied from (unique, so a message is never moved twice),
-- `legacy_batch_id` the batch that moved it (what a rollback deletes).
ALTER TABLE dm_messages
    ADD COLUMN legacy_message_id INTEGER,
    ADD COLUMN legacy_batch_id BIGINT;
CREATE UNIQUE INDEX dm_messages_legacy_message
    ON dm_messages (legacy_message_id) WHERE legacy_message_id IS NOT NULL;
CREATE INDEX dm_messages_legacy_batch
    ON dm_messages (legacy_batch_id) WHERE legacy_batch_id IS NOT NULL;

-- The old support never recorded which admin wrote a persona message (nor keeps every
-- admin who answered as the team): a moved staff message may lack an acting admin.
-- Messages written through the API still always carry one.
ALTER TABLE dm_messages DROP CONSTRAINT dm_messages_acting_admin;
ALTER TABLE dm_messages ADD CONSTRAINT dm_messages_acting_admin CHECK (
    (sender_type = 'real_user' AND acting_admin_id IS NULL)
    OR (sender_type <> 'real_user' AND (acting_admin_id IS NOT NULL OR legacy_message_id IS NOT NULL))
);

-- An existing app's database may lack the baseline's index on the old column; the
-- migration reads the old rows user by user through it.
CREATE INDEX IF NOT EXISTS chat_messages_support_user_idx
    ON chat_messages (support_conversation_user_id, id)
    WHERE support_conversation_user_id IS NOT NULL;

-- One row per `migrate-support --execute` run that moved something.
CREATE TABLE chat_support_migration_batches (
    id BIGSERIAL PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set when every movable message was moved and the old support groups deactivated;
    -- an unfinished batch is resumed by the next run.
    finished_at TIMESTAMPTZ,
    -- Set by `verify-support` when old and new sides matched for every user.
    verified_at TIMESTAMPTZ,
    -- The newest chat_messages id in scope at verification: the cleanup refuses if a
    -- newer support message appeared since.
    verified_max_message_id INTEGER,
    rolled_back_at TIMESTAMPTZ,
    users_migrated INTEGER NOT NULL DEFAULT 0,
    messages_migrated BIGINT NOT NULL DEFAULT 0,
    conversations_created INTEGER NOT NULL DEFAULT 0,
    -- Messages in scope left where they are (unattributable or not storable), at the end.
    messages_unmovable BIGINT NOT NULL DEFAULT 0,
    -- md5 over the moved messages (sender, content, time), in legacy id order.
    checksum TEXT,
    -- The support groups this batch deactivated (a rollback reactivates exactly these).
    deactivated_group_ids INTEGER[] NOT NULL DEFAULT '{}'
);

-- The conversations a batch touched: created by it, or existing before (with the row as
-- it was, so a rollback can restore it exactly).
CREATE TABLE chat_support_migration_conversations (
    batch_id BIGINT NOT NULL REFERENCES chat_support_migration_batches(id),
    conversation_id BIGINT NOT NULL,
    user_id INTEGER NOT NULL,
    created BOOLEAN NOT NULL,
    previous JSONB,
    PRIMARY KEY (batch_id, conversation_id)
);
