package notify_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/notify"
)

// clock has nanoseconds and a non-UTC zone: the drivers store UTC to the
// microsecond.
var clock = time.Date(2026, 11, 27, 15, 30, 0, 123456789, time.FixedZone("IST", 5*3600+1800))

func stored() time.Time { return clock.UTC().Truncate(time.Microsecond) }

func countRows(t *testing.T, db database.DB, table string) int64 {
	t.Helper()
	var n int64
	// table is one of two constants in this file, never input.
	if err := db.QueryRow(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestLogMailer(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		m := notify.NewLogMailer(db, nil, func() time.Time { return clock })

		e := validEmail()
		e.Text = "Hello Asha,\n\nYour policy is confirmed.\n"
		e.HTML = "<!DOCTYPE html><p>Hello &lt;Asha&gt;, ₹ and “quotes”</p>"
		e.Attachments = append(e.Attachments, notify.Attachment{Name: "notes.txt", Data: []byte("plain")})
		want := notify.RecordedEmail{
			MessageID: msgID, HeaderID: "<" + msgID + "@insure.local>",
			To: e.To, From: e.From, Subject: e.Subject, Text: e.Text, HTML: e.HTML,
			Attachments: []notify.RecordedAttachment{
				{Name: "policy-POL-1.pdf", ContentType: "application/pdf", DocumentID: docID, Size: len(e.Attachments[0].Data), SHA256: digest(e.Attachments[0].Data)},
				{Name: "notes.txt", ContentType: "application/octet-stream", Size: 5, SHA256: digest([]byte("plain"))},
			},
			RecordedAt: stored(),
		}

		t.Run("send records the full content", func(t *testing.T) {
			r, err := m.Send(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(notify.Receipt{ProviderID: e.HeaderID()}, r); diff != "" {
				t.Errorf("receipt (-want +got):\n%s", diff)
			}
			got, err := notify.RecordedEmails(ctx, db, nil, msgID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]notify.RecordedEmail{want}, got); diff != "" {
				t.Errorf("recorded (-want +got):\n%s", diff)
			}
		})

		t.Run("a second send of the same id records nothing", func(t *testing.T) {
			again := e
			again.Subject = "Something else"
			r, err := m.Send(ctx, again)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(notify.Receipt{ProviderID: e.HeaderID(), Duplicate: true}, r); diff != "" {
				t.Errorf("receipt (-want +got):\n%s", diff)
			}
			if n := countRows(t, db, "outbound_mail"); n != 1 {
				t.Errorf("outbound_mail has %d rows, want 1", n)
			}
			got, err := notify.RecordedEmails(ctx, db, nil, msgID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]notify.RecordedEmail{want}, got); diff != "" {
				t.Errorf("recorded (-want +got):\n%s", diff)
			}
		})

		t.Run("an invalid email is rejected and not recorded", func(t *testing.T) {
			bad := validEmail()
			bad.MessageID = msgID2
			bad.To = "not an address"
			_, err := m.Send(ctx, bad)
			if !errors.Is(err, notify.ErrRejected) || !errors.Is(err, notify.ErrInvalid) {
				t.Errorf("Send = %v, want ErrRejected and ErrInvalid", err)
			}
			if n := countRows(t, db, "outbound_mail"); n != 1 {
				t.Errorf("outbound_mail has %d rows, want 1", n)
			}
		})

		t.Run("read all, by ids, and without attachments", func(t *testing.T) {
			later := notify.NewLogMailer(db, nil, func() time.Time { return clock.Add(time.Minute) })
			plain := validEmail()
			plain.MessageID = msgID2
			plain.Attachments = nil
			if _, err := later.Send(ctx, plain); err != nil {
				t.Fatal(err)
			}
			second := notify.RecordedEmail{
				MessageID: msgID2, HeaderID: plain.HeaderID(),
				To: plain.To, From: plain.From, Subject: plain.Subject, Text: plain.Text, HTML: plain.HTML,
				RecordedAt: stored().Add(time.Minute),
			}
			all, err := notify.RecordedEmails(ctx, db, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]notify.RecordedEmail{want, second}, all); diff != "" {
				t.Errorf("all (-want +got):\n%s", diff)
			}
			some, err := notify.RecordedEmails(ctx, db, nil, msgID2, "0192f5e4-0000-7000-8000-000000000000", msgID2)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]notify.RecordedEmail{second}, some); diff != "" {
				t.Errorf("by id (-want +got):\n%s", diff)
			}
		})

		t.Run("concurrent sends of one id record one row", func(t *testing.T) {
			e := validEmail()
			e.MessageID = "0192f5e4-7a1b-7c2d-8e3f-c0c0c0c0c0c0"
			const senders = 16
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				fresh int
				errs  []error
			)
			for range senders {
				wg.Go(func() {
					r, err := m.Send(ctx, e)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
						return
					}
					if r.ProviderID != e.HeaderID() {
						errs = append(errs, errors.New("provider id "+r.ProviderID))
					}
					if !r.Duplicate {
						fresh++
					}
				})
			}
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if fresh != 1 {
				t.Errorf("%d sends were not duplicates, want 1", fresh)
			}
			got, err := notify.RecordedEmails(ctx, db, nil, e.MessageID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Errorf("recorded %d emails with id %s, want 1", len(got), e.MessageID)
			}
		})
	})
}

func TestLogWhatsApp(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		s := notify.NewLogWhatsApp(db, nil, func() time.Time { return clock })
		w := validWhatsApp()
		w.Params[0] = "Asha “Rao” <script>"
		want := notify.RecordedWhatsApp{
			MessageID: msgID, ProviderMessageID: "wamid.log." + msgID,
			To: w.To, Template: w.Template, Language: w.Language, Params: w.Params,
			DocumentID: docID, DocumentName: w.DocumentName,
			RecordedAt: stored(),
		}
		ignoreBody := cmpopts.IgnoreFields(notify.RecordedWhatsApp{}, "Body")

		t.Run("send records the cloud api body", func(t *testing.T) {
			r, err := s.Send(ctx, w)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(notify.Receipt{ProviderID: "wamid.log." + msgID}, r); diff != "" {
				t.Errorf("receipt (-want +got):\n%s", diff)
			}
			got, err := notify.RecordedWhatsApps(ctx, db, nil, msgID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]notify.RecordedWhatsApp{want}, got, ignoreBody); diff != "" {
				t.Fatalf("recorded (-want +got):\n%s", diff)
			}
			body, err := notify.CloudAPIBody(w, docID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(decode(t, body), decode(t, got[0].Body)); diff != "" {
				t.Errorf("stored body (-want +got):\n%s", diff)
			}
		})

		t.Run("a second send of the same id records nothing", func(t *testing.T) {
			again := w
			again.Template = "insure_other"
			r, err := s.Send(ctx, again)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(notify.Receipt{ProviderID: "wamid.log." + msgID, Duplicate: true}, r); diff != "" {
				t.Errorf("receipt (-want +got):\n%s", diff)
			}
			if n := countRows(t, db, "outbound_whatsapp"); n != 1 {
				t.Errorf("outbound_whatsapp has %d rows, want 1", n)
			}
			got, err := notify.RecordedWhatsApps(ctx, db, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]notify.RecordedWhatsApp{want}, got, ignoreBody); diff != "" {
				t.Errorf("recorded (-want +got):\n%s", diff)
			}
		})

		t.Run("an invalid message is rejected and not recorded", func(t *testing.T) {
			bad := validWhatsApp()
			bad.MessageID = msgID2
			bad.To = "98123"
			_, err := s.Send(ctx, bad)
			if !errors.Is(err, notify.ErrRejected) || !errors.Is(err, notify.ErrInvalid) {
				t.Errorf("Send = %v, want ErrRejected and ErrInvalid", err)
			}
			if n := countRows(t, db, "outbound_whatsapp"); n != 1 {
				t.Errorf("outbound_whatsapp has %d rows, want 1", n)
			}
		})

		t.Run("without document or params", func(t *testing.T) {
			plain := validWhatsApp()
			plain.MessageID = msgID2
			plain.DocumentID, plain.DocumentName, plain.Params = "", "", nil
			if _, err := s.Send(ctx, plain); err != nil {
				t.Fatal(err)
			}
			got, err := notify.RecordedWhatsApps(ctx, db, nil, msgID2)
			if err != nil {
				t.Fatal(err)
			}
			wantPlain := notify.RecordedWhatsApp{
				MessageID: msgID2, ProviderMessageID: "wamid.log." + msgID2,
				To: plain.To, Template: plain.Template, Language: plain.Language, RecordedAt: stored(),
			}
			if diff := cmp.Diff([]notify.RecordedWhatsApp{wantPlain}, got, ignoreBody); diff != "" {
				t.Errorf("recorded (-want +got):\n%s", diff)
			}
		})

		t.Run("concurrent sends of one id record one row", func(t *testing.T) {
			w := validWhatsApp()
			w.MessageID = "0192f5e4-7a1b-7c2d-8e3f-c0c0c0c0c0c0"
			const senders = 16
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				fresh int
				errs  []error
			)
			for range senders {
				wg.Go(func() {
					r, err := s.Send(ctx, w)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
						return
					}
					if !r.Duplicate {
						fresh++
					}
				})
			}
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if fresh != 1 {
				t.Errorf("%d sends were not duplicates, want 1", fresh)
			}
			got, err := notify.RecordedWhatsApps(ctx, db, nil, w.MessageID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Errorf("recorded %d messages with id %s, want 1", len(got), w.MessageID)
			}
		})
	})
}

// downDB is a database that cannot be reached.
type downDB struct{ database.DB }

var _ database.DB = downDB{}

func (downDB) Exec(context.Context, string, ...any) (int64, error) {
	return 0, errors.Join(database.ErrUnavailable, errors.New("connection refused"))
}

func TestLogDriversReportUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := notify.NewLogMailer(downDB{}, nil, nil).Send(ctx, validEmail()); !errors.Is(err, notify.ErrUnavailable) {
		t.Errorf("LogMailer.Send = %v, want ErrUnavailable", err)
	}
	if _, err := notify.NewLogWhatsApp(downDB{}, nil, nil).Send(ctx, validWhatsApp()); !errors.Is(err, notify.ErrUnavailable) {
		t.Errorf("LogWhatsApp.Send = %v, want ErrUnavailable", err)
	}
}

func TestRecordedAttachmentJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(notify.RecordedAttachment{Name: "a.pdf", ContentType: "application/pdf", DocumentID: docID, Size: 3, SHA256: "ab"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": "a.pdf", "content_type": "application/pdf", "document_id": docID, "size": 3.0, "sha256": "ab"}
	if diff := cmp.Diff(want, decode(t, b)); diff != "" {
		t.Errorf("attachment JSON (-want +got):\n%s", diff)
	}
}
