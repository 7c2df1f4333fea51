package snapshot

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"insure/internal/database"
	"insure/internal/keyring"
)

// Kind is how the states of one aggregate type, held in a T, are
// snapshotted: as the JSON of T. Build one per aggregate type, next to the
// code that loads that aggregate.
type Kind[T any] struct {
	// AggregateType is the aggregate type of the streams (customer.AggregateType).
	AggregateType string
	// SchemaVersion is the version of T's shape (such as
	// customer.SnapshotSchemaVersion). A stored snapshot of another version
	// is thrown away.
	SchemaVersion int
	// Personal is set when T holds personal data whose subject is the
	// aggregate itself (a customer): the state is stored sealed under the
	// key of the aggregate's id.
	Personal bool
}

// Load returns the state and version of the aggregate's stored snapshot, or
// nil and 0 when there is none to use: none is stored, it is of another
// schema version, or it is sealed under the key of a subject since erased
// (the last two are deleted). A snapshot whose state does not decode as a T
// (strictly: no unknown fields) is deleted and reported as ErrCorrupt; other
// errors (the database, a tampered value) are returned as they are.
// Whenever it returns no state the caller rebuilds from all the events. A
// nil store has no snapshots.
func (k Kind[T]) Load(ctx context.Context, s *Store, q database.Querier, id string) (*T, int64, error) {
	if s == nil {
		return nil, 0, nil
	}
	snap, err := s.Load(ctx, q, k.AggregateType, id, k.Personal)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, 0, nil
	case errors.Is(err, keyring.ErrErased):
		return nil, 0, Delete(ctx, q, k.AggregateType, id)
	case errors.Is(err, ErrCorrupt):
		return nil, 0, errors.Join(err, Delete(ctx, q, k.AggregateType, id))
	case err != nil:
		return nil, 0, err
	case snap.SchemaVersion != k.SchemaVersion:
		return nil, 0, Delete(ctx, q, k.AggregateType, id)
	}
	dec := json.NewDecoder(bytes.NewReader(snap.State))
	dec.DisallowUnknownFields()
	state := new(T)
	if err := dec.Decode(state); err != nil {
		err = fmt.Errorf("snapshot of %s/%s at version %d: %w: %w", k.AggregateType, id, snap.Version, ErrCorrupt, err)
		return nil, 0, errors.Join(err, Delete(ctx, q, k.AggregateType, id))
	}
	return state, snap.Version, nil
}

// Save stores state, the aggregate's state at version, as its snapshot
// unless a snapshot as new is stored (see Store.Save). Errors are
// Store.Save's, and a state that does not encode.
func (k Kind[T]) Save(ctx context.Context, s *Store, q database.Querier, id string, version int64, state *T) (saved bool, err error) {
	if s == nil || state == nil {
		return false, nil
	}
	data, err := json.Marshal(state)
	if err != nil {
		return false, fmt.Errorf("encode snapshot of %s/%s: %w", k.AggregateType, id, err)
	}
	return s.Save(ctx, q, Snapshot{AggregateType: k.AggregateType, AggregateID: id, Version: version,
		SchemaVersion: k.SchemaVersion, State: data}, k.Personal)
}

// Check reports whether every value of T survives a JSON round trip whole,
// as a snapshot must: every field, at any depth, is exported and not
// skipped (`json:"-"`), or its type encodes and decodes itself
// (json.Marshaler and json.Unmarshaler, or the Text ones, such as
// time.Time); there is no interface, function, channel or complex number;
// map keys are strings, integers or encode themselves. It also checks the
// aggregate type and schema version. Tests call it for every kind.
func (k Kind[T]) Check() error {
	if k.AggregateType == "" || k.SchemaVersion < 1 {
		return fmt.Errorf("snapshot kind %q: aggregate type and a schema version of 1 or more are required", k.AggregateType)
	}
	t := reflect.TypeFor[T]()
	if err := checkJSON(t, t.String(), map[reflect.Type]bool{}); err != nil {
		return fmt.Errorf("snapshot kind %s: %w", k.AggregateType, err)
	}
	return nil
}

// codesItself reports whether t encodes and decodes itself.
func codesItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return (t.Implements(reflect.TypeFor[json.Marshaler]()) && p.Implements(reflect.TypeFor[json.Unmarshaler]())) ||
		(t.Implements(reflect.TypeFor[encoding.TextMarshaler]()) && p.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()))
}

func checkJSON(t reflect.Type, path string, seen map[reflect.Type]bool) error {
	if codesItself(t) || seen[t] {
		return nil
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return nil
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return checkJSON(t.Elem(), path+"[]", seen)
	case reflect.Map:
		switch k := t.Key(); {
		case k.Kind() == reflect.String, k.Kind() >= reflect.Int && k.Kind() <= reflect.Uint64, codesItself(k):
		default:
			return fmt.Errorf("%s: map key type %s does not round-trip through JSON", path, k)
		}
		return checkJSON(t.Elem(), path+"[key]", seen)
	case reflect.Struct:
		for f := range t.Fields() {
			name := path + "." + f.Name
			if f.Tag.Get("json") == "-" {
				return fmt.Errorf("%s is left out of JSON (json:\"-\"); a snapshot would lose it", name)
			}
			if !f.IsExported() && !f.Anonymous {
				return fmt.Errorf("%s is unexported; a snapshot would lose it", name)
			}
			if err := checkJSON(f.Type, name, seen); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%s: a %s does not round-trip through JSON", path, t.Kind())
}
