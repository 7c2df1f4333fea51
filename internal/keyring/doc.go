// Package keyring encrypts customers' personal data at rest and erases it
// by crypto-shredding: destroying the one key it was encrypted under, so
// every copy of the ciphertext (events, read models, backups) becomes
// unreadable without rewriting any of them. This matters for an event
// store, whose events are never rewritten.
//
// # Scheme
//
//   - Master key: 32 random bytes from configuration (ParseMasterKey,
//     LoadMasterKeyFile), never stored in the database. Its ID, the first 8
//     bytes of its SHA-256 in hex, is stored next to what it wraps. Subkeys
//     are derived from it with HKDF-Expand-SHA256: "data key wrap v1" wraps
//     data keys, "blind index v1|<kind>" keys each kind of blind index.
//   - Data key: 32 random bytes per data subject (a customer), made on first
//     use and kept in data_keys, wrapped: base64 of nonce|ciphertext|tag,
//     AES-256-GCM under the wrapping subkey with additional data
//     "insure data key v1|" + subject_id, so a wrapped key copied to another
//     subject's row does not unwrap.
//   - Sealed field: "enc:v1:" + base64url(nonce|ciphertext|tag), AES-256-GCM
//     under the subject's data key with additional data subject_id + "|" +
//     field, so a value cannot be moved to another field or customer. Nonces
//     are random (96 bits); a data key seals far fewer than the 2^32 values
//     that bounds. The empty string seals to "" (nothing to hide).
//   - Blind index: hex HMAC-SHA256 of a normalized value under the kind's
//     subkey, for equality search (email, phone, NameTokens of a name)
//     without decrypting.
//   - Erasure: Destroy empties wrapped_key and sets destroyed_at;
//     Open then returns ErrErased, and no new key is made for the subject.
//   - Rotation: Rotate re-wraps the data keys under a new master key. Sealed
//     values do not change.
//
// # What it protects
//
//   - A copy of the database, a dump or a backup without the master key:
//     sealed fields and data keys are ciphertext.
//   - Erased subjects: once the key is destroyed, their sealed values cannot
//     be read with or without the master key, in every copy made after the
//     erasure, and in older copies once the master key that wrapped the key
//     is gone (see Limits).
//   - Integrity: altering a sealed value or wrapped key, or moving one to
//     another field or subject, makes Open fail (ErrTampered,
//     ErrMasterKeyMismatch) instead of returning wrong data.
//
// # Limits
//
//   - Anyone with the master key and the database reads everything: a
//     running server holds both. The key lives in process memory (Go
//     cannot reliably wipe it) and in the secret store it is read from.
//   - Older copies: a backup, a PostgreSQL WAL archive or dead tuple, or
//     SQLite free pages and WAL taken before an erasure still hold the
//     wrapped key, which the same master key unwraps. Erasure is complete
//     for those copies only when they expire or the master key is rotated
//     and the old one destroyed; keep backup retention in step.
//   - Other processes cache unwrapped keys for up to 5 minutes, so a value
//     may still open there for that long after Destroy (this keyring
//     forgets at once).
//   - Not hidden: subject IDs, field names, which subjects exist and were
//     erased and when, the length of each sealed value (give or take the
//     fixed overhead), and, through blind indexes, which records share an
//     email, phone or name token. Frequent name tokens can be guessed by
//     their frequency. Anything not sealed (amounts, dates, products) is in
//     clear.
//   - Blind indexes are keyed by the master key: after Rotate they must be
//     recomputed (rebuild the read models), and a search only matches what
//     was normalized the same way. NameTokens does not fold accents or
//     Unicode normalization forms.
//   - Plaintext that left the store (emails sent, PDFs rendered, logs) is
//     not covered.
//   - Rotation is an offline operation: processes still on the old master
//     key cannot open rotated keys.
package keyring
