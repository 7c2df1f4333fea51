package listener

import (
	"errors"
	"fmt"
	"testing"

	"insure/internal/notify"
)

func TestRedactRecipient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, to, in, want string
	}{
		{"smtp echo", "jane@example.com",
			"SMTP server replied to RCPT: 550 5.1.1 <jane@example.com>: Recipient address rejected",
			"SMTP server replied to RCPT: 550 5.1.1 <<recipient>>: Recipient address rejected"},
		{"any case, every occurrence", "Jane.Doe@Example.com",
			"jane.doe@example.com unknown; JANE.DOE@EXAMPLE.COM bounced",
			"<recipient> unknown; <recipient> bounced"},
		{"display name", "Jane Doe <jane@example.com>",
			"to Jane Doe <jane@example.com> and jane@example.com",
			"to <recipient> and <recipient>"},
		{"phone with and without +", "+919812345678",
			`(#131026) message undeliverable to +919812345678 (wa_id 919812345678)`,
			`(#131026) message undeliverable to <recipient> (wa_id <recipient>)`},
		{"other text untouched", "jane@example.com", "421 4.3.2 too busy", "421 4.3.2 too busy"},
		{"no recipient known", "", "550 <jane@example.com> rejected", "550 <jane@example.com> rejected"},
		{"regexp characters are literal", "a+b@example.com", "550 a+b@example.com aab@example.com", "550 <recipient> aab@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := redactRecipient(tt.in, tt.to); got != tt.want {
				t.Errorf("redactRecipient(%q, %q) =\n%q, want\n%q", tt.in, tt.to, got, tt.want)
			}
		})
	}
}

func TestRedactKeepsTheErrorChain(t *testing.T) {
	t.Parallel()
	cause := &notify.SMTPError{Command: "RCPT", Code: 550, Message: "5.1.1 <jane@example.com>: no such user"}
	err := redact(fmt.Errorf("notify: send email: %w: %w", notify.ErrRejected, cause), "jane@example.com")
	if got, want := err.Error(), "notify: send email: message rejected: SMTP server replied to RCPT: 550 5.1.1 <<recipient>>: no such user"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var se *notify.SMTPError
	if !errors.Is(err, notify.ErrRejected) || !errors.As(err, &se) {
		t.Errorf("redact lost the chain: %v", err)
	}
	plain := errors.New("connection refused")
	if redact(plain, "jane@example.com") != plain {
		t.Error("redact wrapped an error that does not name the recipient")
	}
	if redact(nil, "jane@example.com") != nil {
		t.Error("redact(nil) is not nil")
	}
}
