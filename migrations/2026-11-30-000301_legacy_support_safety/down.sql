ALTER TABLE dm_messages
    DROP CONSTRAINT dm_messages_hidden_by_admin_id_fkey,
    ADD CONSTRAINT dm_messages_hidden_by_admin_id_fkey FOREIGN KEY (hidden_by_admin_id) REFERENCES users(id),
    DROP CONSTRAINT dm_messages_acting_admin_id_fkey,
    ADD CONSTRAINT dm_messages_acting_admin_id_fkey FOREIGN KEY (acting_admin_id) REFERENCES users(id);
ALTER TABLE direct_messages
    DROP CONSTRAINT direct_messages_assignee_admin_id_fkey,
    ADD CONSTRAINT direct_messages_assignee_admin_id_fkey FOREIGN KEY (assignee_admin_id) REFERENCES users(id),
    DROP CONSTRAINT direct_messages_user2_id_fkey,
    ADD CONSTRAINT direct_messages_user2_id_fkey FOREIGN KEY (user2_id) REFERENCES users(id),
    DROP CONSTRAINT direct_messages_user1_id_fkey,
    ADD CONSTRAINT direct_messages_user1_id_fkey FOREIGN KEY (user1_id) REFERENCES users(id);
DROP TABLE chat_legacy_support_cohort_archive;
DROP TABLE chat_support_users;
DROP TABLE chat_support_migration_rows;
ALTER TABLE chat_support_migration_batches DROP COLUMN options;
