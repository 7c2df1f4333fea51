-- +goose Up
-- One data key per data subject (a customer), for encrypting their personal
-- data at rest (internal/keyring). wrapped_key is base64 of nonce|ciphertext:
-- the 32-byte data key under AES-256-GCM with a key derived from the master
-- key named by master_key_id. Erasure (crypto-shredding) overwrites
-- wrapped_key with '' and sets destroyed_at; the row stays as a tombstone so
-- no new key is ever made for an erased subject.
CREATE TABLE data_keys (
    subject_id    TEXT        PRIMARY KEY,
    wrapped_key   TEXT        NOT NULL,
    master_key_id TEXT        NOT NULL,
    created_at    TIMESTAMP   NOT NULL,
    destroyed_at  TIMESTAMP,
    -- A live row holds a key; a destroyed row holds none.
    CONSTRAINT data_keys_destroyed_holds_no_key CHECK ((destroyed_at IS NULL) = (wrapped_key <> ''))
);

-- +goose Down
DROP TABLE data_keys;
