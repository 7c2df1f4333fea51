-- +goose Up
-- The customers read model holds personal data sealed (internal/personal):
-- name, email, phone and date_of_birth hold "enc:v1:..." values under the
-- customer's data key, or '' (and NULL) once the customer is erased. Search
-- goes through blind indexes (keyed hashes of the normalised value, see
-- internal/keyring): email_index and phone_index, and one
-- customer_name_tokens row per token of the name. Blind indexes depend on
-- the master key: projection.Reindex recomputes them after a rotation.
-- date_of_birth is TEXT since 00001, so a sealed value fits it as it is.
ALTER TABLE customers ADD COLUMN email_index TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN phone_index TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN erased_at TIMESTAMP NULL;
CREATE INDEX idx_customers_email_index ON customers (email_index);
CREATE INDEX idx_customers_phone_index ON customers (phone_index);

CREATE TABLE customer_name_tokens (
    customer_id TEXT NOT NULL,
    token       TEXT NOT NULL,
    PRIMARY KEY (token, customer_id)
);
CREATE INDEX idx_customer_name_tokens_customer ON customer_name_tokens (customer_id);

-- The uniqueness claim of an email address no longer holds the address,
-- only its blind index. Dropped and recreated: there is no deployed data to
-- keep (a database with claims would need them recomputed from the
-- customers, which projection.Reindex does).
DROP TABLE customer_emails;
CREATE TABLE customer_emails (
    email_index TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL
);
CREATE INDEX idx_customer_emails_customer ON customer_emails (customer_id);

-- +goose Down
-- The previous shape. Claims cannot be turned back into addresses (they are
-- dropped), and values sealed meanwhile stay sealed.
DROP INDEX idx_customer_emails_customer;
DROP TABLE customer_emails;
CREATE TABLE customer_emails (
    email       TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL
);
DROP TABLE customer_name_tokens;
DROP INDEX idx_customers_phone_index;
DROP INDEX idx_customers_email_index;
ALTER TABLE customers DROP COLUMN erased_at;
ALTER TABLE customers DROP COLUMN phone_index;
ALTER TABLE customers DROP COLUMN email_index;
