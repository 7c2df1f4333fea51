package communication_test

import (
	"testing"
	"time"

	"insure/internal/apperr"
	"insure/internal/communication"
	"insure/internal/event"
)

func sentMessage(t *testing.T) *communication.Message {
	t.Helper()
	id := event.NewID()
	evs, err := communication.QueueWhatsApp(id, communication.WhatsApp{CustomerID: event.NewID(), Template: "quotation", Priority: "normal", SourceEventID: event.NewID()})
	if err != nil {
		t.Fatal(err)
	}
	m := &communication.Message{}
	for _, e := range evs {
		if err := m.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	sent, err := m.MarkSent("wamid.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(sent[0]); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDeliveredAfterSent(t *testing.T) {
	t.Parallel()
	m := sentMessage(t)
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	evs, err := m.MarkDelivered(at)
	if err != nil || len(evs) != 1 {
		t.Fatalf("deliver: %v %v", evs, err)
	}
	if err := m.Apply(evs[0]); err != nil {
		t.Fatal(err)
	}
	if m.Status != communication.StatusDelivered || !m.DeliveredAt.Equal(at) {
		t.Fatalf("status %s at %v", m.Status, m.DeliveredAt)
	}
	again, err := m.MarkDelivered(at)
	if err != nil || len(again) != 0 {
		t.Fatalf("a second delivery report must be a no-op: %v %v", again, err)
	}
	if _, err := m.MarkDeliveryFailed("late failure", at); !apperr.IsCode(err, apperr.Conflict) {
		t.Fatalf("failing a delivered message: %v", err)
	}
}

func TestDeliveryFailedAfterSent(t *testing.T) {
	t.Parallel()
	m := sentMessage(t)
	evs, err := m.MarkDeliveryFailed("131026: message undeliverable", time.Now())
	if err != nil || len(evs) != 1 {
		t.Fatal(err)
	}
	if err := m.Apply(evs[0]); err != nil {
		t.Fatal(err)
	}
	if m.Status != communication.StatusFailed || m.Error != "131026: message undeliverable" {
		t.Fatalf("%s %q", m.Status, m.Error)
	}
	if _, err := m.MarkDelivered(time.Now()); !apperr.IsCode(err, apperr.Conflict) {
		t.Fatalf("delivering a failed message: %v", err)
	}
}

func TestDeliveredBeforeSentIsRefused(t *testing.T) {
	t.Parallel()
	id := event.NewID()
	evs, err := communication.QueueWhatsApp(id, communication.WhatsApp{CustomerID: event.NewID(), Template: "quotation", Priority: "normal", SourceEventID: event.NewID()})
	if err != nil {
		t.Fatal(err)
	}
	m := &communication.Message{}
	if err := m.Apply(evs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := m.MarkDelivered(time.Now()); !apperr.IsCode(err, apperr.Conflict) {
		t.Fatalf("delivering a queued message: %v", err)
	}
	bad := &communication.MessageDelivered{MessageID: id, Channel: "whatsapp", DeliveredAt: time.Now()}
	if err := m.Apply(bad); err == nil {
		t.Fatal("applying MessageDelivered to a queued message must fail")
	}
}
