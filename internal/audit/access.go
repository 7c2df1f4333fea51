package audit

import (
	"errors"
	"strings"

	"insure/internal/event"
)

// AccessAggregateType is the aggregate type of access records: one
// single-event stream per recorded read.
const AccessAggregateType = "data_access"

// EventDataAccessed is the name of DataAccessed.
const EventDataAccessed = "DataAccessed"

// The reads that are recorded.
const (
	AccessCustomerProfile = "customer.profile"
	AccessCustomerList    = "customer.list"
	AccessCustomerEvents  = "customer.events"
	AccessEventStream     = "events.stream"
	AccessAuditTrail      = "audit.access"
)

// DataAccessed records that someone read personal, event or audit data:
// who (actor and role), what (action and subject), when (the event's
// occurred_at) and from where (ip, user agent, request id).
type DataAccessed struct {
	Actor       string `json:"actor"`
	Role        string `json:"role"`
	Action      string `json:"action"`
	SubjectType string `json:"subject_type"`
	SubjectID   string `json:"subject_id,omitempty"`
	IP          string `json:"ip,omitempty"`
	UserAgent   string `json:"user_agent,omitempty"`
	RequestID   string `json:"request_id,omitempty"`
}

// EventName implements event.Payload.
func (DataAccessed) EventName() string { return EventDataAccessed }

// Validate checks a stored DataAccessed.
func (e DataAccessed) Validate() error {
	switch {
	case strings.TrimSpace(e.Actor) == "":
		return errors.New("actor is required")
	case strings.TrimSpace(e.Action) == "":
		return errors.New("action is required")
	case strings.TrimSpace(e.SubjectType) == "":
		return errors.New("subject_type is required")
	}
	return nil
}

// AccessEvents returns the access record's event definition.
func AccessEvents() []event.Definition {
	return []event.Definition{
		{Name: EventDataAccessed, AggregateType: AccessAggregateType, SchemaVersion: 1, New: func() event.Payload { return &DataAccessed{} }},
	}
}
