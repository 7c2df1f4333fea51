package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"insure/internal/database"
	"insure/internal/keyring"
)

// Errors returned by the store.
var (
	// ErrNotFound means the aggregate has no stored snapshot.
	ErrNotFound = errors.New("no snapshot")
	// ErrCorrupt means a stored snapshot cannot be used: its state does not
	// decode, or a snapshot that must be sealed is not. Delete it; the
	// aggregate rebuilds from its events.
	ErrCorrupt = errors.New("snapshot is corrupt")
	// ErrNoKeys means a snapshot of personal state was saved or loaded
	// through a store built without a Sealer.
	ErrNoKeys = errors.New("snapshot store has no keys to seal personal state with")
)

// The store's SQL, valid on SQLite and PostgreSQL alike. The upsert
// replaces a stored snapshot only with a newer one, or with one of another
// schema version (which the stored one then is not worth keeping).
const (
	qSave = `INSERT INTO aggregate_snapshots (aggregate_type, aggregate_id, version, schema_version, state, created_at)
	VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET version = excluded.version,
		schema_version = excluded.schema_version, state = excluded.state, created_at = excluded.created_at
	WHERE aggregate_snapshots.version < excluded.version OR aggregate_snapshots.schema_version <> excluded.schema_version`

	qLoad = `SELECT version, schema_version, state, created_at FROM aggregate_snapshots
	WHERE aggregate_type = $1 AND aggregate_id = $2`

	qDelete = `DELETE FROM aggregate_snapshots WHERE aggregate_type = $1 AND aggregate_id = $2`
)

// Sealer seals and opens values under a data subject's key
// (*keyring.Keyring). Open fails with keyring.ErrErased once the subject's
// key is destroyed, and Seal too.
type Sealer interface {
	Seal(ctx context.Context, q database.Querier, subjectID, field, plaintext string) (string, error)
	Open(ctx context.Context, q database.Querier, subjectID, field, sealed string) (string, error)
}

var _ Sealer = (*keyring.Keyring)(nil)

// Snapshot is the state of one aggregate at a version.
type Snapshot struct {
	AggregateType string
	AggregateID   string
	// Version is the aggregate version of the last event the state holds.
	Version int64
	// SchemaVersion is the version of the state's shape (see Kind).
	SchemaVersion int
	// State is the state's JSON, in clear.
	State json.RawMessage
	// CreatedAt is when the snapshot was saved (set by Save).
	CreatedAt time.Time
}

// Store reads and writes snapshots. Every method takes the database or the
// caller's transaction. It is safe for concurrent use.
type Store struct {
	keys  Sealer
	every int
	now   func() time.Time
}

// NewStore returns a store that seals personal state with keys (nil: such
// state cannot be snapshotted). every is the snapshot interval
// (SNAPSHOT_EVERY): a load that replays at least that many events past the
// newest snapshot takes a new one (see Due); 0 means never. now is the
// clock for created_at (time.Now when nil).
func NewStore(keys Sealer, every int, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{keys: keys, every: max(every, 0), now: now}
}

// Every is the snapshot interval; 0 means snapshots are never taken.
func (s *Store) Every() int {
	if s == nil {
		return 0
	}
	return s.every
}

// Due reports whether a load that replayed replayed events past the newest
// snapshot (or from the start, without one) should save a new snapshot. It
// is false for a nil store.
func (s *Store) Due(replayed int) bool {
	return s != nil && s.every > 0 && replayed >= s.every
}

// field is the field a personal snapshot is sealed with: it opens only as a
// snapshot of the same aggregate type.
func field(aggregateType string) string { return "snapshot:" + aggregateType }

// Save stores snap as the aggregate's snapshot, unless the stored one is
// as new (the same or a higher version) and of the same schema version:
// saved reports whether it was stored. With personal the state is sealed
// under the key of the aggregate itself as data subject (its id). Errors:
// keyring.ErrErased (wrapped) when that subject was erased, ErrNoKeys for
// personal state without a Sealer, and those of the database.
func (s *Store) Save(ctx context.Context, q database.Querier, snap Snapshot, personal bool) (saved bool, err error) {
	what := snap.AggregateType + "/" + snap.AggregateID
	switch {
	case snap.AggregateType == "" || snap.AggregateID == "":
		return false, errors.New("save snapshot: aggregate type and id are required")
	case snap.Version < 1 || snap.SchemaVersion < 1:
		return false, fmt.Errorf("save snapshot of %s: version %d and schema version %d must be 1 or more", what, snap.Version, snap.SchemaVersion)
	case !json.Valid(snap.State):
		return false, fmt.Errorf("save snapshot of %s: state is not JSON", what)
	}
	state := string(snap.State)
	if personal {
		if s.keys == nil {
			return false, fmt.Errorf("save snapshot of %s: %w", what, ErrNoKeys)
		}
		if state, err = s.keys.Seal(ctx, q, snap.AggregateID, field(snap.AggregateType), state); err != nil {
			return false, fmt.Errorf("save snapshot of %s: %w", what, err)
		}
	}
	n, err := q.Exec(ctx, qSave, snap.AggregateType, snap.AggregateID, snap.Version, snap.SchemaVersion, state, s.now().UTC())
	if err != nil {
		return false, fmt.Errorf("save snapshot of %s at version %d: %w", what, snap.Version, err)
	}
	return n > 0, nil
}

// Load returns the stored snapshot of one aggregate, its state opened when
// personal (see Save). Errors: ErrNotFound when there is none;
// keyring.ErrErased (wrapped) when it was sealed under the key of a subject
// since erased; ErrCorrupt when personal state is stored in clear; ErrNoKeys
// for personal state without a Sealer; those of the keyring (a tampered
// value) and the database. It checks neither the schema version nor the
// state's shape: Kind.Load does.
func (s *Store) Load(ctx context.Context, q database.Querier, aggregateType, aggregateID string, personal bool) (Snapshot, error) {
	what := aggregateType + "/" + aggregateID
	snap := Snapshot{AggregateType: aggregateType, AggregateID: aggregateID}
	var state string
	err := q.QueryRow(ctx, qLoad, aggregateType, aggregateID).Scan(&snap.Version, &snap.SchemaVersion, &state, &snap.CreatedAt)
	if errors.Is(err, database.ErrNoRows) {
		return Snapshot{}, fmt.Errorf("snapshot of %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("load snapshot of %s: %w", what, err)
	}
	snap.CreatedAt = snap.CreatedAt.UTC()
	if personal {
		if s.keys == nil {
			return Snapshot{}, fmt.Errorf("load snapshot of %s: %w", what, ErrNoKeys)
		}
		if !keyring.IsSealed(state) {
			return Snapshot{}, fmt.Errorf("snapshot of %s holds personal data but is not sealed: %w", what, ErrCorrupt)
		}
		if state, err = s.keys.Open(ctx, q, aggregateID, field(aggregateType), state); err != nil {
			return Snapshot{}, fmt.Errorf("open snapshot of %s: %w", what, err)
		}
	}
	snap.State = json.RawMessage(state)
	return snap, nil
}

// Delete deletes the snapshot of one aggregate, if it has one. It needs no
// Store: erasure calls it in its transaction whether snapshots are on or
// off.
func Delete(ctx context.Context, q database.Querier, aggregateType, aggregateID string) error {
	if _, err := q.Exec(ctx, qDelete, aggregateType, aggregateID); err != nil {
		return fmt.Errorf("delete snapshot of %s/%s: %w", aggregateType, aggregateID, err)
	}
	return nil
}
