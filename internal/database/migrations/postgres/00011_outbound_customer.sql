-- +goose Up
-- The customer a recorded message is about (notify.Email.CustomerID and
-- notify.WhatsApp.CustomerID; '' for a message about no customer). The log
-- drivers seal the message's personal columns under this customer's data
-- key, and it is the subject needed to open them again.
ALTER TABLE outbound_mail ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
ALTER TABLE outbound_whatsapp ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE outbound_whatsapp DROP COLUMN customer_id;
ALTER TABLE outbound_mail DROP COLUMN customer_id;
