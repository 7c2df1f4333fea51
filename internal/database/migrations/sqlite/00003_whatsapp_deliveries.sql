-- +goose Up
-- The WhatsApp Cloud API sender's delivery log (notify.CloudAPI). The Cloud
-- API has no idempotency key, so every message id gets one row that says how
-- far its send went:
--   requesting  the messages request is being made (or was made and no reply
--               came): the provider may have accepted it, so it is never
--               sent again automatically
--   sent        the provider accepted it; provider_message_id is its wamid
--   failed      the provider answered with an error, or the request never
--               left: a later Send may try again
--   uncertain   a later Send found it 'requesting': not sent again; an
--               operator checks the WhatsApp Manager and resolves it
-- attempts counts messages requests; media_id is the uploaded document, kept
-- so a retry does not upload it again. No phone number or content is kept.
CREATE TABLE whatsapp_deliveries (
    message_id          TEXT PRIMARY KEY,
    state               TEXT NOT NULL CHECK (state IN ('requesting', 'sent', 'failed', 'uncertain')),
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    media_id            TEXT,
    provider_message_id TEXT,
    started_at          TIMESTAMP NOT NULL,
    requested_at        TIMESTAMP,
    finished_at         TIMESTAMP,
    error               TEXT
);
CREATE INDEX idx_whatsapp_deliveries_state ON whatsapp_deliveries (state, started_at);

-- +goose Down
DROP TABLE whatsapp_deliveries;
