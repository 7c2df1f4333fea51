package cli

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/listener"
	"insure/internal/queue"
	"insure/internal/quotation"
)

// TestMessageGivesUpOnAMissingDocument: a message waits for its PDF, but
// not forever: past the wait it fails, naming the document.
func TestMessageGivesUpOnAMissingDocument(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, err := Open(ctx, testConfig(t, database.SQLite), newLoggerDiscard(), Options{Migrate: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	prefs := customer.Preferences{Email: true}
	c, err := s.Customers.Register(ctx, event.Context{}, customer.Register{Name: "Asha Verma", Email: "asha@example.com", Phone: "9876543210", Preferences: &prefs})
	if err != nil {
		t.Fatal(err)
	}
	details, _ := json.Marshal(map[string]int{"age": 30, "members": 1})
	q, err := s.Quotations.Request(ctx, event.Context{}, quotation.Request{CustomerID: c.ID, Product: "health", SumInsured: 50_000_000, Details: details})
	if err != nil {
		t.Fatal(err)
	}
	// No workers: drive the chain by hand, but never render the PDF.
	req, _ := s.Store.Load(ctx, s.DB, quotation.AggregateType, q.ID)
	if err := s.Listeners.Handle(ctx, listener.GenerateQuotation, req[0].EventID, 1); err != nil {
		t.Fatal(err)
	}
	gen, _ := s.Store.ReadAll(ctx, s.DB, 0, 100, []string{"QuotationGenerated"})
	if err := s.Listeners.Handle(ctx, listener.SendQuotationEmail, gen[0].EventID, 1); err != nil {
		t.Fatal(err)
	}
	queued, _ := s.Store.ReadAll(ctx, s.DB, 0, 100, []string{"EmailQueued"})
	var quoteMail event.Envelope
	for _, e := range queued {
		if strings.Contains(string(e.Data), `"quotation"`) {
			quoteMail = e
		}
	}
	if err := s.Listeners.Handle(ctx, listener.ProcessEmailMessage, quoteMail.EventID, 1); !queue.IsRetryLater(err) {
		t.Fatalf("before the wait is over: %v, want a release for later", err)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if err := s.Listeners.Handle(ctx, listener.ProcessEmailMessage, quoteMail.EventID, 1); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
	msgs, _, err := s.Reader.Messages(ctx, c.ID, "email", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range msgs {
		if m.Template == "quotation" {
			found = true
			if m.Status != "failed" || m.Error == nil || !strings.Contains(*m.Error, "was not generated") {
				t.Fatalf("quotation email: %s %v", m.Status, m.Error)
			}
		}
	}
	if !found {
		t.Fatal("no quotation email was queued")
	}
}
