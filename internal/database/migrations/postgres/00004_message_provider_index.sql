-- +goose Up
-- Delivery reports (the WhatsApp webhook) find messages by the provider's id.
CREATE INDEX idx_messages_provider_message_id ON messages (provider_message_id);

-- +goose Down
DROP INDEX idx_messages_provider_message_id;
