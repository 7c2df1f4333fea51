// Package personal keeps customers' personal data encrypted at rest. It
// connects the keyring (per-customer data keys, crypto-shredding) to the
// places that hold personal data: the personal fields of stored events
// (Codec, used by the event store), the read models and the stored message
// copies (Seal, Open).
//
// A personal value is sealed under its data subject's key with the field it
// belongs to as additional data, so it opens only in its place. Once the
// subject's key is destroyed (erasure), every copy opens as event.Erased.
package personal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/keyring"
)

// Keys is what this package needs of a keyring (*keyring.Keyring).
type Keys interface {
	Seal(ctx context.Context, q database.Querier, subjectID, field, plaintext string) (string, error)
	Open(ctx context.Context, q database.Querier, subjectID, field, sealed string) (string, error)
	BlindIndex(kind, normalized string) string
}

var _ Keys = (*keyring.Keyring)(nil)

// Codec seals and opens the personal fields of events, as the event store
// writes and reads them. The fields are those the event's definition lists
// (event.Definition.Personal); the subject is the event's aggregate id. It
// is safe for concurrent use.
type Codec struct {
	reg  *event.Registry
	keys Keys
}

// NewCodec returns a codec for the events of reg under keys.
func NewCodec(reg *event.Registry, keys Keys) *Codec { return &Codec{reg: reg, keys: keys} }

// eventField is the field name a personal event value is sealed with:
// "event:" + event name + ":" + path, so a sealed value opens only in the
// same field of the same kind of event.
func eventField(name, path string) string { return "event:" + name + ":" + path }

// SealEvent returns env.Data with every personal field sealed. Events
// without personal fields come back unchanged. q is the transaction of the
// append: a subject's first seal creates their data key in it.
func (c *Codec) SealEvent(ctx context.Context, q database.Querier, env event.Envelope) (json.RawMessage, error) {
	return c.transform(env, func(path, v string) (string, error) {
		if v == "" || keyring.IsSealed(v) {
			return v, nil
		}
		return c.keys.Seal(ctx, q, env.AggregateID, eventField(env.EventName, path), v)
	})
}

// OpenEvent returns env.Data with every personal field opened. A field of
// an erased subject reads event.Erased; a value that is not sealed (written
// before encryption was configured) is returned as it is. Any other failure
// to open (a tampered value, a missing or foreign key) is an error.
func (c *Codec) OpenEvent(ctx context.Context, q database.Querier, env event.Envelope) (json.RawMessage, error) {
	return c.transform(env, func(path, v string) (string, error) {
		return openValue(ctx, c.keys, q, env.AggregateID, eventField(env.EventName, path), v)
	})
}

// transform rewrites the personal string fields of env.Data with fn.
func (c *Codec) transform(env event.Envelope, fn func(path, value string) (string, error)) (json.RawMessage, error) {
	def, ok := c.reg.Lookup(env.EventName)
	if !ok || len(def.Personal) == 0 {
		return env.Data, nil
	}
	dec := json.NewDecoder(bytes.NewReader(env.Data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("personal fields of event %s (%s): data is not a JSON object: %w", env.EventID, env.EventName, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("personal fields of event %s (%s): data has more after its JSON object", env.EventID, env.EventName)
	}
	changed := false
	for _, path := range def.Personal {
		parent, key, ok := walk(doc, path)
		if !ok {
			continue
		}
		switch v := parent[key].(type) {
		case nil:
			continue
		case string:
			out, err := fn(path, v)
			if err != nil {
				return nil, fmt.Errorf("personal field %s of event %s (%s): %w", path, env.EventID, env.EventName, err)
			}
			if out != v {
				parent[key] = out
				changed = true
			}
		default:
			return nil, fmt.Errorf("personal field %s of event %s (%s) is %T, not a string", path, env.EventID, env.EventName, v)
		}
	}
	if !changed {
		return env.Data, nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("personal fields of event %s (%s): encode: %w", env.EventID, env.EventName, err)
	}
	return out, nil
}

// walk follows the dot-separated path through nested objects and returns the
// object holding its last key. ok is false when a step is missing or not an
// object.
func walk(doc map[string]any, path string) (parent map[string]any, key string, ok bool) {
	keys := strings.Split(path, ".")
	cur := doc
	for _, k := range keys[:len(keys)-1] {
		next, isObj := cur[k].(map[string]any)
		if !isObj {
			return nil, "", false
		}
		cur = next
	}
	last := keys[len(keys)-1]
	if _, present := cur[last]; !present {
		return nil, "", false
	}
	return cur, last, true
}

// openValue opens one value: sealed values open under the subject's key,
// erased subjects read event.Erased, and values that were never sealed
// (empty, or written before encryption) come back as they are.
func openValue(ctx context.Context, keys Keys, q database.Querier, subjectID, field, v string) (string, error) {
	if !keyring.IsSealed(v) {
		return v, nil
	}
	out, err := keys.Open(ctx, q, subjectID, field, v)
	if errors.Is(err, keyring.ErrErased) {
		return event.Erased, nil
	}
	return out, err
}
