package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/listener"
	"insure/internal/notify"
	"insure/internal/queue"
	"insure/internal/quotation"
)

// downMailer reports the provider unavailable for the first n sends.
type downMailer struct {
	inner notify.Mailer
	down  atomic.Int32
	calls atomic.Int32
}

func (m *downMailer) Send(ctx context.Context, e notify.Email) (notify.Receipt, error) {
	m.calls.Add(1)
	if m.down.Add(-1) >= 0 {
		return notify.Receipt{}, fmt.Errorf("smtp: connection refused: %w", notify.ErrUnavailable)
	}
	return m.inner.Send(ctx, e)
}

// TestProviderDownReleasesWithoutUsingAttempts: with the mail provider down
// for more sends than there are attempts, the emails are still delivered,
// because a release (snooze) does not use an attempt.
func TestProviderDownReleasesWithoutUsingAttempts(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, database.SQLite)
	cfg.QueueMaxAttempts = 1
	down := &downMailer{}
	down.down.Store(6)
	ctx := context.Background()
	s, err := Open(ctx, cfg, newLoggerDiscard(), Options{Workers: true, Migrate: true,
		WrapMailer: func(m notify.Mailer) notify.Mailer { down.inner = m; return down }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Queue.Stop(sctx)
		_ = s.Close()
	})
	c, err := s.Customers.Register(ctx, event.Context{Actor: "test"}, customer.Register{Name: "Asha Verma", Email: "asha@example.com", Phone: "9876543210"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "both emails sent despite the outage", func() bool {
		return count(t, s.DB, `SELECT COUNT(*) FROM messages WHERE status = 'sent'`) == 2
	})
	if calls := down.calls.Load(); calls < 7 {
		t.Fatalf("only %d send attempts; the outage was not exercised", calls)
	}
	if n := count(t, s.DB, `SELECT COUNT(*) FROM dead_letters`); n != 0 {
		t.Fatalf("%d dead letters: a release used up an attempt", n)
	}
	msgs, _, err := s.Reader.Messages(ctx, c.ID, "email", "", 10)
	if err != nil || len(msgs) != 1 || msgs[0].Status != "sent" {
		t.Fatalf("customer messages: %+v %v", msgs, err)
	}
}

// TestWhatsAppDisabledSkipsMessages: WHATSAPP_API_ENABLED=false records the
// messages as skipped and sends nothing.
func TestWhatsAppDisabledSkipsMessages(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, database.SQLite)
	cfg.WhatsAppEnabled = false
	s := startSystem(t, cfg)
	ctx := context.Background()
	prefs := customer.Preferences{Email: false, WhatsApp: true}
	c, err := s.Customers.Register(ctx, event.Context{}, customer.Register{Name: "Meera Iyer", Email: "meera@example.com", Phone: "9900011223", Preferences: &prefs})
	if err != nil {
		t.Fatal(err)
	}
	details, _ := json.Marshal(map[string]int{"age": 30, "members": 1})
	if _, err := s.Quotations.Request(ctx, event.Context{}, quotation.Request{CustomerID: c.ID, Product: "health", SumInsured: 50_000_000, Details: details}); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, _, err := s.Reader.Messages(ctx, c.ID, "whatsapp", "", 10)
	if err != nil || len(msgs) != 1 || msgs[0].Status != "skipped" || msgs[0].Error == nil {
		t.Fatalf("whatsapp messages: %+v %v", msgs, err)
	}
	if n := count(t, s.DB, `SELECT COUNT(*) FROM outbound_whatsapp`); n != 0 {
		t.Fatalf("%d WhatsApp messages sent while disabled", n)
	}
	if n := count(t, s.DB, `SELECT COUNT(*) FROM event_store WHERE event_name = 'MessageSkipped'`); n != 1 {
		t.Fatalf("%d MessageSkipped events", n)
	}
}

// TestEmailQueueDisabledKeepsJobs: EMAIL_QUEUE_ENABLED=false leaves email
// jobs queued (nothing lost) while everything else runs.
func TestEmailQueueDisabledKeepsJobs(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, database.SQLite)
	cfg.EmailQueueEnabled = false
	s := startSystem(t, cfg)
	ctx := context.Background()
	if _, err := s.Customers.Register(ctx, event.Context{}, customer.Register{Name: "Rohan Mehta", Email: "rohan@example.com", Phone: "9820012345"}); err != nil {
		t.Fatal(err)
	}
	// The workers ran (the audit record is there), yet no process works the
	// email queues, so their jobs wait.
	waitUntil(t, "the audit record", func() bool { return count(t, s.DB, `SELECT COUNT(*) FROM audit_log`) == 1 })
	if n := count(t, s.DB, `SELECT COUNT(*) FROM river_job WHERE queue IN ('email-priority','email-normal') AND state = 'available'`); n != 2 {
		t.Fatalf("%d email jobs waiting, want 2", n)
	}
	if n := count(t, s.DB, `SELECT COUNT(*) FROM outbound_mail`); n != 0 {
		t.Fatalf("%d emails sent with the email queues disabled", n)
	}
}

// TestQuotationGiveUpRecordsFailure: when GenerateQuotation gives up, its
// Failed hook records QuotationGenerationFailed in the dead letter's
// transaction, and the quotation reads as failed.
func TestQuotationGiveUpRecordsFailure(t *testing.T) {
	t.Parallel()
	for _, d := range []database.Dialect{database.SQLite, database.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, err := Open(ctx, testConfig(t, d), newLoggerDiscard(), Options{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			c, err := s.Customers.Register(ctx, event.Context{}, customer.Register{Name: "Asha Verma", Email: "asha@example.com", Phone: "9876543210"})
			if err != nil {
				t.Fatal(err)
			}
			details, _ := json.Marshal(map[string]int{"age": 30, "members": 1})
			q, err := s.Quotations.Request(ctx, event.Context{}, quotation.Request{CustomerID: c.ID, Product: "health", SumInsured: 50_000_000, Details: details})
			if err != nil {
				t.Fatal(err)
			}
			envs, err := s.Store.Load(ctx, s.DB, quotation.AggregateType, q.ID)
			if err != nil {
				t.Fatal(err)
			}
			cause := queue.Permanent(errors.New("insurer API refused"))
			err = s.DB.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				return s.Listeners.GiveUp(ctx, tx, listener.GenerateQuotation, envs[0].EventID, cause)
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Quotations.Get(ctx, q.ID)
			if err != nil || got.Status != "failed" || got.FailureReason == nil {
				t.Fatalf("quotation after give-up: %+v %v", got, err)
			}
			// The hook is harmless a second time, and the listener then has nothing to do.
			if err := s.DB.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				return s.Listeners.GiveUp(ctx, tx, listener.GenerateQuotation, envs[0].EventID, cause)
			}); err != nil {
				t.Fatal(err)
			}
			if err := s.Listeners.Handle(ctx, listener.GenerateQuotation, envs[0].EventID, 2); err != nil {
				t.Fatal(err)
			}
			if n := count(t, s.DB, `SELECT COUNT(*) FROM event_store WHERE event_name = 'QuotationGenerationFailed'`); n != 1 {
				t.Fatalf("%d QuotationGenerationFailed events", n)
			}
			if n := count(t, s.DB, `SELECT COUNT(*) FROM event_store WHERE event_name = 'QuotationGenerated'`); n != 0 {
				t.Fatal("a failed quotation was generated afterwards")
			}
			failed, err := s.Store.ReadAll(ctx, s.DB, 0, 100, []string{"QuotationGenerationFailed"})
			if err != nil || len(failed) != 1 {
				t.Fatal(err)
			}
			// Its audit record names the customer.
			if err := s.Listeners.Handle(ctx, listener.CreateCustomerAuditLog, failed[0].EventID, 1); err != nil {
				t.Fatal(err)
			}
			trail, err := s.Reader.Audit(ctx, c.ID)
			if err != nil || len(trail) != 1 || trail[0].SourceEventName != "QuotationGenerationFailed" {
				t.Fatalf("audit trail: %+v %v", trail, err)
			}
		})
	}
}
