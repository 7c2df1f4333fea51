package notify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/notify"
)

// TestSMTPRejectionEchoingTheRecipient: a server that quotes the recipient
// in its refusal, in another case than it was sent, leaves no trace of the
// address in the error or in mail_deliveries.
func TestSMTPRejectionEchoingTheRecipient(t *testing.T) {
	t.Parallel()
	fake := startFakeSMTP(t, map[string]string{
		"RCPT": "550 5.1.1 <ASHA@Example.COM>: Recipient address rejected: User unknown (asha@example.com)",
	})
	db := dbtest.Open(t, database.SQLite)
	e := smtpEmail(1)
	_, err := newSMTPMailer(t, smtpConfigFor(t, fake.addr), db).Send(context.Background(), e)
	if !errors.Is(err, notify.ErrRejected) {
		t.Fatalf("Send: %v, want ErrRejected", err)
	}
	d := mailDelivery(t, db, e.MessageID)
	for what, text := range map[string]string{"error": err.Error(), "stored error": d.Error, "stored response": d.Response} {
		if strings.Contains(strings.ToLower(text), "asha@example.com") {
			t.Errorf("%s shows the recipient: %q", what, text)
		}
	}
	if !strings.Contains(d.Error, "550") || !strings.Contains(d.Error, "Recipient address rejected") {
		t.Errorf("stored error %q lost the server's reply", d.Error)
	}
}
