-- Missed-message webhooks (docs/webhooks.md).
--
-- The outbox: one row per stored support/DM message and per notice, written by a
-- statement trigger in the transaction that stored the message, and only on
-- connections that set `chat.webhook_outbox = on` (the server does when
-- CHAT_WEBHOOK_URL is set): nothing is lost on a crash, nothing is announced for a
-- rolled-back write, and a deployment without webhooks writes nothing. No foreign keys:
-- a row whose message is gone is skipped by the collector.
CREATE TABLE chat_webhook_outbox (
    id BIGSERIAL PRIMARY KEY,
    dm_message_id BIGINT,
    chat_message_id INTEGER,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT chat_webhook_outbox_one_message CHECK (num_nonnulls(dm_message_id, chat_message_id) = 1)
);
CREATE INDEX chat_webhook_outbox_created ON chat_webhook_outbox (created_at, id);

CREATE FUNCTION chat_webhook_outbox_dm() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('chat.webhook_outbox', TRUE) = 'on' THEN
        INSERT INTO chat_webhook_outbox (dm_message_id, created_at)
        SELECT id, created_at FROM new_rows;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER chat_webhook_outbox_dm AFTER INSERT ON dm_messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chat_webhook_outbox_dm();

CREATE FUNCTION chat_webhook_outbox_notice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('chat.webhook_outbox', TRUE) = 'on' THEN
        INSERT INTO chat_webhook_outbox (chat_message_id, created_at)
        SELECT id, created_at FROM new_rows WHERE is_notification;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER chat_webhook_outbox_notice AFTER INSERT ON chat_messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chat_webhook_outbox_notice();

-- Whose turn it is to collect, and which window was collected last: one row, locked by
-- the collecting instance (others skip it), so there is one digest per user per window.
CREATE TABLE chat_webhook_collector (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    last_window TIMESTAMPTZ
);
INSERT INTO chat_webhook_collector (singleton) VALUES (TRUE);

-- Digests: one per user per window, delivered at least once under a stable event id.
CREATE TABLE chat_webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    event_id UUID NOT NULL UNIQUE,
    user_id INTEGER NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ,
    parked_at TIMESTAMPTZ,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT chat_webhook_deliveries_one_per_window UNIQUE (user_id, window_start),
    CONSTRAINT chat_webhook_deliveries_settled CHECK (delivered_at IS NULL OR parked_at IS NULL)
);
CREATE INDEX chat_webhook_deliveries_due ON chat_webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND parked_at IS NULL;
CREATE INDEX chat_webhook_deliveries_parked ON chat_webhook_deliveries (id) WHERE parked_at IS NOT NULL;
