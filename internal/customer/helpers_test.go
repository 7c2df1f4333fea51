package customer_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"insure/internal/apperr"
	"insure/internal/customer"
	"insure/internal/event"
)

const (
	custID  = "0193a5f2-7c1e-7d3a-9b1f-2f4e5d6c7b8a"
	otherID = "0193a5f2-7c1e-7d3a-9b1f-000000000000"
)

var now = time.Date(2026, time.March, 10, 9, 30, 0, 0, time.UTC)

func setup(t *testing.T) *event.Registry {
	t.Helper()
	reg := event.NewRegistry()
	if err := reg.Register(customer.Events()...); err != nil {
		t.Fatalf("register events: %v", err)
	}
	return reg
}

// envelopes wraps payloads as the stored events of one stream, starting at
// version from+1, one minute apart from at.
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
			AggregateType:    customer.AggregateType,
			AggregateID:      id,
			AggregateVersion: from + int64(i) + 1,
			SchemaVersion:    1,
			Data:             data,
			OccurredAt:       at.Add(time.Duration(i) * time.Minute),
		})
	}
	return envs
}

// wantField fails unless err is an apperr.Invalid error for field whose
// message contains nothing in particular (the field is what the API maps).
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

func validRegister() customer.Register {
	return customer.Register{
		Name:        "  Asha Rao ",
		Email:       " Asha.Rao@Example.COM ",
		Phone:       "98765 43210",
		DateOfBirth: ptr("1990-04-12"),
		Channel:     "web",
	}
}

// registered returns a customer rebuilt from a registration of validRegister.
func registered(t *testing.T) *customer.Customer {
	t.Helper()
	ps, err := customer.RegisterCustomer(custID, validRegister(), now)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	c, err := customer.Rebuild(envelopes(t, custID, 0, now, ps...), setup(t))
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	return c
}
