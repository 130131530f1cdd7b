-- Internal notes: admins' notes on a support conversation or a persona DM (the kind is
-- the conversation's own, `direct_messages.user2_type`). A table of their own, so that
-- no read of messages (history, sync, resume, previews, unread counts, search) can
-- select one, and so that notes take no `seq` from the conversation (users' gap repair
-- relies on messages' positions having no hole). `after_seq` is the conversation's
-- `last_seq` when the note was written: it places the note among the messages.
CREATE TABLE chat_internal_notes (
    id BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES direct_messages(id) ON DELETE CASCADE,
    author_admin_id INTEGER NOT NULL REFERENCES users(id),
    content TEXT NOT NULL CHECK (char_length(content) BETWEEN 1 AND 4000),
    client_note_id UUID,
    after_seq BIGINT NOT NULL CHECK (after_seq >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The admin history's notes of a page: a range of positions, in order.
CREATE INDEX chat_internal_notes_position ON chat_internal_notes (conversation_id, after_seq, id);
-- Idempotent adds: one note per author and key.
CREATE UNIQUE INDEX chat_internal_notes_client_id
    ON chat_internal_notes (author_admin_id, client_note_id) WHERE client_note_id IS NOT NULL;
