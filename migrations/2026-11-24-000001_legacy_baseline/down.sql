-- Drops only the legacy tables that up.sql created; an existing app's tables stay.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM chat_legacy_baseline WHERE table_name = 'chat_messages') THEN
        DROP TABLE chat_messages;
    END IF;
    IF EXISTS (SELECT 1 FROM chat_legacy_baseline WHERE table_name = 'chat_group_members') THEN
        DROP TABLE chat_group_members;
    END IF;
    IF EXISTS (SELECT 1 FROM chat_legacy_baseline WHERE table_name = 'chat_groups') THEN
        DROP TABLE chat_groups;
    END IF;
    IF EXISTS (SELECT 1 FROM chat_legacy_baseline WHERE table_name = 'chat_fake_users') THEN
        DROP TABLE chat_fake_users;
    END IF;
    IF EXISTS (SELECT 1 FROM chat_legacy_baseline WHERE table_name = 'users') THEN
        DROP TABLE users;
    END IF;
END
$$;
DROP TABLE chat_legacy_baseline;
