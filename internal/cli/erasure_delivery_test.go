package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"insure/internal/config"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/listener"
	"insure/internal/notify"
	"insure/internal/quotation"
	"insure/internal/recorder"
)

// openStopped opens a system with workers whose queue is not started yet;
// start starts it. Jobs enqueued meanwhile wait.
func openStopped(t *testing.T, cfg config.Config, opts Options) (s *System, start func()) {
	t.Helper()
	ctx := context.Background()
	opts.Workers, opts.Migrate = true, true
	s, err := Open(ctx, cfg, newLoggerDiscard(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Queue.Stop(sctx)
		_ = s.Close()
	})
	return s, func() {
		t.Helper()
		if err := s.Queue.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// erase records the erasure of a customer's personal data and destroys
// their data key in the same transaction.
func erase(t *testing.T, s *System, customerID string) {
	t.Helper()
	ctx := context.Background()
	c, err := s.Customers.Aggregate(ctx, nil, customerID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Recorder.Record(ctx, event.Context{Actor: "test"},
		func(ctx context.Context, tx database.Tx) error { return s.Keys.Destroy(ctx, tx, customerID) },
		recorder.Change{AggregateType: customer.AggregateType, AggregateID: customerID, ExpectedVersion: c.Version,
			Events: []event.Payload{&customer.PersonalDataErased{CustomerID: customerID, ErasedAt: time.Now().UTC()}}})
	if err != nil {
		t.Fatalf("erase: %v", err)
	}
}

// TestErasedCustomerMessagesAreSkipped: messages queued about a customer
// whose personal data is erased before they go out are skipped, the
// administrators' notice of their registration too, and nothing is sent
// or recorded.
func TestErasedCustomerMessagesAreSkipped(t *testing.T) {
	t.Parallel()
	s, start := openStopped(t, testConfig(t, database.SQLite), Options{})
	ctx := context.Background()
	prefs := customer.Preferences{Email: true, WhatsApp: true}
	c, err := s.Customers.Register(ctx, event.Context{Actor: "test"}, customer.Register{Name: "Asha Verma", Email: "asha@example.com",
		Phone: "9876543210", Preferences: &prefs})
	if err != nil {
		t.Fatal(err)
	}
	details, _ := json.Marshal(map[string]int{"age": 30, "members": 1})
	if _, err := s.Quotations.Request(ctx, event.Context{Actor: "test"}, quotation.Request{CustomerID: c.ID, Product: "health",
		SumInsured: 50_000_000, Details: details}); err != nil {
		t.Fatal(err)
	}
	erase(t, s, c.ID)
	start()
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}

	rows, err := s.DB.Query(ctx, `SELECT channel, template, status, COALESCE(error, '') FROM messages ORDER BY channel, template`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var channel, template, status, reason string
		if err := rows.Scan(&channel, &template, &status, &reason); err != nil {
			t.Fatal(err)
		}
		got[channel+"/"+template] = status + ": " + reason
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	const skipped = "skipped: the customer's personal data was erased"
	for _, k := range []string{"email/welcome", "email/admin_registration", "email/quotation", "whatsapp/quotation"} {
		if got[k] != skipped {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], skipped, got)
		}
	}
	for _, table := range []string{"outbound_mail", "outbound_whatsapp"} {
		if n := count(t, s.DB, `SELECT COUNT(*) FROM `+table); n != 0 {
			t.Errorf("%s has %d rows, want 0", table, n)
		}
	}
	if n := count(t, s.DB, `SELECT COUNT(*) FROM dead_letters WHERE listener IN ($1, $2)`,
		listener.ProcessEmailMessage, listener.ProcessWhatsAppMessage); n != 0 {
		t.Errorf("%d delivery dead letters, want 0", n)
	}
}

// echoingMailer refuses every email, quoting the recipient as SMTP servers
// do ("550 5.1.1 <jane@example.com>: Recipient address rejected"), in
// another case.
type echoingMailer struct{}

func (echoingMailer) Send(_ context.Context, e notify.Email) (notify.Receipt, error) {
	return notify.Receipt{}, fmt.Errorf("notify: send email %s: %w: %w", e.MessageID, notify.ErrRejected,
		&notify.SMTPError{Command: "RCPT", Code: 550, Message: "5.1.1 <" + strings.ToUpper(e.To) + ">: Recipient address rejected"})
}

// echoingWhatsApp fails every message with a temporary error that quotes
// the number without its +, as the Graph API can.
type echoingWhatsApp struct{}

func (echoingWhatsApp) Send(_ context.Context, w notify.WhatsApp) (notify.Receipt, error) {
	return notify.Receipt{}, fmt.Errorf("notify: send whatsapp message %s: HTTP 500: wa_id %s unreachable", w.MessageID, strings.TrimPrefix(w.To, "+"))
}

// TestProviderErrorsDoNotStoreTheRecipient: a provider's error that quotes
// the recipient's address or number is stored (message failure reasons,
// dead letters, the job's errors) with "<recipient>" instead.
func TestProviderErrorsDoNotStoreTheRecipient(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, database.SQLite)
	cfg.QueueMaxAttempts = 1
	s, start := openStopped(t, cfg, Options{
		WrapMailer:   func(notify.Mailer) notify.Mailer { return echoingMailer{} },
		WrapWhatsApp: func(notify.WhatsAppSender) notify.WhatsAppSender { return echoingWhatsApp{} },
	})
	start()
	ctx := context.Background()
	prefs := customer.Preferences{Email: true, WhatsApp: true}
	c, err := s.Customers.Register(ctx, event.Context{Actor: "test"}, customer.Register{Name: "Jane Doe", Email: "jane.doe@example.com",
		Phone: "9876543210", Preferences: &prefs})
	if err != nil {
		t.Fatal(err)
	}
	details, _ := json.Marshal(map[string]int{"age": 30, "members": 1})
	if _, err := s.Quotations.Request(ctx, event.Context{Actor: "test"}, quotation.Request{CustomerID: c.ID, Product: "health",
		SumInsured: 50_000_000, Details: details}); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	phone := strings.TrimPrefix(c.Phone, "+")
	if len(phone) < 10 {
		t.Fatalf("phone %q", c.Phone)
	}
	var stored []string
	for _, q := range []string{
		`SELECT COALESCE(error, '') FROM messages WHERE status = 'failed'`,
		`SELECT error FROM dead_letters`,
		`SELECT CAST(errors AS TEXT) FROM river_job WHERE errors IS NOT NULL`,
	} {
		rows, err := s.DB.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			stored = append(stored, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	failed := count(t, s.DB, `SELECT COUNT(*) FROM messages WHERE status = 'failed'`)
	if failed < 3 {
		t.Fatalf("%d failed messages, want the welcome, the quotation email and the WhatsApp message (stored: %q)", failed, stored)
	}
	redacted := 0
	for _, v := range stored {
		if strings.Contains(strings.ToLower(v), "jane.doe@example.com") || strings.Contains(v, phone) {
			t.Errorf("stored error text shows the recipient: %q", v)
		}
		if strings.Contains(v, "<recipient>") {
			redacted++
		}
	}
	if redacted < failed {
		t.Errorf("%d of %d stored texts name <recipient>, want at least one per failed message: %q", redacted, failed, stored)
	}
}
