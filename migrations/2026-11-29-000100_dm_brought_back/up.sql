-- When each side of a DM last brought it back from the archive (unarchived it, or
-- reopened it through "start"). The idle-archive task leaves a side alone until it has
-- been idle for the whole idle period since then, so it cannot undo the user's choice.
ALTER TABLE direct_messages
    ADD COLUMN user1_unarchived_at TIMESTAMPTZ,
    ADD COLUMN user2_unarchived_at TIMESTAMPTZ;
