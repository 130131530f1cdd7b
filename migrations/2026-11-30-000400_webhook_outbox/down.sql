DROP TABLE chat_webhook_deliveries;
DROP TABLE chat_webhook_collector;
DROP TRIGGER chat_webhook_outbox_notice ON chat_messages;
DROP FUNCTION chat_webhook_outbox_notice();
DROP TRIGGER chat_webhook_outbox_dm ON dm_messages;
DROP FUNCTION chat_webhook_outbox_dm();
DROP TABLE chat_webhook_outbox;
