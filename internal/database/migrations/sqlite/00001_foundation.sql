-- +goose Up
-- The event store: the source of truth. Every column of the original
-- event_store table is kept; position, aggregate_version and schema_version
-- are new.
CREATE TABLE event_store (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    position          BIGINT      NOT NULL UNIQUE,
    event_id          TEXT        NOT NULL UNIQUE,
    event_name        TEXT        NOT NULL,
    aggregate_type    TEXT        NOT NULL,
    aggregate_id      TEXT        NOT NULL,
    aggregate_version BIGINT      NOT NULL CHECK (aggregate_version > 0),
    schema_version    INTEGER     NOT NULL CHECK (schema_version > 0),
    event_data        TEXT       NOT NULL,
    metadata          TEXT       NOT NULL,
    occurred_at       TIMESTAMP NOT NULL,
    created_at        TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00','now')),
    CONSTRAINT event_store_aggregate_version_key UNIQUE (aggregate_type, aggregate_id, aggregate_version)
);
CREATE INDEX idx_event_name_time ON event_store (event_name, occurred_at);
CREATE INDEX idx_aggregate_events ON event_store (aggregate_type, aggregate_id, occurred_at);
CREATE INDEX idx_occurred_at ON event_store (occurred_at);
CREATE INDEX idx_event_name_position ON event_store (event_name, position);

-- One row: the last global position handed out. Appends lock it for the rest
-- of their transaction, so positions become visible in commit order and a
-- reader of "events after N" never skips one that commits late.
CREATE TABLE event_stream_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position BIGINT NOT NULL
);
INSERT INTO event_stream_head (id, position) VALUES (1, 0);

-- Email addresses claimed by customers: uniqueness is enforced here, in the
-- same transaction as the event that claims the address.
CREATE TABLE customer_emails (
    email       TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL
);

CREATE TABLE customers (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    email          TEXT NOT NULL,
    phone          TEXT NOT NULL,
    date_of_birth  TEXT,
    channel        TEXT NOT NULL,
    pref_email     INTEGER NOT NULL,
    pref_whatsapp  INTEGER NOT NULL,
    email_verified INTEGER NOT NULL DEFAULT 0,
    version        BIGINT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX idx_customers_created ON customers (created_at, id);

CREATE TABLE quotations (
    id             TEXT PRIMARY KEY,
    customer_id    TEXT NOT NULL,
    product        TEXT NOT NULL,
    sum_insured    BIGINT NOT NULL,
    currency       TEXT NOT NULL,
    details        TEXT NOT NULL,
    status         TEXT NOT NULL,
    quotes         TEXT,
    document_id    TEXT,
    failure_reason TEXT,
    version        BIGINT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX idx_quotations_customer ON quotations (customer_id, created_at);

CREATE TABLE policies (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL,
    quotation_id  TEXT,
    policy_number TEXT NOT NULL UNIQUE,
    insurer       TEXT NOT NULL,
    product       TEXT NOT NULL,
    premium       BIGINT NOT NULL,
    sum_insured   BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    start_date    DATE NOT NULL,
    end_date      DATE NOT NULL,
    status        TEXT NOT NULL,
    renewals      INTEGER NOT NULL DEFAULT 0,
    document_id   TEXT,
    version       BIGINT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX idx_policies_end_date ON policies (end_date, id);
CREATE INDEX idx_policies_customer ON policies (customer_id);

CREATE TABLE messages (
    id                  TEXT PRIMARY KEY,
    customer_id         TEXT,
    channel             TEXT NOT NULL,
    template            TEXT NOT NULL,
    recipient_role      TEXT NOT NULL,
    priority            TEXT NOT NULL,
    status              TEXT NOT NULL,
    document_ids        TEXT NOT NULL,
    provider_message_id TEXT,
    error               TEXT,
    source_event_id     TEXT NOT NULL,
    version             BIGINT NOT NULL,
    queued_at           TIMESTAMP NOT NULL,
    sent_at             TIMESTAMP,
    updated_at          TIMESTAMP NOT NULL
);
CREATE INDEX idx_messages_customer ON messages (customer_id, queued_at);

CREATE TABLE documents (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    status       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT,
    sha256       TEXT,
    requested_at TIMESTAMP NOT NULL,
    generated_at TIMESTAMP
);
CREATE INDEX idx_documents_subject ON documents (subject_type, subject_id);

CREATE TABLE audit_log (
    id                TEXT PRIMARY KEY,
    customer_id       TEXT NOT NULL,
    action            TEXT NOT NULL,
    source_event_id   TEXT NOT NULL,
    source_event_name TEXT NOT NULL,
    actor             TEXT NOT NULL,
    occurred_at       TIMESTAMP NOT NULL
);
CREATE INDEX idx_audit_log_customer ON audit_log (customer_id, occurred_at);

-- Listener jobs that gave up. Kept until an operator retries or discards them.
CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id      BIGINT NOT NULL UNIQUE,
    listener    TEXT NOT NULL,
    queue       TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    error       TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'dead',
    failed_at   TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP
);
CREATE INDEX idx_dead_letters_status ON dead_letters (status, id);

-- What the development ("log") drivers delivered: the full message.
CREATE TABLE outbound_mail (
    message_id  TEXT PRIMARY KEY,
    header_id   TEXT NOT NULL,
    to_addr     TEXT NOT NULL,
    from_addr   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    text_body   TEXT NOT NULL,
    html_body   TEXT NOT NULL,
    attachments TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);

CREATE TABLE outbound_whatsapp (
    message_id          TEXT PRIMARY KEY,
    provider_message_id TEXT NOT NULL,
    to_phone            TEXT NOT NULL,
    template            TEXT NOT NULL,
    language            TEXT NOT NULL,
    body                TEXT NOT NULL,
    recorded_at         TIMESTAMP NOT NULL
);

-- Installation secrets (e.g. the key that signs email-verification tokens).
CREATE TABLE app_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE app_secrets;
DROP TABLE outbound_whatsapp;
DROP TABLE outbound_mail;
DROP TABLE dead_letters;
DROP TABLE audit_log;
DROP TABLE documents;
DROP TABLE messages;
DROP TABLE policies;
DROP TABLE quotations;
DROP TABLE customers;
DROP TABLE customer_emails;
DROP TABLE event_stream_head;
DROP TABLE event_store;
