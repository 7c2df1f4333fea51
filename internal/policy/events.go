package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"insure/internal/event"
)

// AggregateType is the aggregate type of every policy stream.
const AggregateType = "policy"

// The names of the policy events.
const (
	EventCreated         = "PolicyCreated"
	EventRenewed         = "PolicyRenewed"
	EventExpiringWarning = "PolicyExpiringWarning"
)

// Events returns the definitions of the policy events, for the registry.
func Events() []event.Definition {
	return []event.Definition{
		{Name: EventCreated, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &Created{} }},
		{Name: EventRenewed, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &Renewed{} }},
		{Name: EventExpiringWarning, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &ExpiringWarning{} }},
	}
}

// Created is recorded once, when a policy is issued. Amounts are in minor
// units of Currency. The term runs from StartDate to EndDate.
type Created struct {
	PolicyID     string `json:"policy_id"`
	PolicyNumber string `json:"policy_number"`
	CustomerID   string `json:"customer_id"`
	QuotationID  string `json:"quotation_id,omitempty"`
	Insurer      string `json:"insurer"`
	Product      string `json:"product"`
	Premium      int64  `json:"premium"`
	SumInsured   int64  `json:"sum_insured"`
	Currency     string `json:"currency"`
	StartDate    Date   `json:"start_date"`
	EndDate      Date   `json:"end_date"`
}

// EventName implements event.Payload.
func (Created) EventName() string { return EventCreated }

// Validate checks the fields a stored PolicyCreated must have.
func (e Created) Validate() error {
	switch {
	case !event.ValidID(e.PolicyID):
		return errors.New("policy_id must be a UUID")
	case strings.TrimSpace(e.PolicyNumber) == "":
		return errors.New("policy_number is required")
	case !event.ValidID(e.CustomerID):
		return errors.New("customer_id must be a UUID")
	case e.QuotationID != "" && !event.ValidID(e.QuotationID):
		return errors.New("quotation_id must be a UUID")
	case !validInsurer(e.Insurer):
		return errors.New("insurer must be a code of a-z, 0-9, _ and -")
	case !validProduct(e.Product):
		return fmt.Errorf("product %q is not motor or health", e.Product)
	case e.Premium <= 0:
		return errors.New("premium must be greater than zero")
	case e.SumInsured <= 0:
		return errors.New("sum_insured must be greater than zero")
	case !isCurrency(e.Currency):
		return errors.New("currency must be a three-letter code")
	}
	return checkTerm(e.StartDate, e.EndDate)
}

// Change is one changed field of a renewal: its value before and after.
// Dates are strings (YYYY-MM-DD) and amounts int64.
type Change struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// UnmarshalJSON decodes a change, turning whole JSON numbers into int64 (the
// type renewals record amounts in) rather than float64. Unknown fields are
// rejected.
func (c *Change) UnmarshalJSON(b []byte) error {
	var raw struct {
		Old json.RawMessage `json:"old"`
		New json.RawMessage `json:"new"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("policy change: unexpected data after the object")
	}
	var err error
	if c.Old, err = decodeValue(raw.Old); err != nil {
		return err
	}
	c.New, err = decodeValue(raw.New)
	return err
}

func decodeValue(b json.RawMessage) (any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if n, ok := v.(json.Number); ok {
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, nil
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("policy change: number %s is out of range", n)
		}
		return f, nil
	}
	return v, nil
}

// The keys of Renewed.Changes.
const (
	ChangeStartDate  = "start_date"
	ChangeEndDate    = "end_date"
	ChangePremium    = "premium"
	ChangeSumInsured = "sum_insured"
)

// Renewed is recorded when a policy is renewed for a new term. Changes holds
// the fields that changed among start_date, end_date, premium and
// sum_insured.
type Renewed struct {
	PolicyID          string            `json:"policy_id"`
	PreviousStartDate Date              `json:"previous_start_date"`
	PreviousEndDate   Date              `json:"previous_end_date"`
	StartDate         Date              `json:"start_date"`
	EndDate           Date              `json:"end_date"`
	Premium           int64             `json:"premium"`
	SumInsured        int64             `json:"sum_insured"`
	Changes           map[string]Change `json:"changes"`
}

// EventName implements event.Payload.
func (Renewed) EventName() string { return EventRenewed }

// Validate checks the fields a stored PolicyRenewed must have.
func (e Renewed) Validate() error {
	switch {
	case !event.ValidID(e.PolicyID):
		return errors.New("policy_id must be a UUID")
	case e.Premium <= 0:
		return errors.New("premium must be greater than zero")
	case e.SumInsured <= 0:
		return errors.New("sum_insured must be greater than zero")
	}
	if err := checkTerm(e.PreviousStartDate, e.PreviousEndDate); err != nil {
		return fmt.Errorf("previous term: %w", err)
	}
	if err := checkTerm(e.StartDate, e.EndDate); err != nil {
		return err
	}
	for key, ch := range e.Changes {
		switch key {
		case ChangeStartDate, ChangeEndDate:
			for _, v := range []any{ch.Old, ch.New} {
				s, ok := v.(string)
				if !ok {
					return fmt.Errorf("changes.%s must hold dates as strings", key)
				}
				if _, err := ParseDate(s); err != nil {
					return fmt.Errorf("changes.%s: %w", key, err)
				}
			}
		case ChangePremium, ChangeSumInsured:
			for _, v := range []any{ch.Old, ch.New} {
				if _, ok := v.(int64); !ok {
					return fmt.Errorf("changes.%s must hold whole amounts", key)
				}
			}
		default:
			return fmt.Errorf("changes: unknown field %q", key)
		}
	}
	return nil
}

// ExpiringWarning is recorded when a policy comes within a warning threshold
// (30, 15, 7 or 1 days) of its end date. DaysLeft is counted from AsOf.
type ExpiringWarning struct {
	PolicyID     string `json:"policy_id"`
	CustomerID   string `json:"customer_id"`
	PolicyNumber string `json:"policy_number"`
	EndDate      Date   `json:"end_date"`
	AsOf         Date   `json:"as_of"`
	DaysLeft     int    `json:"days_left"`
	Threshold    int    `json:"threshold"`
	Urgency      string `json:"urgency"`
}

// EventName implements event.Payload.
func (ExpiringWarning) EventName() string { return EventExpiringWarning }

// Validate checks the fields a stored PolicyExpiringWarning must have.
func (e ExpiringWarning) Validate() error {
	switch {
	case !event.ValidID(e.PolicyID):
		return errors.New("policy_id must be a UUID")
	case !event.ValidID(e.CustomerID):
		return errors.New("customer_id must be a UUID")
	case strings.TrimSpace(e.PolicyNumber) == "":
		return errors.New("policy_number is required")
	case e.EndDate.IsZero() || e.AsOf.IsZero():
		return errors.New("end_date and as_of are required")
	case !slices.Contains(Thresholds(), e.Threshold):
		return fmt.Errorf("threshold %d is not one of %v", e.Threshold, Thresholds())
	case e.DaysLeft < 0 || e.DaysLeft > e.Threshold:
		return fmt.Errorf("days_left %d is outside 0..%d", e.DaysLeft, e.Threshold)
	case e.DaysLeft != DaysBetween(e.AsOf, e.EndDate):
		return fmt.Errorf("days_left %d is not the number of days from as_of to end_date", e.DaysLeft)
	case e.Urgency == "" || e.Urgency != UrgencyFor(e.DaysLeft):
		return fmt.Errorf("urgency %q does not match %d days left", e.Urgency, e.DaysLeft)
	}
	return nil
}

// checkTerm checks the dates of a stored term.
func checkTerm(start, end Date) error {
	switch {
	case start.IsZero():
		return errors.New("start_date is required")
	case end.IsZero():
		return errors.New("end_date is required")
	case !end.After(start):
		return errors.New("end_date must be after start_date")
	}
	return nil
}
