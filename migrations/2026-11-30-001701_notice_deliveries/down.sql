DROP TABLE IF EXISTS chat_notice_deliveries;
