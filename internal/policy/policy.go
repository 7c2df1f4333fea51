package policy

import (
	"fmt"
	"slices"
	"time"

	"insure/internal/apperr"
	"insure/internal/event"
)

// The statuses Policy.Status returns.
const (
	StatusScheduled = "scheduled" // the term has not started
	StatusActive    = "active"    // in force, more than 30 days left
	StatusExpiring  = "expiring"  // in force, 0 to 30 days left
	StatusExpired   = "expired"   // past the end date
)

// SnapshotSchemaVersion is the version of the shape of Policy as snapshots
// keep it (its JSON). Bump it whenever a field of Policy is added, removed
// or renamed, or changes meaning: snapshots of another version are thrown
// away and the policy is rebuilt from the events. Every field must survive
// a JSON round trip (exported, no lossy types).
const SnapshotSchemaVersion = 1

// Policy is the state of one policy, rebuilt from its events. Amounts are in
// minor units of Currency. StartDate and EndDate are the current term.
type Policy struct {
	ID          string `json:"id"`
	Number      string `json:"policy_number"`
	CustomerID  string `json:"customer_id"`
	QuotationID string `json:"quotation_id,omitempty"`
	Insurer     string `json:"insurer"`
	Product     string `json:"product"`
	Premium     int64  `json:"premium"`
	SumInsured  int64  `json:"sum_insured"`
	Currency    string `json:"currency"`
	StartDate   Date   `json:"start_date"`
	EndDate     Date   `json:"end_date"`
	// PreviousStartDate and PreviousEndDate are the term before the last
	// renewal; zero for a policy never renewed.
	PreviousStartDate Date `json:"previous_start_date,omitzero"`
	PreviousEndDate   Date `json:"previous_end_date,omitzero"`
	// Renewals counts the renewals.
	Renewals int `json:"renewals"`
	// Warned lists the thresholds already warned about in the current term,
	// in the order warned; a renewal empties it.
	Warned []int `json:"warned,omitempty"`
	// Version is the aggregate version of the last applied event.
	Version int64 `json:"version"`
	// CreatedAt and UpdatedAt come from the events' occurred_at.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Status returns the policy's status on asOf:
//
//   - "expired" after the end date;
//   - "scheduled" before the start date, unless asOf falls in the term
//     before the last renewal (a policy renewed ahead of its end is still in
//     force on its previous term, and is "active" or "expiring" by the days
//     left to the new end date);
//   - "expiring" with 0 to 30 days left to the end date;
//   - "active" otherwise.
func (p *Policy) Status(asOf Date) string {
	switch {
	case asOf.After(p.EndDate):
		return StatusExpired
	case asOf.Before(p.StartDate) && (p.Renewals == 0 || asOf.Before(p.PreviousStartDate)):
		return StatusScheduled
	case DaysBetween(asOf, p.EndDate) <= 30:
		return StatusExpiring
	}
	return StatusActive
}

// Rebuild returns the policy that envs, the events of one policy stream in
// version order, describe. It decodes each envelope through reg and applies
// it. It returns an apperr.NotFound error when envs is empty, and an error for
// an event of another aggregate type or another aggregate, a version that
// does not follow the previous one (the first must be 1), an event that does
// not decode, or one that does not apply.
func Rebuild(envs []event.Envelope, reg *event.Registry) (*Policy, error) {
	if len(envs) == 0 {
		return nil, apperr.New(apperr.NotFound, "policy not found")
	}
	p := &Policy{}
	err := event.Replay(envs, reg, AggregateType, func(e event.Payload, at time.Time) (string, error) {
		err := p.ApplyAt(e, at)
		return p.ID, err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// RebuildFrom returns the policy that from, a state rebuilt earlier (a
// snapshot at from.Version), becomes with envs, the events of the same
// policy that follow it in version order; the first must have version
// from.Version+1. from is not changed. No envs returns a copy of from; a nil
// from is Rebuild(envs, reg). Errors are Rebuild's.
func RebuildFrom(from *Policy, envs []event.Envelope, reg *event.Registry) (*Policy, error) {
	if from == nil {
		return Rebuild(envs, reg)
	}
	p := *from
	p.Warned = slices.Clone(from.Warned)
	err := event.ReplayAfter(envs, reg, AggregateType, p.ID, p.Version, func(e event.Payload, at time.Time) (string, error) {
		err := p.ApplyAt(e, at)
		return p.ID, err
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Apply applies one event to p and adds one to its Version. It accepts the
// payload types of Events() as pointers or values. It returns an error, and
// leaves p unchanged, for an event of another aggregate, one for another
// policy, or one that does not fit the current state (anything before
// PolicyCreated, a second PolicyCreated, a renewal whose previous term is not
// the current one, a warning for another end date).
func (p *Policy) Apply(e event.Payload) error { return p.ApplyAt(e, time.Time{}) }

// ApplyAt is Apply that also records at, the time the event occurred, as
// UpdatedAt (and as CreatedAt for PolicyCreated). A zero at leaves the
// timestamps alone.
func (p *Policy) ApplyAt(e event.Payload, at time.Time) error {
	switch v := e.(type) {
	case Created:
		e = &v
	case Renewed:
		e = &v
	case ExpiringWarning:
		e = &v
	}
	next := *p
	var err error
	switch v := e.(type) {
	case nil:
		return fmt.Errorf("policy: nil event")
	case *Created:
		if v == nil {
			return fmt.Errorf("policy: nil %s", EventCreated)
		}
		err = next.applyCreated(*v, at)
	case *Renewed:
		if v == nil {
			return fmt.Errorf("policy: nil %s", EventRenewed)
		}
		err = next.applyRenewed(*v)
	case *ExpiringWarning:
		if v == nil {
			return fmt.Errorf("policy: nil %s", EventExpiringWarning)
		}
		err = next.applyWarning(*v)
	default:
		return fmt.Errorf("policy: cannot apply %T: not a policy event", e)
	}
	if err != nil {
		return err
	}
	next.Version++
	if !at.IsZero() {
		next.UpdatedAt = at
	}
	*p = next
	return nil
}

func (p *Policy) applyCreated(e Created, at time.Time) error {
	if p.ID != "" {
		return fmt.Errorf("policy %s: %s: already created", p.ID, EventCreated)
	}
	*p = Policy{
		ID:          e.PolicyID,
		Number:      e.PolicyNumber,
		CustomerID:  e.CustomerID,
		QuotationID: e.QuotationID,
		Insurer:     e.Insurer,
		Product:     e.Product,
		Premium:     e.Premium,
		SumInsured:  e.SumInsured,
		Currency:    e.Currency,
		StartDate:   e.StartDate,
		EndDate:     e.EndDate,
		Version:     p.Version,
		CreatedAt:   at,
		UpdatedAt:   p.UpdatedAt,
	}
	return nil
}

func (p *Policy) applyRenewed(e Renewed) error {
	if err := p.belongs(EventRenewed, e.PolicyID); err != nil {
		return err
	}
	if !e.PreviousStartDate.Equal(p.StartDate) || !e.PreviousEndDate.Equal(p.EndDate) {
		return fmt.Errorf("policy %s: %s renews the term %s..%s, but the current term is %s..%s",
			p.ID, EventRenewed, e.PreviousStartDate, e.PreviousEndDate, p.StartDate, p.EndDate)
	}
	p.PreviousStartDate, p.PreviousEndDate = p.StartDate, p.EndDate
	p.StartDate, p.EndDate = e.StartDate, e.EndDate
	p.Premium, p.SumInsured = e.Premium, e.SumInsured
	p.Renewals++
	p.Warned = nil
	return nil
}

func (p *Policy) applyWarning(e ExpiringWarning) error {
	if err := p.belongs(EventExpiringWarning, e.PolicyID); err != nil {
		return err
	}
	if !e.EndDate.Equal(p.EndDate) {
		return fmt.Errorf("policy %s: %s is for end date %s, but the policy ends on %s", p.ID, EventExpiringWarning, e.EndDate, p.EndDate)
	}
	if !slices.Contains(p.Warned, e.Threshold) {
		p.Warned = append(slices.Clip(p.Warned), e.Threshold)
	}
	return nil
}

func (p *Policy) belongs(name, id string) error {
	if p.ID == "" {
		return fmt.Errorf("policy: %s before %s", name, EventCreated)
	}
	if id != p.ID {
		return fmt.Errorf("policy %s: %s is for policy %s", p.ID, name, id)
	}
	return nil
}

func (p *Policy) exists() error {
	if p == nil || p.ID == "" {
		return apperr.New(apperr.NotFound, "policy not found")
	}
	return nil
}
