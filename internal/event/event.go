package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Payload is the data of one domain event. Each payload type names its event
// and the aggregate type it belongs to.
type Payload interface {
	EventName() string
}

// Metadata travels with every event. Actor, Channel, IP and UserAgent say who
// caused it and from where; CorrelationID ties together everything that
// followed from one request; CausationID is the event (or request) that
// directly caused this one. TraceParent is the W3C trace context
// (00-<trace-id>-<span-id>-<flags>) of the span that appended the event,
// when it was traced, so that the listeners' spans can link to it; it is
// read back as outside input (it may be malformed) and never trusted.
type Metadata struct {
	EventID       string    `json:"event_id"`
	CorrelationID string    `json:"correlation_id"`
	CausationID   string    `json:"causation_id,omitempty"`
	Actor         string    `json:"actor"`
	Channel       string    `json:"channel,omitempty"`
	IP            string    `json:"ip,omitempty"`
	UserAgent     string    `json:"user_agent,omitempty"`
	OccurredAt    time.Time `json:"occurred_at"`
	TraceParent   string    `json:"traceparent,omitempty"`
}

// Pending is an event that has been decided but not yet appended.
type Pending struct {
	Name          string
	SchemaVersion int
	Data          json.RawMessage
	Metadata      Metadata
	// Payload is the typed value Data was encoded from, kept so that the
	// code appending it can run inline projections without decoding again.
	Payload Payload
}

// Envelope is an event as stored in the event store.
type Envelope struct {
	Position         int64           `json:"position"`
	EventID          string          `json:"event_id"`
	EventName        string          `json:"event_name"`
	AggregateType    string          `json:"aggregate_type"`
	AggregateID      string          `json:"aggregate_id"`
	AggregateVersion int64           `json:"aggregate_version"`
	SchemaVersion    int             `json:"schema_version"`
	Data             json.RawMessage `json:"data"`
	Metadata         Metadata        `json:"metadata"`
	OccurredAt       time.Time       `json:"occurred_at"`
	CreatedAt        time.Time       `json:"-"`
}

// Context is what a command knows about who asked for it and how. It becomes
// the metadata of every event the command records.
type Context struct {
	CorrelationID string
	CausationID   string
	Actor         string
	Channel       string
	IP            string
	UserAgent     string
}

// Child returns the context for work caused by env: same correlation, the
// event as cause, and the given actor.
func (c Context) Child(env Envelope, actor string) Context {
	corr := env.Metadata.CorrelationID
	if corr == "" {
		corr = env.EventID
	}
	return Context{CorrelationID: corr, CausationID: env.EventID, Actor: actor, Channel: "system"}
}

// NewID returns a new time-ordered UUIDv7 string.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// uuid.NewV7 fails only when the system's random source fails.
		return uuid.NewString()
	}
	return id.String()
}

// DerivedID returns a deterministic UUID (version 5) for name within the
// namespace of parent. Listeners use it to give the events and messages they
// create stable ids, so a retried job recreates the same ids and the event
// store's uniqueness turns the repeat into a no-op.
func DerivedID(parent, name string) string {
	ns, err := uuid.Parse(parent)
	if err != nil {
		ns = uuid.NewSHA1(uuid.NameSpaceOID, []byte(parent))
	}
	return uuid.NewSHA1(ns, []byte(name)).String()
}

// ValidID reports whether s is a canonical UUID string.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// ErrUnknownEvent is returned when a stored event's name is not registered.
var ErrUnknownEvent = errors.New("unknown event type")

// New encodes p as a pending event with metadata taken from c, at the
// current schema version of its event. now is the time the event occurred.
// It returns an error wrapping ErrUnknownEvent for an unregistered event, and
// an error for a legacy name (those are only read) or a payload that does not
// encode.
func New(p Payload, c Context, reg *Registry, now time.Time) (Pending, error) {
	def, ok := reg.Lookup(p.EventName())
	if !ok {
		return Pending{}, fmt.Errorf("event %q: %w", p.EventName(), ErrUnknownEvent)
	}
	if def.Name != p.EventName() {
		return Pending{}, fmt.Errorf("event %q is a legacy name, only read: record %s instead", p.EventName(), def.Name)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return Pending{}, fmt.Errorf("encode %s: %w", p.EventName(), err)
	}
	corr := c.CorrelationID
	id := NewID()
	if corr == "" {
		corr = id
	}
	actor := c.Actor
	if actor == "" {
		actor = "system"
	}
	return Pending{
		Name:          p.EventName(),
		SchemaVersion: def.SchemaVersion,
		Data:          data,
		Payload:       p,
		Metadata: Metadata{
			EventID:       id,
			CorrelationID: corr,
			CausationID:   c.CausationID,
			Actor:         actor,
			Channel:       c.Channel,
			IP:            c.IP,
			UserAgent:     c.UserAgent,
			OccurredAt:    now.UTC(),
		},
	}, nil
}
