-- +goose Up
-- Delivery reports (WhatsApp webhook) that arrived before insure recorded
-- the send they are about. The delivery listener applies them once it has.
CREATE TABLE pending_delivery_reports (
    provider_message_id TEXT NOT NULL,
    status              TEXT NOT NULL,
    reported_at         TIMESTAMPTZ NOT NULL,
    error_code          INTEGER NOT NULL DEFAULT 0,
    error_title         TEXT NOT NULL DEFAULT '',
    received_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider_message_id, status)
);

-- +goose Down
DROP TABLE pending_delivery_reports;
