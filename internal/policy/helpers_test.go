package policy_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/policy"
)

const (
	polID   = "0193a5f2-7c1e-7d3a-9b1f-2f4e0f3a9c21"
	custID  = "0193a5f2-0000-7d3a-9b1f-2f4e5d6c7b8a"
	quoteID = "0193a5f2-1111-7d3a-9b1f-2f4e5d6c7b8a"
	otherID = "0193a5f2-7c1e-7d3a-9b1f-000000000000"
)

var now = time.Date(2026, time.January, 5, 9, 0, 0, 0, time.UTC)

func setup(t *testing.T) *event.Registry {
	t.Helper()
	reg := event.NewRegistry()
	if err := reg.Register(policy.Events()...); err != nil {
		t.Fatalf("register events: %v", err)
	}
	return reg
}

func envelopes(t *testing.T, id string, from int64, at time.Time, ps ...event.Payload) []event.Envelope {
	t.Helper()
	var envs []event.Envelope
	for i, p := range ps {
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal %s: %v", p.EventName(), err)
		}
		envs = append(envs, event.Envelope{
			EventID:          event.NewID(),
			EventName:        p.EventName(),
			AggregateType:    policy.AggregateType,
			AggregateID:      id,
			AggregateVersion: from + int64(i) + 1,
			SchemaVersion:    1,
			Data:             data,
			Metadata:         event.Metadata{OccurredAt: at.Add(time.Duration(i) * time.Minute)},
		})
	}
	return envs
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("error %v (%T) is not an *apperr.Error", err, err)
	}
	if e.Code != apperr.Invalid || e.Field != field {
		t.Fatalf("error = {Code %s, Field %q, %q}, want Code invalid, Field %q", e.Code, e.Field, e.Message, field)
	}
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if !errors.Is(err, &apperr.Error{Code: code}) {
		t.Fatalf("error = %v (code %s), want code %s", err, apperr.CodeOf(err), code)
	}
}

func ptr[T any](v T) *T { return &v }

func day(t testing.TB, s string) policy.Date {
	t.Helper()
	d, err := policy.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func validCreate() policy.Create {
	return policy.Create{
		CustomerID:  custID,
		QuotationID: ptr(quoteID),
		Insurer:     "acme",
		Product:     "motor",
		Premium:     2_274_008,
		SumInsured:  65_000_000,
		Currency:    "INR",
		StartDate:   "2026-01-10",
		EndDate:     "2027-01-09",
	}
}

// created returns a policy rebuilt from a creation of cmd.
func created(t *testing.T, cmd policy.Create) *policy.Policy {
	t.Helper()
	ps, err := policy.CreatePolicy(polID, cmd, now)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	p, err := policy.Rebuild(envelopes(t, polID, 0, now, ps...), setup(t))
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	return p
}

// must fails the test on err and returns ps, so that a decision can be
// passed straight to apply: apply(t, p, must(t)(p.Renew(cmd, today))).
func must(t *testing.T) func([]event.Payload, error) []event.Payload {
	return func(ps []event.Payload, err error) []event.Payload {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
}

func apply(t *testing.T, p *policy.Policy, ps []event.Payload) {
	t.Helper()
	for _, e := range ps {
		if err := p.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
}
