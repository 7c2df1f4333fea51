package event

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Upcaster turns the data of one schema version of an event into the data
// of the next version. It must be pure: it works on the JSON alone, gives
// the same output for the same input, does not modify its input, and
// neither looks anything up nor normalises values (a stored event means
// what it meant when it was written). It returns an error for data it
// cannot read; that event then does not decode.
type Upcaster func(data json.RawMessage) (json.RawMessage, error)

// LegacyUpcaster turns the data of a stored legacy event into the data of
// the event that replaced it. It gets the whole envelope, because a legacy
// payload may lack what only the envelope knows (the aggregate id, say); the
// same rules as for an Upcaster apply, and it must not modify env.Data.
type LegacyUpcaster func(env Envelope) (json.RawMessage, error)

// LegacyEvent is a retired event name whose stored events are read as the
// event of the definition that lists it. A legacy event has one shape: its
// stored events must have schema version 1.
type LegacyEvent struct {
	// SchemaVersion is the schema version of the replacing event whose data
	// Upcast returns; the definition's Upcasters take it on from there to
	// the current version, so a legacy upcaster never needs to change.
	SchemaVersion int
	// Upcast turns a stored legacy event's data into that version's data.
	Upcast LegacyUpcaster
	// Personal lists the personal fields of the legacy data as stored, in
	// the form of Definition.Personal. Registry.Lookup of the legacy name
	// returns them, so the personal-data codec opens (and, for an import,
	// seals) the fields a legacy event actually has.
	Personal []string
}

// ErrUpcast is wrapped by the errors of an upcaster that fails, or that
// returns something other than one JSON value.
var ErrUpcast = errors.New("upcast failed")

// Upcast returns env in the shape of its event's current schema version:
// EventName is the current name (for a legacy name, the event that replaced
// it), SchemaVersion the current version and Data the upcast data. Every
// other field is unchanged. An envelope that is already current comes back
// as it is. Upcast does not decode or validate the result; Decode does both
// after upcasting, so code that only needs payloads never calls Upcast.
// Use it where the raw JSON of an event leaves the program and should have
// the current shape.
//
// It returns an error wrapping ErrUnknownEvent for an unknown name, one for
// a schema version this build does not know (below 1, above the current one,
// or other than 1 for a legacy name), and one wrapping ErrUpcast when an
// upcaster fails.
func (r *Registry) Upcast(env Envelope) (Envelope, error) {
	up, _, err := r.upcast(env)
	if err != nil {
		return Envelope{}, fmt.Errorf("upcast event %s (%s): %w", env.EventID, env.EventName, err)
	}
	return up, nil
}

// upcast is Upcast with errors that do not name the event, and the
// definition of the result.
func (r *Registry) upcast(env Envelope) (Envelope, Definition, error) {
	d, ok := r.defs[env.EventName]
	from := env.SchemaVersion
	if !ok {
		current, legacy := r.legacy[env.EventName]
		if !legacy {
			return Envelope{}, Definition{}, ErrUnknownEvent
		}
		d = r.defs[current]
		l := d.Legacy[env.EventName]
		if env.SchemaVersion != 1 {
			return Envelope{}, Definition{}, fmt.Errorf("schema version %d is not supported (%s is a legacy name of %s and has only version 1)",
				env.SchemaVersion, env.EventName, d.Name)
		}
		data, err := checked(l.Upcast(env))
		if err != nil {
			return Envelope{}, Definition{}, fmt.Errorf("read as %s version %d: %w", d.Name, l.SchemaVersion, err)
		}
		env.EventName, env.Data, from = d.Name, data, l.SchemaVersion
	} else if from < 1 || from > d.SchemaVersion {
		return Envelope{}, Definition{}, fmt.Errorf("schema version %d is not supported (this build knows 1..%d)", from, d.SchemaVersion)
	}
	for v := from; v < d.SchemaVersion; v++ {
		data, err := checked(d.Upcasters[v](env.Data))
		if err != nil {
			return Envelope{}, Definition{}, fmt.Errorf("schema version %d to %d: %w", v, v+1, err)
		}
		env.Data = data
	}
	env.SchemaVersion = d.SchemaVersion
	return env, d, nil
}

// checked passes on an upcaster's result, making sure it is one JSON value.
func checked(data json.RawMessage, err error) (json.RawMessage, error) {
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUpcast, err)
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("%w: the upcaster returned data that is not one JSON value", ErrUpcast)
	}
	return data, nil
}

// sortedKeys returns the keys of m in order, so that checks report the same
// problem first on every run.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
