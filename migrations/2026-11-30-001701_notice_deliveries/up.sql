-- Live deliveries of notices, per notice: how many frames were handed to the sockets of
-- recipients online when it was sent, and when the last of them was. The real-time
-- layer notes them in memory and the housekeeping loop adds them here every minute
-- (docs/architecture.md, decision 22), so the fan-out never writes to PostgreSQL.
CREATE TABLE chat_notice_deliveries (
    notification_id BIGINT PRIMARY KEY REFERENCES chat_notifications(id) ON DELETE CASCADE,
    online_deliveries BIGINT NOT NULL,
    last_online_delivery_at TIMESTAMPTZ NOT NULL
);
