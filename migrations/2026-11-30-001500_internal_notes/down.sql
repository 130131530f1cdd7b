DROP TABLE chat_internal_notes;
