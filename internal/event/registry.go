package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Definition describes one event type.
type Definition struct {
	Name          string
	AggregateType string
	SchemaVersion int
	// New returns a pointer to a zero payload to decode into.
	New func() Payload
	// Personal lists the payload's personal fields as dot-separated paths
	// of JSON object keys ("name", "changes.email.new"). Each is a string
	// about the data subject whose id is the event's aggregate id; the
	// event store keeps it encrypted under that subject's key (see
	// internal/personal). A path absent from a payload is skipped.
	Personal []string
}

// Erased is what a personal field reads once its subject's key has been
// destroyed (crypto-shredding): the value itself can never be read again.
const Erased = "[erased]"

// Registry maps event names to their definitions. Build it once at start-up
// with Register; it is read-only afterwards and safe for concurrent reads.
type Registry struct {
	defs map[string]Definition
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{defs: make(map[string]Definition)}
}

// Register adds definitions. It returns an error for an empty or duplicate
// name, a schema version below 1 or a missing constructor.
func (r *Registry) Register(defs ...Definition) error {
	for _, d := range defs {
		switch {
		case d.Name == "":
			return fmt.Errorf("register event: empty name")
		case d.AggregateType == "":
			return fmt.Errorf("register event %s: empty aggregate type", d.Name)
		case d.SchemaVersion < 1:
			return fmt.Errorf("register event %s: schema version %d, want >= 1", d.Name, d.SchemaVersion)
		case d.New == nil:
			return fmt.Errorf("register event %s: no constructor", d.Name)
		}
		for _, path := range d.Personal {
			if path == "" || strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") || strings.Contains(path, "..") {
				return fmt.Errorf("register event %s: personal field path %q is not dot-separated keys", d.Name, path)
			}
		}
		if _, dup := r.defs[d.Name]; dup {
			return fmt.Errorf("register event %s: already registered", d.Name)
		}
		if got := d.New().EventName(); got != d.Name {
			return fmt.Errorf("register event %s: constructor makes %s", d.Name, got)
		}
		r.defs[d.Name] = d
	}
	return nil
}

// Lookup returns the definition of name.
func (r *Registry) Lookup(name string) (Definition, bool) {
	d, ok := r.defs[name]
	return d, ok
}

// Names returns every registered event name, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.defs))
	for n := range r.defs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Decode turns a stored envelope back into its typed payload. It rejects
// unknown event names, schema versions newer than this build knows, and data
// that does not match the payload type (including unknown fields).
func (r *Registry) Decode(env Envelope) (Payload, error) {
	d, ok := r.defs[env.EventName]
	if !ok {
		return nil, fmt.Errorf("decode event %s (%s): %w", env.EventID, env.EventName, ErrUnknownEvent)
	}
	if env.SchemaVersion < 1 || env.SchemaVersion > d.SchemaVersion {
		return nil, fmt.Errorf("decode event %s (%s): schema version %d is not supported (this build knows 1..%d)",
			env.EventID, env.EventName, env.SchemaVersion, d.SchemaVersion)
	}
	p := d.New()
	dec := json.NewDecoder(bytes.NewReader(env.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("decode event %s (%s): %w", env.EventID, env.EventName, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decode event %s (%s): data has more after its JSON object", env.EventID, env.EventName)
	}
	if v, ok := p.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("decode event %s (%s): invalid data: %w", env.EventID, env.EventName, err)
		}
	}
	return p, nil
}

// DecodeAs decodes env and asserts its payload type.
func DecodeAs[T Payload](r *Registry, env Envelope) (T, error) {
	var zero T
	p, err := r.Decode(env)
	if err != nil {
		return zero, err
	}
	t, ok := p.(T)
	if !ok {
		return zero, fmt.Errorf("decode event %s: payload is %T, want %T", env.EventID, p, zero)
	}
	return t, nil
}

// As returns p as a T whether the payload was built as a value (by a
// command) or decoded as a pointer (from the store).
func As[T any](p Payload) (T, bool) {
	switch v := any(p).(type) {
	case T:
		return v, true
	case *T:
		if v != nil {
			return *v, true
		}
	}
	var zero T
	return zero, false
}
