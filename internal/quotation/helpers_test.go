package quotation_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/quotation"
	"insure/internal/rating"
)

const (
	quoteID = "0193a5f2-7c1e-7d3a-9b1f-2f4e5d6c7b8a"
	custID  = "0193a5f2-0000-7d3a-9b1f-2f4e5d6c7b8a"
	otherID = "0193a5f2-7c1e-7d3a-9b1f-000000000000"
)

// now is the rating date of the rating package's worked examples.
var now = time.Date(2025, time.June, 15, 10, 0, 0, 0, time.UTC)

func setup(t *testing.T) *event.Registry {
	t.Helper()
	reg := event.NewRegistry()
	if err := reg.Register(quotation.Events()...); err != nil {
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
			AggregateType:    quotation.AggregateType,
			AggregateID:      id,
			AggregateVersion: from + int64(i) + 1,
			SchemaVersion:    1,
			Data:             data,
			OccurredAt:       at.Add(time.Duration(i) * time.Minute),
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

func motorRequest() quotation.Request {
	return quotation.Request{
		CustomerID: custID,
		Product:    "motor",
		SumInsured: 25_000_000,
		Details:    json.RawMessage(`{ "vehicle_year": 2012, "vehicle_make": "Honda", "vehicle_model": "City" }`),
	}
}

func healthRequest() quotation.Request {
	return quotation.Request{
		CustomerID: custID,
		Product:    "health",
		SumInsured: 100_000_000,
		Currency:   "INR",
		Details:    json.RawMessage(`{"age":42,"members":4}`),
	}
}

// requested returns a quotation rebuilt from a request of cmd.
func requested(t *testing.T, cmd quotation.Request) *quotation.Quotation {
	t.Helper()
	ps, err := quotation.RequestQuotation(quoteID, cmd, now)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	q, err := quotation.Rebuild(envelopes(t, quoteID, 0, now, ps...), setup(t))
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	return q
}

func apply(t *testing.T, q *quotation.Quotation, ps []event.Payload, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := q.Apply(p); err != nil {
			t.Fatal(err)
		}
	}
}

func quote(insurer string, premium int64) rating.Quote {
	return rating.Quote{Insurer: insurer, InsurerName: insurer, Premium: premium, SumInsured: 25_000_000, Currency: "INR", Coverage: "c"}
}

func declined(insurer string) rating.Quote {
	return rating.Quote{Insurer: insurer, SumInsured: 25_000_000, Currency: "INR", Declined: true, DeclineReason: "too old"}
}
