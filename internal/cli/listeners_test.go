package cli

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"insure/internal/apperr"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/listener"
	"insure/internal/notify"
	"insure/internal/projection"
)

func count(t *testing.T, db database.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestListenersAreIdempotent runs listeners again after they succeeded, and
// replays the ambiguous case of a send that happened but whose outcome was
// not recorded: nothing is queued, recorded or sent twice.
func TestListenersAreIdempotent(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			s := startSystem(t, testConfig(t, d))
			ec := event.Context{Actor: "test"}
			prefs := customer.Preferences{Email: true}
			c, err := s.Customers.Register(ctx, ec, customer.Register{Name: "Asha Verma", Email: "asha@example.com", Phone: "9876543210", Preferences: &prefs})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}
			reg, err := s.Store.Load(ctx, s.DB, customer.AggregateType, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			registered := reg[0].EventID
			events := count(t, s.DB, `SELECT COUNT(*) FROM event_store`)
			mails := count(t, s.DB, `SELECT COUNT(*) FROM outbound_mail`)
			if mails != 2 {
				t.Fatalf("%d emails recorded, want the welcome email and the admin notification", mails)
			}
			// Every listener of the registration again, as a retry would.
			for _, name := range []string{listener.SendWelcomeEmail, listener.CreateCustomerAuditLog, listener.NotifyAdminOfRegistration} {
				if err := s.Listeners.Handle(ctx, name, registered, 2); err != nil {
					t.Fatalf("%s again: %v", name, err)
				}
			}
			queued, err := s.Store.ReadAll(ctx, s.DB, 0, 1000, []string{"EmailQueued"})
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range queued {
				if err := s.Listeners.Handle(ctx, listener.ProcessEmailMessage, q.EventID, 2); err != nil {
					t.Fatalf("ProcessEmailMessage again: %v", err)
				}
			}
			if got := count(t, s.DB, `SELECT COUNT(*) FROM event_store`); got != events {
				t.Fatalf("retries recorded %d new events", got-events)
			}
			if got := count(t, s.DB, `SELECT COUNT(*) FROM outbound_mail`); got != mails {
				t.Fatalf("retries recorded %d new emails", got-mails)
			}

			// The ambiguous case: the mail went out, then the process died before
			// recording MessageSent. The retry must not send again.
			newEmail := "asha.verma@example.com"
			if _, err := s.Customers.Update(ctx, ec, c.ID, nil, customer.UpdateProfile{Email: &newEmail}); err != nil {
				t.Fatal(err)
			}
			if err := s.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}
			msgs, _, err := s.Reader.Messages(ctx, c.ID, "email", "", 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				if m.Status != "sent" {
					t.Fatalf("message %s is %s", m.ID, m.Status)
				}
				rec, err := notify.RecordedEmails(ctx, s.DB, s.Vault, m.ID)
				if err != nil || len(rec) != 1 {
					t.Fatalf("message %s recorded %d times (%v)", m.ID, len(rec), err)
				}
				// Sending it again reports a duplicate and records nothing.
				again, err := notify.NewLogMailer(s.DB, s.Vault, nil).Send(ctx, notify.Email{MessageID: m.ID, From: "a@example.com", To: "b@example.com",
					Subject: "x", Text: "x", HTML: "<p>x</p>"})
				if err != nil || !again.Duplicate {
					t.Fatalf("resend of %s: %+v %v", m.ID, again, err)
				}
			}
		})
	}
}

// TestEmailUniqueness checks the email claim under concurrency and through
// address changes.
func TestEmailUniqueness(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, err := Open(ctx, testConfig(t, d), newLoggerDiscard(), Options{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ec := event.Context{Actor: "test"}
			reg := func(email string) error {
				_, err := s.Customers.Register(ctx, ec, customer.Register{Name: "Same Person", Email: email, Phone: "9876543210"})
				return err
			}
			// Eight concurrent registrations of one address: exactly one wins.
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Add(1)
				go func(i int) { defer wg.Done(); errs[i] = reg("same@example.com") }(i)
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !apperr.IsCode(err, apperr.Conflict):
					t.Fatalf("a losing registration failed with %v, want a conflict", err)
				}
			}
			if won != 1 || count(t, s.DB, `SELECT COUNT(*) FROM customers`) != 1 || count(t, s.DB, `SELECT COUNT(*) FROM event_store`) != 1 {
				t.Fatalf("%d registrations of one address succeeded", won)
			}
			if err := reg("other@example.com"); err != nil {
				t.Fatal(err)
			}
			list, _, err := s.Customers.List(ctx, projection.CustomerFilter{}, "", 10)
			if err != nil || len(list) != 2 {
				t.Fatalf("list: %v %v", list, err)
			}
			first, second := list[0], list[1]
			taken := second.Email
			if _, err := s.Customers.Update(ctx, ec, first.ID, nil, customer.UpdateProfile{Email: &taken}); !apperr.IsCode(err, apperr.Conflict) {
				t.Fatalf("changing to a taken address: %v", err)
			}
			moved := "moved@example.com"
			if _, err := s.Customers.Update(ctx, ec, first.ID, nil, customer.UpdateProfile{Email: &moved}); err != nil {
				t.Fatal(err)
			}
			if err := reg(first.Email); err != nil {
				t.Fatalf("the released address cannot be registered again: %v", err)
			}
			if err := reg("MOVED@example.com"); !apperr.IsCode(err, apperr.Conflict) {
				t.Fatalf("the new address is not claimed (case-insensitively): %v", err)
			}
			var ae *apperr.Error
			if err := reg("moved@example.com"); !errors.As(err, &ae) || ae.Field != "email" {
				t.Fatalf("conflict does not name the field: %v", err)
			}
		})
	}
}

func newLoggerDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// flakyMailer delivers the first message and then reports a timeout, as an
// SMTP server does when it accepted the message but the answer was lost.
type flakyMailer struct {
	inner notify.Mailer
	mu    sync.Mutex
	calls int
}

func (m *flakyMailer) Send(ctx context.Context, e notify.Email) (notify.Receipt, error) {
	m.mu.Lock()
	m.calls++
	first := m.calls == 1
	m.mu.Unlock()
	r, err := m.inner.Send(ctx, e)
	if first && err == nil {
		return notify.Receipt{}, errors.New("timeout waiting for the server's answer")
	}
	return r, err
}

// TestAmbiguousSendIsNotRepeated: the provider took the message but the
// listener saw an error; the retry must not deliver it again, and the
// message must end up sent exactly once.
func TestAmbiguousSendIsNotRepeated(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			flaky := &flakyMailer{}
			s, err := Open(ctx, testConfig(t, d), newLoggerDiscard(), Options{Migrate: true,
				WrapMailer: func(m notify.Mailer) notify.Mailer { flaky.inner = m; return flaky }})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			c, err := s.Customers.Register(ctx, event.Context{Actor: "test"}, customer.Register{Name: "Asha Verma", Email: "asha@example.com", Phone: "9876543210"})
			if err != nil {
				t.Fatal(err)
			}
			envs, err := s.Store.Load(ctx, s.DB, customer.AggregateType, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			// No workers run: drive the listeners by hand, as the queue would.
			if err := s.Listeners.Handle(ctx, listener.SendWelcomeEmail, envs[0].EventID, 1); err != nil {
				t.Fatal(err)
			}
			queued, err := s.Store.ReadAll(ctx, s.DB, 0, 100, []string{"EmailQueued"})
			if err != nil || len(queued) != 1 {
				t.Fatalf("queued emails: %d, %v", len(queued), err)
			}
			if err := s.Listeners.Handle(ctx, listener.ProcessEmailMessage, queued[0].EventID, 1); err == nil {
				t.Fatal("want the first attempt to fail")
			}
			if err := s.Listeners.Handle(ctx, listener.ProcessEmailMessage, queued[0].EventID, 2); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if err := s.Listeners.Handle(ctx, listener.ProcessEmailMessage, queued[0].EventID, 3); err != nil {
				t.Fatalf("another retry: %v", err)
			}
			if n := count(t, s.DB, `SELECT COUNT(*) FROM outbound_mail`); n != 1 {
				t.Fatalf("the email was recorded %d times", n)
			}
			if n := count(t, s.DB, `SELECT COUNT(*) FROM event_store WHERE event_name = 'MessageSent'`); n != 1 {
				t.Fatalf("%d MessageSent events", n)
			}
			msgs, _, err := s.Reader.Messages(ctx, c.ID, "email", "", 10)
			if err != nil || len(msgs) != 1 || msgs[0].Status != "sent" {
				t.Fatalf("messages: %+v %v", msgs, err)
			}
		})
	}
}
