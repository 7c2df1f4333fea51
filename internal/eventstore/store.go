package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"insure/internal/database"
	"insure/internal/event"
)

// Errors returned by the store.
var (
	// ErrConcurrency means the aggregate's version is not the one the
	// caller expected: someone else appended first. Nothing was written.
	ErrConcurrency = errors.New("concurrency conflict: the aggregate was changed by someone else; reload and retry")
	// ErrNotFound means no event (or aggregate) matched.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the append was malformed; nothing was written.
	ErrInvalid = errors.New("invalid append")
)

// Store appends and reads events.
type Store struct {
	db       database.DB
	maxBatch int
	now      func() time.Time
	codec    Codec
}

// Codec turns event data as the program holds it into data as the store
// keeps it and back: personal.Codec encrypts the personal fields. q is the
// caller's transaction or database.
type Codec interface {
	SealEvent(ctx context.Context, q database.Querier, env event.Envelope) (json.RawMessage, error)
	OpenEvent(ctx context.Context, q database.Querier, env event.Envelope) (json.RawMessage, error)
}

// SetCodec makes the store seal event data with c on Append and open it on
// Load, Get, Replay and Open. Call it once, before the store is used.
func (s *Store) SetCodec(c Codec) { s.codec = c }

// New returns a store on db. maxBatch caps how many events one ReadAll call
// returns (MAX_EVENTS_PER_BATCH); now is the clock for created_at.
func New(db database.DB, maxBatch int, now func() time.Time) *Store {
	if maxBatch <= 0 {
		maxBatch = 100
	}
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, maxBatch: maxBatch, now: now}
}

// DB returns the database the store is on.
func (s *Store) DB() database.DB { return s.db }

// MaxBatch is the most events ReadAll returns at once.
func (s *Store) MaxBatch() int { return s.maxBatch }

// Append appends events to one aggregate inside tx. expectedVersion is the
// version the caller's decision was based on (0 for a new aggregate). It
// returns ErrConcurrency when the aggregate has moved on, and ErrInvalid for
// a malformed append; in both cases nothing is written. The data is stored
// sealed by the codec; the envelopes returned hold it as given.
func (s *Store) Append(ctx context.Context, tx database.Tx, aggregateType, aggregateID string, expectedVersion int64, events []event.Pending) ([]event.Envelope, error) {
	if err := validateAppend(aggregateType, aggregateID, expectedVersion, events); err != nil {
		return nil, err
	}
	var current int64
	err := tx.QueryRow(ctx, qVersion, aggregateType, aggregateID).Scan(&current)
	if err != nil {
		return nil, fmt.Errorf("append %s/%s: read version: %w", aggregateType, aggregateID, err)
	}
	if current != expectedVersion {
		return nil, fmt.Errorf("append %s/%s at version %d (current %d): %w", aggregateType, aggregateID, expectedVersion, current, ErrConcurrency)
	}
	// Everything that needs no position (metadata, sealing, which may read
	// or create the subject's data key) happens before the stream head is
	// taken: the head's lock is held to the commit and orders every
	// writer, so the less runs under it the more writers commit a second.
	created := s.now().UTC()
	out := make([]event.Envelope, len(events))
	metas := make([]string, len(events))
	stored := make([]string, len(events))
	for i, p := range events {
		meta, err := json.Marshal(p.Metadata)
		if err != nil {
			return nil, fmt.Errorf("append %s: encode metadata: %w", p.Name, err)
		}
		env := event.Envelope{
			EventID:          p.Metadata.EventID,
			EventName:        p.Name,
			AggregateType:    aggregateType,
			AggregateID:      aggregateID,
			AggregateVersion: expectedVersion + int64(i) + 1,
			SchemaVersion:    p.SchemaVersion,
			Data:             p.Data,
			Metadata:         p.Metadata,
			OccurredAt:       p.Metadata.OccurredAt.UTC(),
			CreatedAt:        created,
		}
		data := env.Data
		if s.codec != nil {
			if data, err = s.codec.SealEvent(ctx, tx, env); err != nil {
				return nil, fmt.Errorf("append %s/%s: %w", aggregateType, aggregateID, err)
			}
		}
		out[i], metas[i], stored[i] = env, string(meta), string(data)
	}
	insertErr := func(env *event.Envelope, err error) error {
		if name, ok := database.UniqueConstraint(err); ok {
			if strings.Contains(name, "event_id") {
				return fmt.Errorf("append %s: event id %s already stored: %w", env.EventName, env.EventID, ErrConcurrency)
			}
			return fmt.Errorf("append %s/%s: %w", aggregateType, aggregateID, ErrConcurrency)
		}
		return fmt.Errorf("append %s/%s: %w", aggregateType, aggregateID, err)
	}
	var first int64
	next := 0 // the first event not yet inserted
	if s.db.Dialect() == database.Postgres {
		// The head and the first event in one round trip.
		env := &out[0]
		err := tx.QueryRow(ctx, qAdvanceInsertPG, len(events), env.EventID, env.EventName, env.AggregateType, env.AggregateID,
			env.AggregateVersion, env.SchemaVersion, stored[0], metas[0], env.OccurredAt, env.CreatedAt).Scan(&first)
		if err != nil {
			return nil, insertErr(env, err)
		}
		env.Position, next = first, 1
	} else {
		var last int64
		if err := tx.QueryRow(ctx, qAdvanceHead, len(events)).Scan(&last); err != nil {
			return nil, fmt.Errorf("append %s/%s: advance stream head: %w", aggregateType, aggregateID, err)
		}
		first = last - int64(len(events)) + 1
	}
	for i := next; i < len(out); i++ {
		env := &out[i]
		env.Position = first + int64(i)
		_, err := tx.Exec(ctx, qInsert, env.Position, env.EventID, env.EventName, env.AggregateType, env.AggregateID,
			env.AggregateVersion, env.SchemaVersion, stored[i], metas[i], env.OccurredAt, env.CreatedAt)
		if err != nil {
			return nil, insertErr(env, err)
		}
	}
	return out, nil
}

func validateAppend(aggregateType, aggregateID string, expectedVersion int64, events []event.Pending) error {
	switch {
	case aggregateType == "" || aggregateID == "":
		return fmt.Errorf("%w: aggregate type and id are required", ErrInvalid)
	case expectedVersion < 0:
		return fmt.Errorf("%w: expected version %d is negative", ErrInvalid, expectedVersion)
	case len(events) == 0:
		return fmt.Errorf("%w: no events", ErrInvalid)
	}
	for i, p := range events {
		switch {
		case p.Name == "":
			return fmt.Errorf("%w: event %d has no name", ErrInvalid, i)
		case p.SchemaVersion < 1:
			return fmt.Errorf("%w: event %d (%s) has schema version %d", ErrInvalid, i, p.Name, p.SchemaVersion)
		case !event.ValidID(p.Metadata.EventID):
			return fmt.Errorf("%w: event %d (%s) has event id %q, want a UUID", ErrInvalid, i, p.Name, p.Metadata.EventID)
		case p.Metadata.OccurredAt.IsZero():
			return fmt.Errorf("%w: event %d (%s) has no occurred_at", ErrInvalid, i, p.Name)
		case !json.Valid(p.Data) || len(p.Data) == 0 || p.Data[0] != '{':
			return fmt.Errorf("%w: event %d (%s) data is not a JSON object", ErrInvalid, i, p.Name)
		}
	}
	return nil
}

// Version returns the aggregate's current version (0 if it has no events).
func (s *Store) Version(ctx context.Context, q database.Querier, aggregateType, aggregateID string) (int64, error) {
	var v int64
	if err := q.QueryRow(ctx, qVersion, aggregateType, aggregateID).Scan(&v); err != nil {
		return 0, fmt.Errorf("version of %s/%s: %w", aggregateType, aggregateID, err)
	}
	return v, nil
}

// Load returns all events of one aggregate in version order. It returns
// ErrNotFound when the aggregate has none.
func (s *Store) Load(ctx context.Context, q database.Querier, aggregateType, aggregateID string) ([]event.Envelope, error) {
	rows, err := q.Query(ctx, qLoad, aggregateType, aggregateID)
	if err != nil {
		return nil, fmt.Errorf("load %s/%s: %w", aggregateType, aggregateID, err)
	}
	envs, err := scanAll(rows)
	if err != nil {
		return nil, fmt.Errorf("load %s/%s: %w", aggregateType, aggregateID, err)
	}
	if len(envs) == 0 {
		return nil, fmt.Errorf("load %s/%s: %w", aggregateType, aggregateID, ErrNotFound)
	}
	if err := s.open(ctx, q, envs); err != nil {
		return nil, fmt.Errorf("load %s/%s: %w", aggregateType, aggregateID, err)
	}
	return envs, nil
}

// Open opens the data of envelopes read as stored (ReadAll) in place, as
// Load and Get return it: personal fields in clear, or event.Erased.
func (s *Store) Open(ctx context.Context, q database.Querier, envs []event.Envelope) error {
	return s.open(ctx, q, envs)
}

func (s *Store) open(ctx context.Context, q database.Querier, envs []event.Envelope) error {
	if s.codec == nil {
		return nil
	}
	for i := range envs {
		data, err := s.codec.OpenEvent(ctx, q, envs[i])
		if err != nil {
			return err
		}
		envs[i].Data = data
	}
	return nil
}

// Get returns one event by id.
func (s *Store) Get(ctx context.Context, q database.Querier, eventID string) (event.Envelope, error) {
	if !event.ValidID(eventID) {
		return event.Envelope{}, fmt.Errorf("event %q: %w", eventID, ErrNotFound)
	}
	rows, err := q.Query(ctx, qGet, eventID)
	if err != nil {
		return event.Envelope{}, fmt.Errorf("get event %s: %w", eventID, err)
	}
	envs, err := scanAll(rows)
	if err != nil {
		return event.Envelope{}, fmt.Errorf("get event %s: %w", eventID, err)
	}
	if len(envs) == 0 {
		return event.Envelope{}, fmt.Errorf("event %s: %w", eventID, ErrNotFound)
	}
	if err := s.open(ctx, q, envs); err != nil {
		return event.Envelope{}, fmt.Errorf("get event %s: %w", eventID, err)
	}
	return envs[0], nil
}

// ReadAll returns up to limit events with a position after the given one, in
// position order, optionally only those whose name is in names. limit is
// capped by the store's batch size; 0 means the batch size. The data is as
// stored, personal fields sealed: that is what leaves insure through the
// event stream. Open opens it.
func (s *Store) ReadAll(ctx context.Context, q database.Querier, after int64, limit int, names []string) ([]event.Envelope, error) {
	if after < 0 {
		return nil, fmt.Errorf("read stream: position %d is negative: %w", after, ErrInvalid)
	}
	if limit <= 0 || limit > s.maxBatch {
		limit = s.maxBatch
	}
	query := qReadAll
	args := []any{after, limit}
	if len(names) > 0 {
		ph := make([]string, len(names))
		for i, n := range names {
			args = append(args, n)
			ph[i] = "$" + strconv.Itoa(i+3)
		}
		query = qReadAllFiltered(strings.Join(ph, ", "))
	}
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read stream after %d: %w", after, err)
	}
	envs, err := scanAll(rows)
	if err != nil {
		return nil, fmt.Errorf("read stream after %d: %w", after, err)
	}
	return envs, nil
}

// Head returns the position of the newest event (0 when there is none).
func (s *Store) Head(ctx context.Context, q database.Querier) (int64, error) {
	var p int64
	if err := q.QueryRow(ctx, qHead).Scan(&p); err != nil {
		return 0, fmt.Errorf("stream head: %w", err)
	}
	return p, nil
}

// Replay rebuilds a projection for one aggregate: it passes each of the
// aggregate's events, in order, to handle, and stops at the first error.
func (s *Store) Replay(ctx context.Context, q database.Querier, aggregateType, aggregateID string, handle func(ctx context.Context, env event.Envelope) error) error {
	envs, err := s.Load(ctx, q, aggregateType, aggregateID)
	if err != nil {
		return err
	}
	for _, env := range envs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := handle(ctx, env); err != nil {
			return fmt.Errorf("replay %s/%s at version %d (%s): %w", aggregateType, aggregateID, env.AggregateVersion, env.EventName, err)
		}
	}
	return nil
}

func scanAll(rows database.Rows) ([]event.Envelope, error) {
	defer rows.Close()
	var out []event.Envelope
	for rows.Next() {
		var (
			env        event.Envelope
			data, meta []byte
		)
		if err := rows.Scan(&env.Position, &env.EventID, &env.EventName, &env.AggregateType, &env.AggregateID,
			&env.AggregateVersion, &env.SchemaVersion, &data, &meta, &env.OccurredAt, &env.CreatedAt); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		if !json.Valid(data) {
			return nil, fmt.Errorf("stored event %s at position %d: data is not valid JSON", env.EventID, env.Position)
		}
		env.Data = json.RawMessage(data)
		if err := json.Unmarshal(meta, &env.Metadata); err != nil {
			return nil, fmt.Errorf("stored event %s at position %d: metadata: %w", env.EventID, env.Position, err)
		}
		env.OccurredAt = env.OccurredAt.UTC()
		env.CreatedAt = env.CreatedAt.UTC()
		out = append(out, env)
	}
	return out, rows.Err()
}
