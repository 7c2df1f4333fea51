package event

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Replay feeds envs, the events of one stream in version order, to apply:
// it is the loop behind every aggregate's Rebuild. For each envelope it
// checks that the event belongs to an aggregate of aggregateType and to the
// same aggregate as the first event, and that its version follows the
// previous one (the first must be 1). It then decodes the event through reg
// and calls apply with the payload and the time the event occurred (the
// envelope's occurred_at, or its metadata's when that is zero). apply
// applies the payload and returns the aggregate's id afterwards, which must
// be the stream's.
//
// Errors read "rebuild <aggregate> <id>: …", naming the aggregate by its type
// with underscores as spaces ("audit_log" becomes "audit log"). Replay
// returns an error for empty envs (callers that report a missing aggregate
// in their own terms check for that first), an event of another aggregate
// type or aggregate, a version out of sequence, an event that does not
// decode (wrapping the error of Registry.Decode, such as ErrUnknownEvent),
// an error from apply (wrapped), and an id from apply that is not the
// stream's.
func Replay(envs []Envelope, reg *Registry, aggregateType string, apply func(p Payload, at time.Time) (id string, err error)) error {
	if len(envs) == 0 {
		return errors.New("rebuild " + strings.ReplaceAll(aggregateType, "_", " ") + ": no events")
	}
	return ReplayAfter(envs, reg, aggregateType, envs[0].AggregateID, 0, apply)
}

// ReplayAfter is Replay for the events of aggregate id that follow version
// after, applied onto a state that already holds the first after events (a
// snapshot): the first envelope must have version after+1. No envs is
// nothing to apply, not an error. Errors are Replay's.
func ReplayAfter(envs []Envelope, reg *Registry, aggregateType, id string, after int64, apply func(p Payload, at time.Time) (id string, err error)) error {
	noun := strings.ReplaceAll(aggregateType, "_", " ")
	for i, env := range envs {
		if env.AggregateType != aggregateType {
			return fmt.Errorf("rebuild %s %s: event %s (%s) belongs to aggregate type %q", noun, id, env.EventID, env.EventName, env.AggregateType)
		}
		if env.AggregateID != id {
			return fmt.Errorf("rebuild %s %s: event %s (%s) belongs to %s %s", noun, id, env.EventID, env.EventName, noun, env.AggregateID)
		}
		if want := after + int64(i) + 1; env.AggregateVersion != want {
			return fmt.Errorf("rebuild %s %s: event %s (%s) has version %d, want %d", noun, id, env.EventID, env.EventName, env.AggregateVersion, want)
		}
		p, err := reg.Decode(env)
		if err != nil {
			return fmt.Errorf("rebuild %s %s: %w", noun, id, err)
		}
		got, err := apply(p, occurredAt(env))
		if err != nil {
			return fmt.Errorf("rebuild %s %s: event %s: %w", noun, id, env.EventID, err)
		}
		if got != id {
			return fmt.Errorf("rebuild %s %s: event %s is for %s %s", noun, id, env.EventID, noun, got)
		}
	}
	return nil
}

// occurredAt is when env happened: its occurred_at, or its metadata's.
func occurredAt(env Envelope) time.Time {
	if !env.OccurredAt.IsZero() {
		return env.OccurredAt
	}
	return env.Metadata.OccurredAt
}
