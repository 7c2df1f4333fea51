-- +goose Up
-- The SMTP mailer's delivery log (notify.SMTPMailer). SMTP has no
-- idempotency key, so every message id gets one row that says how far its
-- send went:
--   sending     an attempt holds the message: connecting, or in the SMTP
--               dialogue before the final "." of DATA (the server can still
--               drop it); attempts fences concurrent attempts
--   committing  the whole message and the final "." are being sent, or were
--               sent and no reply came (error notes it): the server may have
--               accepted it, so it is never sent again automatically
--   sent        the server accepted it (250 to the final "."); response is
--               the server's reply
--   failed      not delivered: the server refused it, or the connection
--               failed before the final "."; error says why, and a later
--               Send may try again
--   uncertain   a later Send found it 'committing' and its attempt over: not
--               sent again; an operator looks for header_id in the mail
--               server's log and resolves it
-- attempts counts the attempts that connected (or tried to). No address or
-- content is kept: header_id is the Message-ID header, to find the message
-- in the server's log.
CREATE TABLE mail_deliveries (
    message_id    TEXT PRIMARY KEY,
    state         TEXT NOT NULL CHECK (state IN ('sending', 'committing', 'sent', 'failed', 'uncertain')),
    attempts      INTEGER NOT NULL CHECK (attempts > 0),
    header_id     TEXT NOT NULL,
    started_at    TIMESTAMP NOT NULL,
    committing_at TIMESTAMP,
    finished_at   TIMESTAMP,
    response      TEXT,
    error         TEXT
);
CREATE INDEX idx_mail_deliveries_state ON mail_deliveries (state, started_at);

-- +goose Down
DROP TABLE mail_deliveries;
