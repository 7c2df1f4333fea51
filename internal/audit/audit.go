package audit

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"insure/internal/apperr"
	"insure/internal/event"
)

// AggregateType is the aggregate type of every audit log stream.
const AggregateType = "audit_log"

// EventActionLogged is the name of the audit event.
const EventActionLogged = "CustomerActionLogged"

// Limits of a log entry.
const (
	MaxActionLen  = 100 // bytes
	MaxActorLen   = 200 // characters
	MaxSummaryLen = 500 // characters
)

// Events returns the definitions of the audit events, for the registry.
func Events() []event.Definition {
	return []event.Definition{
		{Name: EventActionLogged, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &ActionLogged{} }},
	}
}

// ActionLogged records one action on a customer. SourceEventID and
// SourceEventName identify the domain event the action is taken from.
type ActionLogged struct {
	CustomerID      string `json:"customer_id"`
	Action          string `json:"action"`
	SourceEventID   string `json:"source_event_id"`
	SourceEventName string `json:"source_event_name"`
	Actor           string `json:"actor"`
	Summary         string `json:"summary"`
}

// EventName implements event.Payload.
func (ActionLogged) EventName() string { return EventActionLogged }

// Validate checks the fields a stored CustomerActionLogged must have.
func (e ActionLogged) Validate() error {
	if err := check(e); err != nil {
		// A plain error: corrupt stored data is not the caller's bad input.
		return errors.New(err.Error())
	}
	return nil
}

// actions maps customer-related event names to audit actions.
func actions() map[string]string {
	return map[string]string{
		"CustomerRegistered":         "customer.registered",
		"CustomerProfileUpdated":     "customer.profile_updated",
		"CustomerEmailVerified":      "customer.email_verified",
		"CustomerPersonalDataErased": "customer.personal_data_erased",
		"QuotationRequested":         "quotation.requested",
		"QuotationGenerated":         "quotation.generated",
		"QuotationGenerationFailed":  "quotation.generation_failed",
		"PolicyCreated":              "policy.created",
		"PolicyRenewed":              "policy.renewed",
		"PolicyExpiringWarning":      "policy.expiring_warning",
		"EmailQueued":                "message.email_queued",
		"WhatsAppMessageQueued":      "message.whatsapp_queued",
		"MessageSent":                "message.sent",
		"MessageFailed":              "message.failed",
		"MessageSkipped":             "message.skipped",
	}
}

// ActionFor returns the audit action for a customer-related event name, such
// as "customer.registered" for "CustomerRegistered", and false for an event
// that is not audited. The message events (EmailQueued … MessageSkipped) map
// too; an e-mail to the administrators has no customer and is not logged.
// MessageSent, MessageFailed and MessageSkipped carry no customer id, so the
// listener takes it from the message.
func ActionFor(eventName string) (string, bool) {
	a, ok := actions()[eventName]
	return a, ok
}

// EventNames returns the event names ActionFor maps, sorted: the events an
// audit listener subscribes to.
func EventNames() []string {
	return slices.Sorted(maps.Keys(actions()))
}

// LogAction decides one audit entry. Every field is required; customerID and
// sourceEventID are UUIDs; action is lower-case words joined by dots and
// underscores ("customer.profile_updated"); actor is at most 200 characters
// and summary at most 500, neither with control characters, and summary
// without an e-mail address. Errors are apperr.Invalid naming the field
// (customer_id, action, source_event_id, source_event_name, actor, summary).
func LogAction(customerID, action, sourceEventID, sourceEventName, actor, summary string) ([]event.Payload, error) {
	e := ActionLogged{
		CustomerID:      customerID,
		Action:          action,
		SourceEventID:   sourceEventID,
		SourceEventName: sourceEventName,
		Actor:           strings.TrimSpace(actor),
		Summary:         strings.TrimSpace(summary),
	}
	if err := check(e); err != nil {
		return nil, err
	}
	return []event.Payload{&e}, nil
}

func check(e ActionLogged) error {
	switch {
	case !event.ValidID(e.CustomerID):
		return apperr.Field("customer_id", "must be a customer id (a UUID), got %q", e.CustomerID)
	case !validAction(e.Action):
		return apperr.Field("action", "must be lower-case words joined by dots, such as \"customer.registered\", got %q", e.Action)
	case !event.ValidID(e.SourceEventID):
		return apperr.Field("source_event_id", "must be the id (a UUID) of the event the action is taken from, got %q", e.SourceEventID)
	case strings.TrimSpace(e.SourceEventName) == "":
		return apperr.Field("source_event_name", "is required")
	}
	if err := text("actor", e.Actor, MaxActorLen); err != nil {
		return err
	}
	if err := text("summary", e.Summary, MaxSummaryLen); err != nil {
		return err
	}
	if strings.Contains(e.Summary, "@") {
		return apperr.Field("summary", "must not contain personal data such as an e-mail address")
	}
	return nil
}

func text(field, s string, max int) error {
	switch n := utf8.RuneCountInString(s); {
	case strings.TrimSpace(s) == "":
		return apperr.Field(field, "is required")
	case !utf8.ValidString(s):
		return apperr.Field(field, "must be valid UTF-8 text")
	case n > max:
		return apperr.Field(field, "must be at most %d characters, got %d", max, n)
	case strings.ContainsFunc(s, unicode.IsControl):
		return apperr.Field(field, "must not contain control characters such as line breaks")
	}
	return nil
}

// validAction reports whether a is lower-case ASCII words of a-z, 0-9 and _,
// joined by single dots.
func validAction(a string) bool {
	if a == "" || len(a) > MaxActionLen {
		return false
	}
	for _, part := range strings.Split(a, ".") {
		if part == "" {
			return false
		}
		for i := range len(part) {
			c := part[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
				return false
			}
		}
	}
	return true
}

// Entry is one action in a Log.
type Entry struct {
	Action          string    `json:"action"`
	SourceEventID   string    `json:"source_event_id"`
	SourceEventName string    `json:"source_event_name"`
	Actor           string    `json:"actor"`
	Summary         string    `json:"summary"`
	LoggedAt        time.Time `json:"logged_at"`
}

// Log is the state of one audit log stream: entries about one customer, in
// the order logged.
type Log struct {
	// ID is the stream's aggregate id.
	ID         string  `json:"id"`
	CustomerID string  `json:"customer_id"`
	Entries    []Entry `json:"entries"`
	// Version is the aggregate version of the last applied event.
	Version int64 `json:"version"`
	// CreatedAt and UpdatedAt come from the events' occurred_at.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Logged reports whether the log already has an entry taken from the event
// sourceEventID, so a listener can skip a repeat.
func (l *Log) Logged(sourceEventID string) bool {
	return slices.ContainsFunc(l.Entries, func(e Entry) bool { return e.SourceEventID == sourceEventID })
}

// Rebuild returns the log that envs, the events of one audit_log stream in
// version order, describe. It decodes each envelope through reg and applies
// it. It returns an apperr.NotFound error when envs is empty, and an error for
// an event of another aggregate type or another aggregate, a version that
// does not follow the previous one (the first must be 1), an event that does
// not decode, or one that does not apply.
func Rebuild(envs []event.Envelope, reg *event.Registry) (*Log, error) {
	if len(envs) == 0 {
		return nil, apperr.New(apperr.NotFound, "audit log not found")
	}
	l := &Log{ID: envs[0].AggregateID}
	err := event.Replay(envs, reg, AggregateType, func(p event.Payload, at time.Time) (string, error) {
		err := l.ApplyAt(p, at)
		return l.ID, err
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Apply applies one event to l and adds one to its Version. It accepts
// ActionLogged as a pointer or a value. It returns an error, and leaves l
// unchanged, for an event of another aggregate or one about another customer
// than the log's first entry.
func (l *Log) Apply(p event.Payload) error { return l.ApplyAt(p, time.Time{}) }

// ApplyAt is Apply that also records at, the time the event occurred, as the
// entry's LoggedAt and as UpdatedAt (and CreatedAt for the first entry).
func (l *Log) ApplyAt(p event.Payload, at time.Time) error {
	if v, ok := p.(ActionLogged); ok {
		p = &v
	}
	e, ok := p.(*ActionLogged)
	switch {
	case p == nil:
		return fmt.Errorf("audit log: nil event")
	case !ok:
		return fmt.Errorf("audit log: cannot apply %T: not an audit event", p)
	case e == nil:
		return fmt.Errorf("audit log: nil %s", EventActionLogged)
	case l.CustomerID != "" && e.CustomerID != l.CustomerID:
		return fmt.Errorf("audit log %s: entry for customer %s in the log of customer %s", l.ID, e.CustomerID, l.CustomerID)
	}
	next := *l
	next.CustomerID = e.CustomerID
	next.Entries = append(slices.Clip(l.Entries), Entry{
		Action:          e.Action,
		SourceEventID:   e.SourceEventID,
		SourceEventName: e.SourceEventName,
		Actor:           e.Actor,
		Summary:         e.Summary,
		LoggedAt:        at,
	})
	next.Version++
	if !at.IsZero() {
		if next.CreatedAt.IsZero() {
			next.CreatedAt = at
		}
		next.UpdatedAt = at
	}
	*l = next
	return nil
}
