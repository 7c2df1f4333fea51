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
	// SchemaVersion is the version of the payload's shape that this build
	// writes. Stored events keep the version they were written at; older
	// ones are brought up to this one by Upcasters when they are read.
	SchemaVersion int
	// New returns a pointer to a zero payload to decode into.
	New func() Payload
	// Personal lists the payload's personal fields as dot-separated paths
	// of JSON object keys ("name", "changes.email.new"). Each is a string
	// about the data subject whose id is the event's aggregate id; the
	// event store keeps it encrypted under that subject's key (see
	// internal/personal). A path absent from a payload is skipped. Paths
	// are matched against data as stored, before upcasting: when a new
	// schema version moves or renames a personal field, keep the old path
	// too.
	Personal []string
	// Upcasters bring stored data of an older schema version up to date,
	// one version at a time: Upcasters[v] turns version v into version
	// v+1. Register requires one for every v from 1 to SchemaVersion-1.
	Upcasters map[int]Upcaster
	// Legacy lists retired event names whose stored events are read as this
	// event, each with the upcaster that turns its data into this event's.
	Legacy map[string]LegacyEvent
}

// Erased is what a personal field reads once its subject's key has been
// destroyed (crypto-shredding): the value itself can never be read again.
const Erased = "[erased]"

// Registry maps event names to their definitions. Build it once at start-up
// with Register; it is read-only afterwards and safe for concurrent reads.
type Registry struct {
	defs map[string]Definition
	// legacy maps each legacy name to the name of the event replacing it.
	legacy map[string]string
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{defs: make(map[string]Definition), legacy: make(map[string]string)}
}

// Register adds definitions. It returns an error for an empty name, a name
// already registered (as an event or a legacy name), a schema version below
// 1, a missing constructor, a malformed personal path, an incomplete or
// out-of-range chain of upcasters, and a legacy name without an upcaster or
// with a schema version the definition does not have. Definitions before
// the faulty one stay registered.
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
		if err := checkPaths(d.Personal); err != nil {
			return fmt.Errorf("register event %s: %w", d.Name, err)
		}
		if err := r.taken(d.Name); err != nil {
			return fmt.Errorf("register event %s: %w", d.Name, err)
		}
		if got := d.New().EventName(); got != d.Name {
			return fmt.Errorf("register event %s: constructor makes %s", d.Name, got)
		}
		if err := checkUpcasters(d); err != nil {
			return fmt.Errorf("register event %s: %w", d.Name, err)
		}
		for _, name := range sortedKeys(d.Legacy) {
			if err := r.checkLegacy(d, name); err != nil {
				return fmt.Errorf("register event %s: legacy name %q: %w", d.Name, name, err)
			}
		}
		r.defs[d.Name] = d
		for name := range d.Legacy {
			r.legacy[name] = d.Name
		}
	}
	return nil
}

// taken reports a name already in use as an event or a legacy name.
func (r *Registry) taken(name string) error {
	if _, dup := r.defs[name]; dup {
		return errors.New("already registered")
	}
	if by, dup := r.legacy[name]; dup {
		return fmt.Errorf("already registered as a legacy name of %s", by)
	}
	return nil
}

func checkPaths(paths []string) error {
	for _, path := range paths {
		if path == "" || strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") || strings.Contains(path, "..") {
			return fmt.Errorf("personal field path %q is not dot-separated keys", path)
		}
	}
	return nil
}

// checkUpcasters checks that every stored version below the current one has
// an upcaster to the next, and that there is none for any other version.
func checkUpcasters(d Definition) error {
	for _, v := range sortedKeys(d.Upcasters) {
		if v < 1 || v >= d.SchemaVersion {
			return fmt.Errorf("upcaster from schema version %d: there is no version %d to upcast to or from (current version is %d)", v, v+1, d.SchemaVersion)
		}
	}
	for v := 1; v < d.SchemaVersion; v++ {
		if d.Upcasters[v] == nil {
			return fmt.Errorf("no upcaster from schema version %d to %d: stored events of every older version must stay readable", v, v+1)
		}
	}
	return nil
}

func (r *Registry) checkLegacy(d Definition, name string) error {
	l := d.Legacy[name]
	switch {
	case name == "":
		return errors.New("empty name")
	case name == d.Name:
		return errors.New("is the event's own name")
	case l.Upcast == nil:
		return errors.New("no upcaster")
	case l.SchemaVersion < 1 || l.SchemaVersion > d.SchemaVersion:
		return fmt.Errorf("upcasts to schema version %d, want 1..%d", l.SchemaVersion, d.SchemaVersion)
	}
	if err := checkPaths(l.Personal); err != nil {
		return err
	}
	return r.taken(name)
}

// Lookup returns the definition that reads stored events named name: the
// event registered under name, or, when name is a legacy name, the event
// that replaced it. For a legacy name the definition's Name is the
// replacing event's and its Personal is the legacy event's (the paths of the
// personal fields in data as it was stored under name), so code that works
// on stored data, such as the personal-data codec, finds the right fields.
func (r *Registry) Lookup(name string) (Definition, bool) {
	if d, ok := r.defs[name]; ok {
		return d, true
	}
	current, ok := r.legacy[name]
	if !ok {
		return Definition{}, false
	}
	d := r.defs[current]
	d.Personal = d.Legacy[name].Personal
	return d, true
}

// Names returns every registered event name, sorted. Legacy names are not
// included; a definition's Legacy lists them.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.defs))
	for n := range r.defs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Decode turns a stored envelope back into its typed payload, in the shape
// of the current schema version: it first brings older versions and legacy
// names up to date (see Upcast), then decodes strictly and validates. The
// envelope itself is not changed; the payload's EventName is the current
// name even for a legacy event. Decode rejects unknown event names, schema
// versions this build does not know (below 1, or newer than the current
// one), upcaster failures, data that does not match the payload type
// (including unknown fields) and payloads whose Validate fails.
func (r *Registry) Decode(env Envelope) (Payload, error) {
	up, d, err := r.upcast(env)
	if err != nil {
		return nil, fmt.Errorf("decode event %s (%s): %w", env.EventID, env.EventName, err)
	}
	p := d.New()
	if err := UnmarshalStrict(up.Data, p); err != nil {
		return nil, fmt.Errorf("decode event %s (%s): %w", env.EventID, env.EventName, err)
	}
	if v, ok := p.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("decode event %s (%s): invalid data: %w", env.EventID, env.EventName, err)
		}
	}
	return p, nil
}

// UnmarshalStrict decodes data, one JSON value and nothing after it, into v,
// rejecting object keys that v has no field for. It is how Decode reads
// event data, and what upcasters use to read the versions they upgrade.
func UnmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data has more after its JSON value")
	}
	return nil
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
