-- Moving the old support safely on a real existing database (issue 13, docs/migration.md).

-- The choices a batch was moved with (time zone, row policies, cohort): verify and the
-- next runs classify the old rows exactly as the batch did.
ALTER TABLE chat_support_migration_batches ADD COLUMN options JSONB NOT NULL DEFAULT '{}';

-- What `verify-support` proved, row by row: every old support row, the moved message
-- it became (or why it stays), and an md5 of the old row as verified. The cleanup
-- removes an old row only if it is here, unchanged, and its moved copy still exists: a
-- row committed late (an id lower than one already verified) or changed since is
-- never removed unseen. Rewritten by every verification.
CREATE TABLE chat_support_migration_rows (
    message_id INTEGER PRIMARY KEY,
    user_id INTEGER,
    dm_message_id BIGINT,
    reason TEXT,
    row_md5 TEXT NOT NULL,
    verified_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((dm_message_id IS NULL) <> (reason IS NULL))
);

-- The users whose support is the new one (a migrated cohort): the admin queue and the
-- existing app read it (a user without a row still uses the old support groups). No
-- foreign key: deleting a user never depends on it, and the row goes with the user.
CREATE TABLE chat_support_users (
    user_id INTEGER PRIMARY KEY,
    batch_id BIGINT NOT NULL REFERENCES chat_support_migration_batches(id),
    migrated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX chat_support_users_batch ON chat_support_users (batch_id);

-- `cleanup-support --cohort`: the old support rows of users already on the new support
-- (verified), and the rows of other tables pointing at them, archived as JSON before
-- they are deleted; `cleanup-support --revert` puts them back. The groups, the other
-- users' rows and the old column stay until the final cleanup.
CREATE TABLE chat_legacy_support_cohort_archive (
    id BIGSERIAL PRIMARY KEY,
    -- chat_messages, or the table of a row that pointed at one.
    source TEXT NOT NULL,
    row_data JSONB NOT NULL,
    -- The owner of an archived chat_messages row.
    user_id INTEGER,
    archived_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The existing app deletes a user with `DELETE FROM users` (their group memberships
-- cascade; their old messages stay, naming a user that is gone). The new tables follow
-- it: a user's own conversations (support, DMs) go with the user, and references to a
-- deleted admin (assignee, hider, acting admin) are cleared. A staff message written
-- through the new API must keep its acting admin (CHECK dm_messages_acting_admin), so
-- an admin who answered there cannot be deleted: deactivate such accounts instead.
ALTER TABLE direct_messages
    DROP CONSTRAINT direct_messages_user1_id_fkey,
    ADD CONSTRAINT direct_messages_user1_id_fkey FOREIGN KEY (user1_id) REFERENCES users(id) ON DELETE CASCADE,
    DROP CONSTRAINT direct_messages_user2_id_fkey,
    ADD CONSTRAINT direct_messages_user2_id_fkey FOREIGN KEY (user2_id) REFERENCES users(id) ON DELETE CASCADE,
    DROP CONSTRAINT direct_messages_assignee_admin_id_fkey,
    ADD CONSTRAINT direct_messages_assignee_admin_id_fkey FOREIGN KEY (assignee_admin_id)
        REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE dm_messages
    DROP CONSTRAINT dm_messages_acting_admin_id_fkey,
    ADD CONSTRAINT dm_messages_acting_admin_id_fkey FOREIGN KEY (acting_admin_id)
        REFERENCES users(id) ON DELETE SET NULL,
    DROP CONSTRAINT dm_messages_hidden_by_admin_id_fkey,
    ADD CONSTRAINT dm_messages_hidden_by_admin_id_fkey FOREIGN KEY (hidden_by_admin_id)
        REFERENCES users(id) ON DELETE SET NULL;
