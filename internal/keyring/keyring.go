package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"insure/internal/database"
)

// Errors returned by the Keyring. They are wrapped with the subject (and
// field) concerned; test with errors.Is.
var (
	// ErrErased means the subject's data key was destroyed (Destroy): their
	// sealed values can never be opened again. Show the data as erased.
	ErrErased = errors.New("personal data erased")
	// ErrMalformed means a value given to Open is not a sealed value at all
	// (no "enc:v1:" prefix, bad base64, too short).
	ErrMalformed = errors.New("not a sealed value")
	// ErrTampered means a sealed value does not authenticate: it was
	// altered, or it was sealed for another subject or field.
	ErrTampered = errors.New("sealed value does not authenticate (altered, or sealed for another subject or field)")
	// ErrNoDataKey means Open found no data key for the subject: the value
	// was sealed against another database, or the data_keys row was
	// deleted (restore data_keys together with the events).
	ErrNoDataKey = errors.New("no data key for the subject")
	// ErrMasterKeyMismatch means a data key was wrapped by another master
	// key than the keyring's (see MasterKey.ID), or the wrapped key does
	// not authenticate under it: configure the master key that wrapped it,
	// or finish a rotation (Rotate).
	ErrMasterKeyMismatch = errors.New("data key is not wrapped by this master key")
	// ErrNoMasterKey is returned by every operation of a Keyring built
	// with the zero MasterKey.
	ErrNoMasterKey = errors.New("keyring has no master key; configure one (see ParseMasterKey)")
)

// The SQL the keyring runs, the same on SQLite and PostgreSQL.
const (
	sqlLoad = `SELECT wrapped_key, master_key_id, CASE WHEN destroyed_at IS NULL THEN 0 ELSE 1 END
		FROM data_keys WHERE subject_id = $1`
	sqlCreate = `INSERT INTO data_keys (subject_id, wrapped_key, master_key_id, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (subject_id) DO NOTHING`
	// sqlDestroy shreds the key, keeping the first erasure time; a subject
	// without a key gets a tombstone, so none is ever made for it.
	sqlDestroy = `INSERT INTO data_keys (subject_id, wrapped_key, master_key_id, created_at, destroyed_at)
		VALUES ($1, '', '', $2, $2)
		ON CONFLICT (subject_id) DO UPDATE SET wrapped_key = '',
			destroyed_at = COALESCE(data_keys.destroyed_at, excluded.destroyed_at)`
	// sqlRotateBatch lists live keys not yet under the new master ($1),
	// after the cursor $2.
	sqlRotateBatch = `SELECT subject_id, wrapped_key, master_key_id FROM data_keys
		WHERE destroyed_at IS NULL AND master_key_id <> $1 AND subject_id > $2
		ORDER BY subject_id LIMIT $3`
	// sqlForeign finds a live key wrapped by neither $1 nor $2.
	sqlForeign = `SELECT subject_id, master_key_id FROM data_keys
		WHERE destroyed_at IS NULL AND master_key_id <> $1 AND master_key_id <> $2
		ORDER BY subject_id LIMIT 1`
	sqlRewrap = `UPDATE data_keys SET wrapped_key = $2, master_key_id = $3
		WHERE subject_id = $1 AND master_key_id = $4 AND destroyed_at IS NULL`
)

// Domain-separation strings: the AAD of a wrapped data key, and the HKDF
// info of the keys derived from the master key.
const (
	wrapAADPrefix    = "insure data key v1|"
	wrapKeyInfo      = "data key wrap v1"
	blindIndexPrefix = "blind index v1|"
)

const (
	dataKeySize       = 32
	defaultRotateSize = 500
)

// Keyring seals and opens customers' personal data with per-subject data
// keys kept, wrapped by the master key, in the data_keys table. It is safe
// for concurrent use. See the package documentation for the scheme.
type Keyring struct {
	db       database.DB
	now      func() time.Time
	masterID string
	wrapKey  [32]byte            // derived from the master: wraps data keys
	blind    map[string][32]byte // derived from the master: one per known kind
	master   MasterKey
	cache    *keyCache
	batch    int         // rows per Rotate transaction
	retired  atomic.Bool // set by Rotate: the master was rotated out
}

// New returns a keyring on db under master. now is the clock (time.Now when
// nil). It does not touch the database. With the zero MasterKey every
// operation fails with ErrNoMasterKey.
func New(db database.DB, master MasterKey, now func() time.Time) *Keyring {
	if now == nil {
		now = time.Now
	}
	k := &Keyring{
		db:       db,
		now:      now,
		master:   master,
		masterID: master.ID(),
		cache:    newKeyCache(defaultCacheSize, defaultCacheTTL),
		batch:    defaultRotateSize,
	}
	if master.IsZero() {
		return k
	}
	k.wrapKey = deriveKey(master, wrapKeyInfo)
	k.blind = make(map[string][32]byte, 3)
	for _, kind := range []string{KindEmail, KindPhone, KindNameToken} {
		k.blind[kind] = deriveKey(master, blindIndexPrefix+kind)
	}
	return k
}

// MasterKeyID is the ID of the keyring's master key.
func (k *Keyring) MasterKeyID() string { return k.masterID }

func (k *Keyring) ready() error {
	if k.master.IsZero() {
		return ErrNoMasterKey
	}
	if k.retired.Load() {
		return fmt.Errorf("%w: this keyring's master key %s was rotated out; build a new Keyring with the new master key", ErrMasterKeyMismatch, k.masterID)
	}
	return nil
}

// clock returns the time to store: UTC, to the microsecond both databases
// keep.
func (k *Keyring) clock() time.Time {
	return k.now().UTC().Truncate(time.Microsecond)
}

// DataKey returns the subject's 32-byte data key, creating it on first use.
// Creation is race-safe: concurrent first uses, in this process or another,
// all get the one key that was stored. q is the database or the caller's
// transaction; a key created in a transaction exists only if it commits.
//
// Most callers want Seal and Open; DataKey is for tests and tools.
//
// Errors: ErrErased when the key was destroyed; ErrMasterKeyMismatch when
// another master key wrapped it; ErrNoMasterKey; database errors.
func (k *Keyring) DataKey(ctx context.Context, q database.Querier, subjectID string) ([]byte, error) {
	key, err := k.dataKey(ctx, q, subjectID, true)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), key...), nil
}

var errNoRow = errors.New("no data key row")

// dataKey returns the subject's key (shared with the cache: do not modify
// it), creating it when create is set.
//
// Only keys read outside a transaction go into the cache: such a read sees
// committed rows only, whereas a key read in a transaction may have been
// created (or be destroyed) by that transaction, which can still roll back.
// A key read in a transaction goes into the transaction's own memo
// instead, when its context carries one (WithTxKeys).
func (k *Keyring) dataKey(ctx context.Context, q database.Querier, subjectID string, create bool) ([]byte, error) {
	if err := k.ready(); err != nil {
		return nil, err
	}
	if subjectID == "" {
		return nil, errors.New("keyring: empty subject id")
	}
	if key, ok := k.cache.get(subjectID, k.now()); ok {
		return key, nil
	}
	memo := txMemo(ctx, q)
	if key, ok := memo.get(subjectID); ok {
		return key, nil
	}
	_, committed := q.(database.DB)
	key, err := k.load(ctx, q, subjectID)
	if errors.Is(err, errNoRow) && create {
		var stored bool
		if key, stored, err = k.create(ctx, q, subjectID); err == nil && !stored {
			// Someone else stored the subject's key first: theirs is the one.
			key, err = k.load(ctx, q, subjectID)
		}
	}
	if errors.Is(err, errNoRow) {
		return nil, fmt.Errorf("subject %s: %w", subjectID, ErrNoDataKey)
	}
	if err != nil {
		return nil, err
	}
	if committed {
		k.cache.put(subjectID, key, k.now())
	} else {
		memo.put(subjectID, key)
	}
	return key, nil
}

// load reads and unwraps the subject's key. errNoRow when there is none.
func (k *Keyring) load(ctx context.Context, q database.Querier, subjectID string) ([]byte, error) {
	var (
		wrapped, masterID string
		destroyed         int
	)
	err := q.QueryRow(ctx, sqlLoad, subjectID).Scan(&wrapped, &masterID, &destroyed)
	if errors.Is(err, database.ErrNoRows) {
		return nil, errNoRow
	}
	if err != nil {
		return nil, fmt.Errorf("load data key of subject %s: %w", subjectID, err)
	}
	if destroyed != 0 || wrapped == "" {
		return nil, fmt.Errorf("subject %s: %w", subjectID, ErrErased)
	}
	if masterID != k.masterID {
		return nil, fmt.Errorf("subject %s: %w: it was wrapped by master key %s, this keyring has %s", subjectID, ErrMasterKeyMismatch, masterID, k.masterID)
	}
	key, err := unwrapDataKey(k.wrapKey, subjectID, wrapped)
	if err != nil {
		return nil, fmt.Errorf("subject %s: %w", subjectID, err)
	}
	return key, nil
}

// create stores a new random key for the subject unless one (or a
// tombstone) is already there.
func (k *Keyring) create(ctx context.Context, q database.Querier, subjectID string) (key []byte, stored bool, err error) {
	key = make([]byte, dataKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("generate data key: %w", err)
	}
	wrapped, err := wrapDataKey(k.wrapKey, subjectID, key)
	if err != nil {
		return nil, false, err
	}
	n, err := q.Exec(ctx, sqlCreate, subjectID, wrapped, k.masterID, k.clock())
	if err != nil {
		return nil, false, fmt.Errorf("store data key of subject %s: %w", subjectID, err)
	}
	if n == 0 { // the subject has a key (or a tombstone) already
		clear(key)
		return nil, false, nil
	}
	return key, true, nil
}

// Destroy erases the subject's personal data by destroying their data key
// (crypto-shredding): wrapped_key is emptied and destroyed_at
// set. Afterwards Open of any value sealed for the subject returns
// ErrErased, and Seal and DataKey refuse to make a new key for them.
// Destroying twice, or a subject that never had a key, is not an error (the
// latter leaves a tombstone row).
//
// q may be the caller's transaction. This keyring forgets the key at once;
// other keyrings (other processes) may keep opening values with a cached key
// for up to 5 minutes.
func (k *Keyring) Destroy(ctx context.Context, q database.Querier, subjectID string) error {
	if subjectID == "" {
		return errors.New("keyring: empty subject id")
	}
	k.cache.forget(subjectID, k.now())
	txMemo(ctx, q).forget(subjectID)
	if _, err := q.Exec(ctx, sqlDestroy, subjectID, k.clock()); err != nil {
		return fmt.Errorf("destroy data key of subject %s: %w", subjectID, err)
	}
	return nil
}

// Rotate re-wraps every live data key under newMaster, in transactions of a
// few hundred rows, and returns how many it re-wrapped. The data keys, and
// so the sealed values, do not change: afterwards a Keyring built with
// newMaster opens everything sealed before, and this keyring (the old
// master) is retired and fails with ErrMasterKeyMismatch.
//
// Keys already under newMaster are skipped, so an interrupted rotation is
// resumed by running it again with the old master. Run it while nothing
// else writes with the old master (stop the servers, rotate, restart them
// with the new key): a process still on the old master cannot open rotated
// keys and would wrap new ones under the old master. Blind indexes depend
// on the master key too: recompute them (rebuild the read models) after.
//
// Errors: ErrMasterKeyMismatch, before anything changes, when a live key is
// wrapped by neither master (or, during the run, a key does not
// authenticate); an error when newMaster is zero or is this keyring's
// master; database errors. On error n is the number of keys re-wrapped in
// the transactions that committed.
func (k *Keyring) Rotate(ctx context.Context, db database.DB, newMaster MasterKey) (n int, err error) {
	if err := k.ready(); err != nil {
		return 0, err
	}
	if newMaster.IsZero() {
		return 0, fmt.Errorf("rotate: %w", ErrNoMasterKey)
	}
	if newMaster.Equal(k.master) {
		return 0, fmt.Errorf("rotate: the new master key is the current one (%s); generate a new key", k.masterID)
	}
	newID, newWrap := newMaster.ID(), deriveKey(newMaster, wrapKeyInfo)
	var foreign, foreignID string
	switch err := db.QueryRow(ctx, sqlForeign, k.masterID, newID).Scan(&foreign, &foreignID); {
	case err == nil:
		return 0, fmt.Errorf("rotate: subject %s: %w: it is wrapped by master key %s, neither the current %s nor the new %s; rotate it with the keyring of its master first", foreign, ErrMasterKeyMismatch, foreignID, k.masterID, newID)
	case !errors.Is(err, database.ErrNoRows):
		return 0, fmt.Errorf("rotate: %w", err)
	}
	// Passes until one finds nothing left, so keys created behind the
	// cursor by a concurrent writer are caught too.
	for {
		pass := 0
		after := ""
		for {
			var rows, done int
			err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				var err error
				rows, done, after, err = k.rotateBatch(ctx, tx, after, newID, newWrap)
				return err
			})
			if err != nil {
				return n, fmt.Errorf("rotate to master key %s: %w", newID, err)
			}
			n += done
			pass += done
			if rows < k.batch {
				break
			}
		}
		if pass == 0 {
			break
		}
	}
	k.retired.Store(true)
	k.cache.purge()
	return n, nil
}

// rotateBatch re-wraps up to k.batch keys after the cursor and returns how
// many rows it read, how many it re-wrapped, and the new cursor.
func (k *Keyring) rotateBatch(ctx context.Context, tx database.Tx, after, newID string, newWrap [32]byte) (read, done int, last string, err error) {
	type row struct{ subject, wrapped, masterID string }
	rs, err := tx.Query(ctx, sqlRotateBatch, newID, after, k.batch)
	if err != nil {
		return 0, 0, after, fmt.Errorf("list data keys: %w", err)
	}
	var batch []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.subject, &r.wrapped, &r.masterID); err != nil {
			_ = rs.Close()
			return 0, 0, after, fmt.Errorf("list data keys: %w", err)
		}
		batch = append(batch, r)
	}
	if err := rs.Err(); err != nil {
		_ = rs.Close()
		return 0, 0, after, fmt.Errorf("list data keys: %w", err)
	}
	if err := rs.Close(); err != nil {
		return 0, 0, after, fmt.Errorf("list data keys: %w", err)
	}
	last = after
	for _, r := range batch {
		if r.masterID != k.masterID {
			return 0, 0, after, fmt.Errorf("subject %s: %w: it is wrapped by master key %s, neither the current %s nor the new %s", r.subject, ErrMasterKeyMismatch, r.masterID, k.masterID, newID)
		}
		key, err := unwrapDataKey(k.wrapKey, r.subject, r.wrapped)
		if err != nil {
			return 0, 0, after, fmt.Errorf("subject %s: %w", r.subject, err)
		}
		wrapped, err := wrapDataKey(newWrap, r.subject, key)
		clear(key)
		if err != nil {
			return 0, 0, after, err
		}
		changed, err := tx.Exec(ctx, sqlRewrap, r.subject, wrapped, newID, k.masterID)
		if err != nil {
			return 0, 0, after, fmt.Errorf("re-wrap data key of subject %s: %w", r.subject, err)
		}
		done += int(changed)
		last = r.subject
	}
	return len(batch), done, last, nil
}

// wrapDataKey seals a data key under the wrapping key, bound to the
// subject, as base64 of nonce|ciphertext.
func wrapDataKey(wrapKey [32]byte, subjectID string, dataKey []byte) (string, error) {
	ct, err := aeadSeal(wrapKey[:], []byte(wrapAADPrefix+subjectID), dataKey)
	if err != nil {
		return "", fmt.Errorf("wrap data key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// unwrapDataKey is the inverse of wrapDataKey. ErrMasterKeyMismatch when
// the wrapped key does not authenticate (wrong master, tampered row, or a
// row copied from another subject).
func unwrapDataKey(wrapKey [32]byte, subjectID, wrapped string) ([]byte, error) {
	ct, err := base64.StdEncoding.Strict().DecodeString(wrapped)
	if err != nil {
		return nil, fmt.Errorf("%w: the stored wrapped key is not base64", ErrMasterKeyMismatch)
	}
	key, err := aeadOpen(wrapKey[:], []byte(wrapAADPrefix+subjectID), ct)
	if err != nil || len(key) != dataKeySize {
		return nil, fmt.Errorf("%w: the stored wrapped key does not authenticate (wrong master key, or the row was altered)", ErrMasterKeyMismatch)
	}
	return key, nil
}

// aeadSeal encrypts with AES-256-GCM and a random 96-bit nonce and returns
// nonce|ciphertext|tag.
func aeadSeal(key, aad, plaintext []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, nil, plaintext, aad), nil
}

// aeadOpen is the inverse of aeadSeal; it fails on any alteration.
func aeadOpen(key, aad, sealed []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.Overhead() {
		return nil, errors.New("ciphertext too short")
	}
	return aead.Open(nil, nil, sealed, aad)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}

// deriveKey derives a 32-byte subkey of the master for one purpose: HKDF-
// Expand with SHA-256 (RFC 5869, section 2.3) for one block, which is
// HMAC-SHA256(master, info || 0x01). The master key is uniformly random, so
// it serves as the pseudorandom key without an Extract step.
func deriveKey(master MasterKey, info string) [32]byte {
	mac := hmac.New(sha256.New, master.key[:])
	mac.Write([]byte(info))
	mac.Write([]byte{1})
	var out [32]byte
	mac.Sum(out[:0])
	return out
}

// sqlOtherMaster finds a live key wrapped by another master than $1.
const sqlOtherMaster = `SELECT subject_id, master_key_id FROM data_keys
	WHERE destroyed_at IS NULL AND master_key_id <> $1 ORDER BY subject_id LIMIT 1`

// Check returns an error wrapping ErrMasterKeyMismatch when a live data key
// in the database is wrapped by another master key than the keyring's: the
// wrong key is configured, or a rotation was not finished. Run it at
// start-up, before anything is sealed under a master the others are not.
func (k *Keyring) Check(ctx context.Context, q database.Querier) error {
	if err := k.ready(); err != nil {
		return err
	}
	var subject, other string
	switch err := q.QueryRow(ctx, sqlOtherMaster, k.masterID).Scan(&subject, &other); {
	case errors.Is(err, database.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("check data keys: %w", err)
	}
	return fmt.Errorf("%w: the database's data keys (subject %s, for one) are wrapped by master key %s, but the configured master key is %s; "+
		"configure the master key this database was written with (or finish a rotation with insure keys rotate)", ErrMasterKeyMismatch, subject, other, k.masterID)
}
