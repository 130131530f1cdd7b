ALTER TABLE direct_messages
    DROP COLUMN user2_unarchived_at,
    DROP COLUMN user1_unarchived_at;
