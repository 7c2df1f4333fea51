package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/keyring"
	"insure/internal/notify"
	"insure/internal/personal"
)

const customerID = "0192f5e4-7a1b-7c2d-8e3f-00000000c001"

var (
	_ notify.Sealer = (*personal.Vault)(nil)
	_ notify.Opener = (*personal.Vault)(nil)
)

// sealSetup returns the keyring and vault of db.
func sealSetup(t *testing.T, db database.DB) (*keyring.Keyring, *personal.Vault) {
	t.Helper()
	master, err := keyring.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	keys := keyring.New(db, master, func() time.Time { return clock })
	return keys, personal.NewVault(keys)
}

// rawRow returns the stored text of a row's columns, in clear where they
// were not sealed.
func rawRow(t *testing.T, db database.DB, query, id string, n int) []string {
	t.Helper()
	vals := make([]string, n)
	dest := make([]any, n)
	for i := range vals {
		dest[i] = &vals[i]
	}
	if err := db.QueryRow(context.Background(), query, id).Scan(dest...); err != nil {
		t.Fatalf("read raw row %s: %v", id, err)
	}
	return vals
}

func TestLogMailerSeals(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		keys, vault := sealSetup(t, db)
		m := notify.NewLogMailer(db, vault, func() time.Time { return clock })

		e := validEmail()
		e.CustomerID = customerID
		if _, err := m.Send(ctx, e); err != nil {
			t.Fatal(err)
		}
		admin := validEmail()
		admin.MessageID = msgID2
		admin.To = "ops@insure.example"
		if _, err := m.Send(ctx, admin); err != nil {
			t.Fatal(err)
		}

		t.Run("the personal columns are sealed under the customer", func(t *testing.T) {
			raw := rawRow(t, db, `SELECT customer_id, to_addr, subject, text_body, html_body, from_addr
				FROM outbound_mail WHERE message_id = $1`, msgID, 6)
			if raw[0] != customerID {
				t.Errorf("customer_id = %q, want %q", raw[0], customerID)
			}
			for i, col := range []string{"to_addr", "subject", "text_body", "html_body"} {
				if v := raw[i+1]; !keyring.IsSealed(v) || strings.Contains(v, "asha") || strings.Contains(v, "Asha") {
					t.Errorf("%s = %q, want a sealed value", col, v)
				}
			}
			if raw[5] != e.From {
				t.Errorf("from_addr = %q, want it in clear: %q", raw[5], e.From)
			}
			// Sealed for its own column: another column's field does not open it.
			if _, err := keys.Open(ctx, db, customerID, "outbound_mail.subject", raw[1]); !errors.Is(err, keyring.ErrTampered) {
				t.Errorf("to_addr opened as the subject: %v", err)
			}
		})

		t.Run("a message about no customer is stored as it is", func(t *testing.T) {
			raw := rawRow(t, db, `SELECT customer_id, to_addr, subject FROM outbound_mail WHERE message_id = $1`, msgID2, 3)
			if diff := cmp.Diff([]string{"", admin.To, admin.Subject}, raw); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})

		t.Run("read back opened", func(t *testing.T) {
			got, err := notify.RecordedEmails(ctx, db, vault)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("recorded %d emails, want 2", len(got))
			}
			want := []notify.RecordedEmail{
				{MessageID: msgID, CustomerID: customerID, To: e.To, Subject: e.Subject, Text: e.Text, HTML: e.HTML},
				{MessageID: msgID2, To: admin.To, Subject: admin.Subject, Text: admin.Text, HTML: admin.HTML},
			}
			opt := cmpopts.IgnoreFields(notify.RecordedEmail{}, "HeaderID", "From", "Attachments", "RecordedAt")
			if diff := cmp.Diff(want, got, opt); diff != "" {
				t.Errorf("recorded (-want +got):\n%s", diff)
			}
			sealed, err := notify.RecordedEmails(ctx, db, nil, msgID)
			if err != nil {
				t.Fatal(err)
			}
			if len(sealed) != 1 || !keyring.IsSealed(sealed[0].To) {
				t.Errorf("without an opener: %+v, want the sealed values", sealed)
			}
		})

		if err := keys.Destroy(ctx, db, customerID); err != nil {
			t.Fatal(err)
		}

		t.Run("after erasure the copy reads erased", func(t *testing.T) {
			got, err := notify.RecordedEmails(ctx, db, vault, msgID)
			if err != nil {
				t.Fatal(err)
			}
			want := []notify.RecordedEmail{{MessageID: msgID, CustomerID: customerID, From: e.From,
				To: event.Erased, Subject: event.Erased, Text: event.Erased, HTML: event.Erased}}
			opt := cmpopts.IgnoreFields(notify.RecordedEmail{}, "HeaderID", "Attachments", "RecordedAt")
			if diff := cmp.Diff(want, got, opt); diff != "" {
				t.Errorf("recorded (-want +got):\n%s", diff)
			}
		})

		t.Run("a repeated send after erasure is still a duplicate", func(t *testing.T) {
			r, err := m.Send(ctx, e)
			if err != nil || !r.Duplicate || r.ProviderID != e.HeaderID() {
				t.Errorf("Send = %+v, %v; want a duplicate", r, err)
			}
		})

		t.Run("a new message about an erased customer is rejected", func(t *testing.T) {
			fresh := validEmail()
			fresh.MessageID = "0192f5e4-7a1b-7c2d-8e3f-c0c0c0c0c0c1"
			fresh.CustomerID = customerID
			_, err := m.Send(ctx, fresh)
			if !errors.Is(err, notify.ErrRejected) || errors.Is(err, notify.ErrInvalid) || !strings.Contains(err.Error(), "personal data was erased") {
				t.Errorf("Send = %v, want ErrRejected saying the personal data was erased", err)
			}
			if strings.Contains(err.Error(), "asha") {
				t.Errorf("the error shows the address: %v", err)
			}
			if n := countRows(t, db, "outbound_mail"); n != 2 {
				t.Errorf("outbound_mail has %d rows, want 2", n)
			}
		})
	})
}

func TestLogWhatsAppSeals(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		keys, vault := sealSetup(t, db)
		s := notify.NewLogWhatsApp(db, vault, func() time.Time { return clock })

		w := validWhatsApp()
		w.CustomerID = customerID
		if _, err := s.Send(ctx, w); err != nil {
			t.Fatal(err)
		}

		t.Run("the phone and body are sealed under the customer", func(t *testing.T) {
			raw := rawRow(t, db, `SELECT customer_id, to_phone, body, template FROM outbound_whatsapp WHERE message_id = $1`, msgID, 4)
			if raw[0] != customerID || raw[3] != w.Template {
				t.Errorf("customer_id, template = %q, %q; want %q, %q", raw[0], raw[3], customerID, w.Template)
			}
			if !keyring.IsSealed(raw[1]) {
				t.Errorf("to_phone = %q, want a sealed value", raw[1])
			}
			var body string
			if err := json.Unmarshal([]byte(raw[2]), &body); err != nil || !keyring.IsSealed(body) {
				t.Errorf("body = %s, want a sealed value as a JSON string (%v)", raw[2], err)
			}
			for _, v := range raw {
				if strings.Contains(v, "9812345678") || strings.Contains(v, "Asha") {
					t.Errorf("stored in clear: %q", v)
				}
			}
		})

		t.Run("read back opened", func(t *testing.T) {
			got, err := notify.RecordedWhatsApps(ctx, db, vault)
			if err != nil {
				t.Fatal(err)
			}
			want := []notify.RecordedWhatsApp{{MessageID: msgID, CustomerID: customerID, ProviderMessageID: "wamid.log." + msgID,
				To: w.To, Template: w.Template, Language: w.Language, Params: w.Params,
				DocumentID: docID, DocumentName: w.DocumentName, RecordedAt: stored()}}
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(notify.RecordedWhatsApp{}, "Body")); diff != "" {
				t.Fatalf("recorded (-want +got):\n%s", diff)
			}
			body, err := notify.CloudAPIBody(w, docID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(decode(t, body), decode(t, got[0].Body)); diff != "" {
				t.Errorf("opened body (-want +got):\n%s", diff)
			}
		})

		if err := keys.Destroy(ctx, db, customerID); err != nil {
			t.Fatal(err)
		}

		t.Run("after erasure the copy reads erased", func(t *testing.T) {
			got, err := notify.RecordedWhatsApps(ctx, db, vault, msgID)
			if err != nil {
				t.Fatal(err)
			}
			want := []notify.RecordedWhatsApp{{MessageID: msgID, CustomerID: customerID, ProviderMessageID: "wamid.log." + msgID,
				To: event.Erased, Template: w.Template, Language: w.Language, Body: json.RawMessage(`"[erased]"`), RecordedAt: stored()}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("recorded (-want +got):\n%s", diff)
			}
		})

		t.Run("a repeated send after erasure is still a duplicate", func(t *testing.T) {
			r, err := s.Send(ctx, w)
			if err != nil || !r.Duplicate || r.ProviderID != "wamid.log."+msgID {
				t.Errorf("Send = %+v, %v; want a duplicate", r, err)
			}
		})

		t.Run("a new message about an erased customer is rejected", func(t *testing.T) {
			fresh := validWhatsApp()
			fresh.MessageID = msgID2
			fresh.CustomerID = customerID
			_, err := s.Send(ctx, fresh)
			if !errors.Is(err, notify.ErrRejected) || !strings.Contains(err.Error(), "personal data was erased") {
				t.Errorf("Send = %v, want ErrRejected saying the personal data was erased", err)
			}
			if n := countRows(t, db, "outbound_whatsapp"); n != 1 {
				t.Errorf("outbound_whatsapp has %d rows, want 1", n)
			}
		})
	})
}

// Without a sealer, a message about a customer is refused, not stored in
// clear; one about no customer is recorded.
func TestLogDriversWithoutSealer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.Open(t, database.SQLite)
	e := validEmail()
	e.CustomerID = customerID
	if _, err := notify.NewLogMailer(db, nil, nil).Send(ctx, e); err == nil {
		t.Error("LogMailer.Send of a customer's email without a sealer succeeded")
	}
	w := validWhatsApp()
	w.CustomerID = customerID
	if _, err := notify.NewLogWhatsApp(db, nil, nil).Send(ctx, w); err == nil {
		t.Error("LogWhatsApp.Send of a customer's message without a sealer succeeded")
	}
	if n := countRows(t, db, "outbound_mail") + countRows(t, db, "outbound_whatsapp"); n != 0 {
		t.Errorf("%d messages recorded", n)
	}
}
