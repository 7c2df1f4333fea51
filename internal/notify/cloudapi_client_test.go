package notify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/notify"
	"insure/internal/notify/whatsapptest"
)

const (
	testPhoneNumberID = "106540352242922"
	testToken         = "EAAGsecretTOKEN0123456789"
	testDigits        = "919812345678" // validWhatsApp().To without the +
)

func testPDF() []byte { return []byte("%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n") }

// cloudWhatsApp is validWhatsApp with the document's bytes and message id id.
func cloudWhatsApp(id string) notify.WhatsApp {
	w := validWhatsApp()
	w.MessageID = id
	w.Document = testPDF()
	return w
}

func withoutDocument(w notify.WhatsApp) notify.WhatsApp {
	w.DocumentID, w.DocumentName, w.Document = "", "", nil
	return w
}

// testMessageID returns the n-th canonical message id of a test.
func testMessageID(n int) string { return fmt.Sprintf("0192f5e4-7a1b-7c2d-8e3f-%012d", n) }

func testConfig(baseURL string) notify.CloudAPIConfig {
	return notify.CloudAPIConfig{BaseURL: baseURL, Version: "v21.0", PhoneNumberID: testPhoneNumberID, Token: testToken}
}

func newCloudAPI(t *testing.T, db database.DB, cfg notify.CloudAPIConfig) *notify.CloudAPI {
	t.Helper()
	api, err := notify.NewCloudAPI(cfg, db, nil)
	if err != nil {
		t.Fatalf("NewCloudAPI: %v", err)
	}
	return api
}

// setupCloudAPI starts a fake Cloud API and a sender for it.
func setupCloudAPI(t *testing.T, db database.DB) (*whatsapptest.Server, *notify.CloudAPI) {
	t.Helper()
	srv := whatsapptest.Start(t, testPhoneNumberID, testToken)
	return srv, newCloudAPI(t, db, testConfig(srv.URL))
}

type deliveryRow struct {
	State      string
	Attempts   int
	MediaID    string
	ProviderID string
	Error      string
}

func readDelivery(t *testing.T, db database.DB, id string) deliveryRow {
	t.Helper()
	var r deliveryRow
	err := db.QueryRow(context.Background(), `SELECT state, attempts, COALESCE(media_id, ''),
		COALESCE(provider_message_id, ''), COALESCE(error, '') FROM whatsapp_deliveries WHERE message_id = $1`, id).
		Scan(&r.State, &r.Attempts, &r.MediaID, &r.ProviderID, &r.Error)
	if err != nil {
		t.Fatalf("read delivery %s: %v", id, err)
	}
	return r
}

// assertNoPersonalData fails when err's text holds the token, the phone
// number or a parameter of w.
func assertNoPersonalData(t *testing.T, err error, w notify.WhatsApp) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, secret := range append([]string{testToken, testDigits, w.To}, w.Params...) {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q contains %q", msg, secret)
		}
	}
}

func TestCloudAPISendWithDocument(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		srv, api := setupCloudAPI(t, db)
		ctx := context.Background()
		w := cloudWhatsApp(msgID)

		r, err := api.Send(ctx, w)
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		if !strings.HasPrefix(r.ProviderID, "wamid.") || r.Duplicate || r.Uncertain {
			t.Errorf("Send = %+v, want a fresh receipt with a wamid", r)
		}

		media := srv.Media()
		if len(media) != 1 {
			t.Fatalf("uploads = %d, want 1", len(media))
		}
		wantMedia := whatsapptest.Media{ID: media[0].ID, Filename: "policy-POL-1.pdf", ContentType: "application/pdf", Bytes: testPDF()}
		if diff := cmp.Diff(wantMedia, media[0]); diff != "" || media[0].ID == "" {
			t.Errorf("upload mismatch (-want +got):\n%s", diff)
		}

		wantReq := whatsapptest.Request{
			To: testDigits, Template: w.Template, Language: w.Language, Params: w.Params,
			DocumentID: media[0].ID, DocumentFilename: "policy-POL-1.pdf", ProviderMessageID: r.ProviderID,
		}
		reqs := srv.Requests()
		if diff := cmp.Diff([]whatsapptest.Request{wantReq}, reqs, cmpopts.IgnoreFields(whatsapptest.Request{}, "Body")); diff != "" {
			t.Fatalf("requests mismatch (-want +got):\n%s", diff)
		}
		text := func(s string) any { return map[string]any{"type": "text", "text": s} }
		wantBody := map[string]any{
			"messaging_product": "whatsapp",
			"to":                testDigits,
			"type":              "template",
			"template": map[string]any{
				"name":     "insure_policy_confirmation",
				"language": map[string]any{"code": "en"},
				"components": []any{
					map[string]any{"type": "header", "parameters": []any{map[string]any{
						"type": "document", "document": map[string]any{"id": media[0].ID, "filename": "policy-POL-1.pdf"},
					}}},
					map[string]any{"type": "body", "parameters": []any{
						text("Asha Rao"), text("POL-1"), text("1 Jan 2026"), text("31 Dec 2026"),
					}},
				},
			},
		}
		if diff := cmp.Diff(wantBody, decode(t, reqs[0].Body)); diff != "" {
			t.Errorf("request body mismatch (-want +got):\n%s", diff)
		}

		want := deliveryRow{State: "sent", Attempts: 1, MediaID: media[0].ID, ProviderID: r.ProviderID}
		if diff := cmp.Diff(want, readDelivery(t, db, msgID)); diff != "" {
			t.Errorf("delivery mismatch (-want +got):\n%s", diff)
		}

		again, err := api.Send(ctx, w)
		if err != nil {
			t.Fatalf("second Send: %v", err)
		}
		if want := (notify.Receipt{ProviderID: r.ProviderID, Duplicate: true}); again != want {
			t.Errorf("second Send = %+v, want %+v", again, want)
		}
		if m, u := srv.MessageCalls(), srv.MediaCalls(); m != 1 || u != 1 {
			t.Errorf("calls after a duplicate: messages %d, media %d; want 1 and 1", m, u)
		}
	})
}

func TestCloudAPISendWithoutDocument(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		srv, api := setupCloudAPI(t, db)
		w := withoutDocument(cloudWhatsApp(msgID))
		r, err := api.Send(context.Background(), w)
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		reqs := srv.Requests()
		if len(reqs) != 1 || srv.MediaCalls() != 0 {
			t.Fatalf("requests = %d, uploads = %d; want 1 and 0", len(reqs), srv.MediaCalls())
		}
		tmpl := decode(t, reqs[0].Body)["template"].(map[string]any)
		components := tmpl["components"].([]any)
		if len(components) != 1 || components[0].(map[string]any)["type"] != "body" {
			t.Errorf("components = %v, want only the body", components)
		}
		if reqs[0].DocumentID != "" || reqs[0].ProviderMessageID != r.ProviderID {
			t.Errorf("request = %+v, want no document and wamid %s", reqs[0], r.ProviderID)
		}
		want := deliveryRow{State: "sent", Attempts: 1, ProviderID: r.ProviderID}
		if diff := cmp.Diff(want, readDelivery(t, db, msgID)); diff != "" {
			t.Errorf("delivery mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestCloudAPISendProviderErrors(t *testing.T) {
	t.Parallel()
	type kind int
	const (
		retryable kind = iota
		rateLimited
		rejected
	)
	tests := []struct {
		mode       whatsapptest.Mode
		kind       kind
		status     int
		code       int
		retryAfter time.Duration
		contains   []string
	}{
		{whatsapptest.Fail500, retryable, 500, 131000, 0, []string{"HTTP 500", "131000"}},
		{whatsapptest.RateLimit429, rateLimited, 429, 4, whatsapptest.RetryAfter, []string{"HTTP 429"}},
		{whatsapptest.RateLimitCode130429, rateLimited, 400, 130429, 0, []string{"130429", "Rate limit hit"}},
		{whatsapptest.RateLimitCode131056, rateLimited, 400, 131056, 0, []string{"131056", "pair rate limit"}},
		{whatsapptest.Reject400, rejected, 400, 131026, 0, []string{"131026", "Message undeliverable", "fbtrace_id"}},
		// A bad token is not the message's fault: retry (and dead-letter),
		// never fail the message for good.
		{whatsapptest.Unauthorized401, retryable, 401, 190, 0, []string{"HTTP 401", "190"}},
	}
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		for i, tt := range tests {
			t.Run(tt.mode.String(), func(t *testing.T) {
				t.Parallel()
				srv, api := setupCloudAPI(t, db)
				ctx := context.Background()
				w := cloudWhatsApp(testMessageID(i))
				srv.FailNext(1, tt.mode)

				_, err := api.Send(ctx, w)
				if err == nil {
					t.Fatal("Send succeeded, want an error")
				}
				if got := errors.Is(err, notify.ErrRateLimited); got != (tt.kind == rateLimited) {
					t.Errorf("errors.Is(%v, ErrRateLimited) = %t", err, got)
				}
				if got := errors.Is(err, notify.ErrRejected); got != (tt.kind == rejected) {
					t.Errorf("errors.Is(%v, ErrRejected) = %t", err, got)
				}
				if errors.Is(err, notify.ErrUnavailable) {
					t.Errorf("errors.Is(%v, ErrUnavailable): a definite reply must use up an attempt", err)
				}
				var perr *notify.ProviderError
				if !errors.As(err, &perr) {
					t.Fatalf("error %v does not wrap a *ProviderError", err)
				}
				if perr.HTTPStatus != tt.status || perr.Code != tt.code || perr.RetryAfter != tt.retryAfter || perr.TraceID == "" {
					t.Errorf("ProviderError = %+v, want status %d, code %d, retry after %s and a trace id", perr, tt.status, tt.code, tt.retryAfter)
				}
				for _, s := range tt.contains {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				assertNoPersonalData(t, err, w)
				row := readDelivery(t, db, w.MessageID)
				if row.State != "failed" || row.Attempts != 1 || row.MediaID == "" || !strings.Contains(row.Error, fmt.Sprint(tt.code)) {
					t.Errorf("delivery = %+v, want failed after 1 attempt with the media id and the error", row)
				}

				// The failure was definite, so the next Send tries again,
				// with the media uploaded the first time.
				r, err := api.Send(ctx, w)
				if err != nil {
					t.Fatalf("Send after the failure: %v", err)
				}
				if r.Duplicate || srv.MessageCalls() != 2 || srv.MediaCalls() != 1 {
					t.Errorf("retry: receipt %+v, messages %d, uploads %d; want a fresh send, 2 and 1", r, srv.MessageCalls(), srv.MediaCalls())
				}
				want := deliveryRow{State: "sent", Attempts: 2, MediaID: row.MediaID, ProviderID: r.ProviderID}
				if diff := cmp.Diff(want, readDelivery(t, db, w.MessageID)); diff != "" {
					t.Errorf("delivery after the retry mismatch (-want +got):\n%s", diff)
				}
			})
		}
	})
}

// A request that went out but got no reply may have been accepted: it is
// reported unavailable, left 'requesting', and never sent again.
func TestCloudAPISendNoReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode     whatsapptest.Mode
		accepted int // what the fake recorded as accepted
	}{
		{whatsapptest.Hang, 1},
		{whatsapptest.Drop, 0},
	}
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		for i, tt := range tests {
			t.Run(tt.mode.String(), func(t *testing.T) {
				t.Parallel()
				srv := whatsapptest.Start(t, testPhoneNumberID, testToken)
				cfg := testConfig(srv.URL)
				cfg.Timeout = 300 * time.Millisecond
				api := newCloudAPI(t, db, cfg)
				ctx := context.Background()
				w := cloudWhatsApp(testMessageID(i))
				srv.FailNext(1, tt.mode)

				_, err := api.Send(ctx, w)
				if !errors.Is(err, notify.ErrUnavailable) || errors.Is(err, notify.ErrRejected) || errors.Is(err, notify.ErrRateLimited) {
					t.Fatalf("Send error = %v, want ErrUnavailable only", err)
				}
				assertNoPersonalData(t, err, w)
				if got := readDelivery(t, db, w.MessageID); got.State != "requesting" || got.Attempts != 1 || got.MediaID == "" {
					t.Errorf("delivery = %+v, want still requesting after 1 attempt, with the media id", got)
				}
				if got := len(srv.Requests()); got != tt.accepted {
					t.Errorf("fake accepted %d messages, want %d", got, tt.accepted)
				}

				for range 2 {
					r, err := api.Send(ctx, w)
					if err != nil {
						t.Fatalf("Send after no reply: %v", err)
					}
					if want := (notify.Receipt{Duplicate: true, Uncertain: true}); r != want {
						t.Errorf("Send after no reply = %+v, want %+v", r, want)
					}
				}
				if got := srv.MessageCalls(); got != 1 {
					t.Errorf("messages requests = %d, want 1: an unanswered request must not be repeated", got)
				}
				if got := readDelivery(t, db, w.MessageID); got.State != "uncertain" || got.Attempts != 1 {
					t.Errorf("delivery = %+v, want uncertain after 1 attempt", got)
				}
			})
		}
	})
}

func TestCloudAPISendConnectionRefused(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		api := newCloudAPI(t, db, testConfig("http://"+addr))
		w := withoutDocument(cloudWhatsApp(msgID))

		_, err = api.Send(context.Background(), w)
		if err == nil || errors.Is(err, notify.ErrUnavailable) || errors.Is(err, notify.ErrRejected) || errors.Is(err, notify.ErrRateLimited) {
			t.Fatalf("Send error = %v, want a plain retryable error", err)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("Send error = %v, want it to wrap ECONNREFUSED", err)
		}
		assertNoPersonalData(t, err, w)
		if got := readDelivery(t, db, msgID); got.State != "failed" || got.Attempts != 1 || !strings.Contains(got.Error, "not sent") {
			t.Errorf("delivery = %+v, want failed (not sent) after 1 attempt", got)
		}
	})
}

func TestCloudAPISendUploadFails(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		srv, api := setupCloudAPI(t, db)
		ctx := context.Background()
		w := cloudWhatsApp(msgID)
		srv.FailNextUpload(1, whatsapptest.Fail500)

		_, err := api.Send(ctx, w)
		var perr *notify.ProviderError
		if !errors.As(err, &perr) || perr.HTTPStatus != 500 || errors.Is(err, notify.ErrUnavailable) || errors.Is(err, notify.ErrRejected) {
			t.Fatalf("Send error = %v, want a retryable upload error", err)
		}
		if srv.MessageCalls() != 0 {
			t.Errorf("messages requests = %d, want none after a failed upload", srv.MessageCalls())
		}
		if got := readDelivery(t, db, msgID); got.State != "failed" || got.Attempts != 0 || !strings.Contains(got.Error, "upload") {
			t.Errorf("delivery = %+v, want failed without an attempt", got)
		}

		r, err := api.Send(ctx, w)
		if err != nil || r.Duplicate {
			t.Fatalf("Send after the upload failure = %+v, %v; want a fresh send", r, err)
		}
		if got := readDelivery(t, db, msgID); got.State != "sent" || got.Attempts != 1 || len(srv.Media()) != 1 {
			t.Errorf("delivery = %+v (uploads %d), want sent after 1 attempt and 1 upload", got, len(srv.Media()))
		}
	})
}

func TestCloudAPISendConcurrent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		srv, api := setupCloudAPI(t, db)
		w := withoutDocument(cloudWhatsApp(msgID))
		const senders = 8
		receipts := make([]notify.Receipt, senders)
		errs := make([]error, senders)
		var wg sync.WaitGroup
		for i := range senders {
			wg.Go(func() { receipts[i], errs[i] = api.Send(context.Background(), w) })
		}
		wg.Wait()
		fresh := 0
		for i := range senders {
			if errs[i] != nil {
				t.Errorf("sender %d: %v", i, errs[i])
			}
			if !receipts[i].Duplicate {
				fresh++
			}
		}
		if fresh != 1 || srv.MessageCalls() != 1 {
			t.Errorf("fresh receipts %d, messages requests %d; want 1 and 1", fresh, srv.MessageCalls())
		}
		if got := readDelivery(t, db, msgID); got.State != "sent" || got.Attempts != 1 {
			t.Errorf("delivery = %+v, want sent after 1 attempt", got)
		}
	})
}

func TestCloudAPISendInvalid(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.SQLite)
	srv, api := setupCloudAPI(t, db)
	noBytes := cloudWhatsApp(msgID)
	noBytes.Document = nil
	badTo := cloudWhatsApp(msgID)
	badTo.To = "9812345678"
	bytesOnly := withoutDocument(cloudWhatsApp(msgID))
	bytesOnly.Document = testPDF()
	for name, w := range map[string]notify.WhatsApp{
		"document without bytes": noBytes,
		"number without +":       badTo,
		"bytes without document": bytesOnly,
	} {
		_, err := api.Send(context.Background(), w)
		if !errors.Is(err, notify.ErrRejected) || !errors.Is(err, notify.ErrInvalid) {
			t.Errorf("%s: Send error = %v, want ErrRejected and ErrInvalid", name, err)
		}
	}
	if srv.MessageCalls()+srv.MediaCalls() != 0 {
		t.Errorf("the fake got %d requests for invalid messages", srv.MessageCalls()+srv.MediaCalls())
	}
}

// ProviderError keeps what Meta said but drops phone numbers from it, and
// does not quote a body that is not a Graph error.
func TestCloudAPIProviderErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		body     string
		rejected bool
		want     string
	}{
		{"phone number in details", 400,
			`{"error":{"message":"(#131030) Recipient phone number not in allowed list","type":"OAuthException","code":131030,` +
				`"error_data":{"messaging_product":"whatsapp","details":"Recipient +91 98123 45678 (919812345678) is not allowed"},"fbtrace_id":"Axyz"}}`,
			true, "whatsapp cloud api: HTTP 400, error 131030 (OAuthException): (#131030) Recipient phone number not in allowed list: " +
				"Recipient [number] ([number]) is not allowed [fbtrace_id Axyz]"},
		{"proxy page", 502, `<html><body>Bad gateway for 919812345678</body></html>`,
			false, "whatsapp cloud api: HTTP 502: Bad Gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(ts.Close)
			api := newCloudAPI(t, dbtest.Open(t, database.SQLite), testConfig(ts.URL))
			w := withoutDocument(cloudWhatsApp(msgID))
			_, err := api.Send(context.Background(), w)
			var perr *notify.ProviderError
			if !errors.As(err, &perr) {
				t.Fatalf("Send error = %v, want a *ProviderError", err)
			}
			if got := perr.Error(); got != tt.want {
				t.Errorf("ProviderError.Error() =\n%s\nwant\n%s", got, tt.want)
			}
			if errors.Is(err, notify.ErrRejected) != tt.rejected {
				t.Errorf("errors.Is(%v, ErrRejected) = %t, want %t", err, !tt.rejected, tt.rejected)
			}
			assertNoPersonalData(t, err, w)
		})
	}
}

func TestCloudAPIConfigValidate(t *testing.T) {
	t.Parallel()
	valid := testConfig("")
	tests := []struct {
		name   string
		change func(c *notify.CloudAPIConfig)
		want   string // part of the error; "" for valid
	}{
		{"defaults", func(*notify.CloudAPIConfig) {}, ""},
		{"explicit", func(c *notify.CloudAPIConfig) {
			c.BaseURL, c.Timeout = "http://127.0.0.1:8080/graph/", 5*time.Second
		}, ""},
		{"no version", func(c *notify.CloudAPIConfig) { c.Version = "" }, "version is empty"},
		{"version without v", func(c *notify.CloudAPIConfig) { c.Version = "21.0" }, "version \"21.0\""},
		{"version without minor", func(c *notify.CloudAPIConfig) { c.Version = "v21" }, "vNN.N"},
		{"no phone number id", func(c *notify.CloudAPIConfig) { c.PhoneNumberID = "" }, "phone number id is empty"},
		{"phone number instead of id", func(c *notify.CloudAPIConfig) { c.PhoneNumberID = "+15550783881" }, "numeric id"},
		{"no token", func(c *notify.CloudAPIConfig) { c.Token = "" }, "token is empty"},
		{"bearer prefix", func(c *notify.CloudAPIConfig) { c.Token = "Bearer " + testToken }, "whitespace"},
		{"token with newline", func(c *notify.CloudAPIConfig) { c.Token = testToken + "\n" }, "whitespace"},
		{"relative base URL", func(c *notify.CloudAPIConfig) { c.BaseURL = "graph.facebook.com" }, "absolute http(s) URL"},
		{"ftp base URL", func(c *notify.CloudAPIConfig) { c.BaseURL = "ftp://graph.facebook.com" }, "absolute http(s) URL"},
		{"base URL with query", func(c *notify.CloudAPIConfig) { c.BaseURL = "https://graph.facebook.com?access_token=x" }, "query"},
		{"negative timeout", func(c *notify.CloudAPIConfig) { c.Timeout = -time.Second }, "timeout -1s is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.change(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("Validate() = %v: it shows the token", err)
			}
			if _, nerr := notify.NewCloudAPI(c, dbtest.Open(t, database.SQLite), nil); nerr == nil || strings.Contains(nerr.Error(), testToken) {
				t.Errorf("NewCloudAPI error = %v, want one without the token", nerr)
			}
		})
	}
}

func TestCloudAPIConfigHidesToken(t *testing.T) {
	t.Parallel()
	c := testConfig("")
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cloud_api", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logged.String()} {
		if strings.Contains(s, testToken) || !strings.Contains(s, testPhoneNumberID) {
			t.Errorf("formatted config %q: want the phone number id and no token", s)
		}
	}
	if _, err := notify.NewCloudAPI(c, nil, nil); err == nil {
		t.Error("NewCloudAPI without a database succeeded")
	}
}
