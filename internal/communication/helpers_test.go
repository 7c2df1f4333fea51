package communication_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"insure/internal/apperr"
	"insure/internal/communication"
	"insure/internal/event"
)

const (
	msgID   = "0193a5f2-7c1e-7d3a-9b1f-2f4e5d6c7b8a"
	custID  = "0193a5f2-0000-7d3a-9b1f-2f4e5d6c7b8a"
	srcID   = "0193a5f2-2222-7d3a-9b1f-2f4e5d6c7b8a"
	docID   = "0193a5f2-3333-7d3a-9b1f-2f4e5d6c7b8a"
	otherID = "0193a5f2-7c1e-7d3a-9b1f-000000000000"
)

var now = time.Date(2026, time.March, 10, 9, 30, 0, 0, time.UTC)

func setup(t *testing.T) *event.Registry {
	t.Helper()
	reg := event.NewRegistry()
	if err := reg.Register(communication.Events()...); err != nil {
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
			AggregateType:    communication.AggregateType,
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

func must(t *testing.T) func([]event.Payload, error) []event.Payload {
	return func(ps []event.Payload, err error) []event.Payload {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
}

func apply(t *testing.T, m *communication.Message, ps []event.Payload) {
	t.Helper()
	for _, p := range ps {
		if err := m.Apply(p); err != nil {
			t.Fatal(err)
		}
	}
}

func customerEmail() communication.Email {
	return communication.Email{
		CustomerID:    custID,
		RecipientRole: communication.RoleCustomer,
		Template:      communication.TemplatePolicyConfirmation,
		Priority:      communication.PriorityHigh,
		Attachments:   []communication.Attachment{{DocumentID: docID, Name: "policy.pdf", ContentType: "application/pdf"}},
		SourceEventID: srcID,
	}
}

func whatsApp() communication.WhatsApp {
	return communication.WhatsApp{CustomerID: custID, Template: communication.TemplateQuotation, SourceEventID: srcID}
}

// queued returns a message rebuilt from queueing an e-mail (or a WhatsApp
// message) and then the given outcome.
func queued(t *testing.T, channel, status string) *communication.Message {
	t.Helper()
	var ps []event.Payload
	if channel == communication.ChannelEmail {
		ps = must(t)(communication.QueueEmail(msgID, customerEmail()))
	} else {
		ps = must(t)(communication.QueueWhatsApp(msgID, whatsApp()))
	}
	m, err := communication.Rebuild(envelopes(t, msgID, 0, now, ps...), setup(t))
	if err != nil {
		t.Fatal(err)
	}
	switch status {
	case communication.StatusSent:
		apply(t, m, must(t)(m.MarkSent("prov-1", now)))
	case communication.StatusFailed:
		apply(t, m, must(t)(m.MarkFailed("mailbox full", now)))
	case communication.StatusSkipped:
		apply(t, m, must(t)(m.MarkSkipped("customer opted out", now)))
	}
	return m
}
