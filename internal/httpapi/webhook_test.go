package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/app"
	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/httpapi"
)

const whatsAppPath = "/api/v1/webhooks/whatsapp"

// whatsAppBody is a notification as Meta sends it: two statuses (one failed)
// and an inbound message in a messages change, fields this server does not
// read, and a change of another kind.
const whatsAppBody = `{
  "object": "whatsapp_business_account",
  "entry": [{
    "id": "102290129340398",
    "changes": [
      {
        "field": "messages",
        "value": {
          "messaging_product": "whatsapp",
          "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
          "statuses": [
            {"id": "wamid.HBgLMTU1NTA3ODM4ODEVAgARGBI1", "status": "delivered", "timestamp": "1700000000",
             "recipient_id": "919876543210", "conversation": {"id": "c1", "origin": {"type": "utility"}},
             "pricing": {"billable": true, "pricing_model": "CBP", "category": "utility"}},
            {"id": "wamid.HBgLMTU1NTA3ODM4ODEVAgARGBI2", "status": "failed", "timestamp": "1700000060",
             "recipient_id": "919876543211",
             "errors": [{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
                         "error_data": {"details": "Message Undeliverable."}}]}
          ],
          "messages": [{"from": "919876543210", "id": "wamid.IN1", "timestamp": "1700000030", "type": "text", "text": {"body": "hi"}}]
        }
      },
      {"field": "message_template_status_update", "value": {"event": "APPROVED", "message_template_id": 123}}
    ]
  }]
}`

// whatsAppStatusesWant are the statuses in whatsAppBody.
func whatsAppStatusesWant() []app.WhatsAppStatus {
	return []app.WhatsAppStatus{
		{
			ProviderMessageID: "wamid.HBgLMTU1NTA3ODM4ODEVAgARGBI1", Status: "delivered",
			Timestamp: time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC),
		},
		{
			ProviderMessageID: "wamid.HBgLMTU1NTA3ODM4ODEVAgARGBI2", Status: "failed",
			Timestamp: time.Date(2023, 11, 14, 22, 14, 20, 0, time.UTC),
			ErrorCode: 131026, ErrorTitle: "Message undeliverable",
		},
	}
}

// signature is the X-Hub-Signature-256 of body under secret.
func signature(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// signed signs a request's body as Meta would, with testAppSecret.
func signed(body string) option {
	return header("X-Hub-Signature-256", signature(testAppSecret, body))
}

// statusRecorder records what the Webhooks fake receives.
type statusRecorder struct {
	mu    sync.Mutex
	calls [][]app.WhatsAppStatus
	ecs   []event.Context
}

func recordStatuses(h *harness) *statusRecorder {
	rec := &statusRecorder{}
	h.f.webhooks.WhatsAppStatusesFn = func(_ context.Context, ec event.Context, statuses []app.WhatsAppStatus) error {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.calls = append(rec.calls, statuses)
		rec.ecs = append(rec.ecs, ec)
		return nil
	}
	return rec
}

func (r *statusRecorder) received() [][]app.WhatsAppStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func verifyURL(mode, token, challenge string) string {
	return whatsAppPath + "?hub.mode=" + mode + "&hub.verify_token=" + token + "&hub.challenge=" + challenge
}

func TestWhatsAppWebhookVerify(t *testing.T) {
	t.Parallel()

	t.Run("right token", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		w := h.do("GET", verifyURL("subscribe", testVerifyToken, "1158201444"), "")
		wantStatus(t, w, http.StatusOK)
		if got := w.Body.String(); got != "1158201444" {
			t.Errorf("body = %q, want the challenge", got)
		}
		if ct := w.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("X-Content-Type-Options = %q", got)
		}
	})

	tests := []struct {
		name, target string
		status       int
		code, field  string
	}{
		{"wrong token", verifyURL("subscribe", "verify-7f3a9d", "1158201444"), 403, "forbidden", ""},
		{"token prefix", verifyURL("subscribe", testVerifyToken[:len(testVerifyToken)-1], "1"), 403, "forbidden", ""},
		{"token with more", verifyURL("subscribe", testVerifyToken+"x", "1"), 403, "forbidden", ""},
		{"empty token", verifyURL("subscribe", "", "1"), 403, "forbidden", ""},
		{"wrong mode", verifyURL("unsubscribe", testVerifyToken, "1158201444"), 403, "forbidden", ""},
		{"mode in capitals", verifyURL("SUBSCRIBE", testVerifyToken, "1158201444"), 403, "forbidden", ""},
		{"no parameters", whatsAppPath, 403, "forbidden", ""},
		{"no challenge", verifyURL("subscribe", testVerifyToken, ""), 422, "invalid", "hub.challenge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			w := h.do("GET", tt.target, "", wrong())
			msg := wantError(t, w, tt.status, tt.code, tt.field)
			if strings.Contains(msg, testVerifyToken) {
				t.Errorf("the error shows the verify token: %q", msg)
			}
		})
	}
}

func TestWhatsAppWebhookReceive(t *testing.T) {
	t.Parallel()
	h := setup(t)
	rec := recordStatuses(h)
	w := h.do("POST", whatsAppPath, whatsAppBody, signed(whatsAppBody), header("X-Correlation-ID", correlationID))
	wantStatus(t, w, http.StatusOK)
	if got, want := w.Body.String(), `{"received":2}`+"\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	calls := rec.received()
	if len(calls) != 1 {
		t.Fatalf("the service was called %d times, want once", len(calls))
	}
	if diff := cmp.Diff(whatsAppStatusesWant(), calls[0]); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	for _, s := range calls[0] {
		if s.Timestamp.Location() != time.UTC {
			t.Errorf("timestamp %v is not in UTC", s.Timestamp)
		}
	}
	if ec := rec.ecs[0]; ec.CorrelationID != correlationID || ec.Actor == "" {
		t.Errorf("event context = %+v", ec)
	}
}

func TestWhatsAppWebhookAcceptsUpperCaseHex(t *testing.T) {
	t.Parallel()
	h := setup(t)
	rec := recordStatuses(h)
	sig := signature(testAppSecret, whatsAppBody)
	w := h.do("POST", whatsAppPath, whatsAppBody, header("X-Hub-Signature-256", "sha256="+strings.ToUpper(sig[len("sha256="):])))
	wantStatus(t, w, http.StatusOK)
	if len(rec.received()) != 1 {
		t.Error("the statuses were not passed on")
	}
}

func TestWhatsAppWebhookSignature(t *testing.T) {
	t.Parallel()
	good := signature(testAppSecret, whatsAppBody)
	tests := []struct {
		name string
		sig  string // "" sends no header
	}{
		{"missing", ""},
		{"other secret", signature("another-secret", whatsAppBody)},
		{"other body", signature(testAppSecret, whatsAppBody+" ")},
		{"no prefix", good[len("sha256="):]},
		{"sha1 prefix", "sha1=" + good[len("sha256="):]},
		{"prefix in capitals", "SHA256=" + good[len("sha256="):]},
		{"truncated", good[:len(good)-2]},
		{"not hex", "sha256=" + strings.Repeat("zz", 32)},
		{"empty digest", "sha256="},
		{"the secret itself", "sha256=" + testAppSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			rec := recordStatuses(h)
			opts := []option{wrong()}
			if tt.sig != "" {
				opts = append(opts, header("X-Hub-Signature-256", tt.sig))
			}
			w := h.do("POST", whatsAppPath, whatsAppBody, opts...)
			msg := wantError(t, w, http.StatusUnauthorized, "unauthorized", "")
			if strings.Contains(msg, testAppSecret) || strings.Contains(msg, good[len("sha256="):]) {
				t.Errorf("the error shows the secret or the expected signature: %q", msg)
			}
			if got := rec.received(); len(got) != 0 {
				t.Errorf("the service received %v", got)
			}
		})
	}

	t.Run("checked before the body is read", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		w := h.do("POST", whatsAppPath, `{not json`, wrong(), header("X-Hub-Signature-256", good))
		wantError(t, w, http.StatusUnauthorized, "unauthorized", "")
	})
}

func TestWhatsAppWebhookNotConfigured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*httpapi.Services)
	}{
		{"no app secret", func(s *httpapi.Services) { s.WhatsAppWebhook.AppSecret = "" }},
		{"no verify token", func(s *httpapi.Services) { s.WhatsAppWebhook.VerifyToken = "" }},
		{"nothing", func(s *httpapi.Services) { s.WhatsAppWebhook = httpapi.WebhookConfig{} }},
		{"no service", func(s *httpapi.Services) { s.Webhooks = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setupServices(t, tt.edit)
			rec := recordStatuses(h)
			w := h.do("GET", verifyURL("subscribe", testVerifyToken, "1158201444"), "")
			if msg := wantError(t, w, http.StatusNotFound, "not_found", ""); msg != "the WhatsApp webhook is not configured" {
				t.Errorf("GET message = %q", msg)
			}
			// An unsigned body too: nothing is looked at.
			for _, opts := range [][]option{{signed(whatsAppBody)}, {wrong()}} {
				w = h.do("POST", whatsAppPath, whatsAppBody, opts...)
				if msg := wantError(t, w, http.StatusNotFound, "not_found", ""); msg != "the WhatsApp webhook is not configured" {
					t.Errorf("POST message = %q", msg)
				}
			}
			if got := rec.received(); len(got) != 0 {
				t.Errorf("the service received %v", got)
			}
		})
	}
}

func TestWhatsAppWebhookBody(t *testing.T) {
	t.Parallel()
	status := func(s string) string {
		return `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[` + s + `]}}]}]}`
	}
	const at = "entry[0].changes[0].value.statuses[0]"
	tests := []struct {
		name, body  string
		status      int
		code, field string
	}{
		{name: "malformed", body: `{"object":"whatsapp_business_account","entry":[`, status: 400, code: "malformed"},
		{name: "empty", body: ``, status: 400, code: "malformed"},
		{name: "array", body: `[]`, status: 400, code: "malformed"},
		{name: "null", body: `null`, status: 400, code: "malformed"},
		{name: "trailing data", body: `{"object":"whatsapp_business_account"} {}`, status: 400, code: "malformed"},
		{name: "entry not an array", body: `{"object":"whatsapp_business_account","entry":{}}`, status: 400, code: "malformed", field: "entry"},
		{
			name: "value not an object", status: 400, code: "malformed", field: "entry[0].changes[0].value",
			body: `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":[1]}]}]}`,
		},
		{name: "timestamp a number", body: status(`{"id":"wamid.1","status":"read","timestamp":1700000000}`), status: 400, code: "malformed", field: at + ".timestamp"},
		{name: "error code a string", body: status(`{"id":"wamid.1","status":"failed","timestamp":"1","errors":[{"code":"131026"}]}`), status: 400, code: "malformed", field: at + ".errors.code"},
		{name: "other object", body: `{"object":"page","entry":[]}`, status: 422, code: "invalid", field: "object"},
		{name: "no object", body: `{"entry":[]}`, status: 422, code: "invalid", field: "object"},
		{name: "no id", body: status(`{"status":"read","timestamp":"1700000000"}`), status: 422, code: "invalid", field: at + ".id"},
		{name: "missing status", body: status(`{"id":"wamid.1","timestamp":"1700000000"}`), status: 422, code: "invalid", field: at + ".status"},
		{name: "empty status", body: status(`{"id":"wamid.1","status":"","timestamp":"1700000000"}`), status: 422, code: "invalid", field: at + ".status"},
		{name: "no timestamp", body: status(`{"id":"wamid.1","status":"read"}`), status: 422, code: "invalid", field: at + ".timestamp"},
		{name: "timestamp not digits", body: status(`{"id":"wamid.1","status":"read","timestamp":"soon"}`), status: 422, code: "invalid", field: at + ".timestamp"},
		{name: "negative timestamp", body: status(`{"id":"wamid.1","status":"read","timestamp":"-1"}`), status: 422, code: "invalid", field: at + ".timestamp"},
		{name: "signed timestamp", body: status(`{"id":"wamid.1","status":"read","timestamp":"+1700000000"}`), status: 422, code: "invalid", field: at + ".timestamp"},
		{name: "fractional timestamp", body: status(`{"id":"wamid.1","status":"read","timestamp":"1700000000.5"}`), status: 422, code: "invalid", field: at + ".timestamp"},
		{name: "timestamp past 9999", body: status(`{"id":"wamid.1","status":"read","timestamp":"253402300800"}`), status: 422, code: "invalid", field: at + ".timestamp"},
		{name: "huge timestamp", body: status(`{"id":"wamid.1","status":"read","timestamp":"99999999999999999999999"}`), status: 422, code: "invalid", field: at + ".timestamp"},
		{
			name: "second status bad", status: 422, code: "invalid", field: "entry[0].changes[0].value.statuses[1].status",
			body: status(`{"id":"wamid.1","status":"read","timestamp":"1"},{"id":"wamid.2","status":"","timestamp":"1"}`),
		},
		{name: "too large", body: status(`{"id":"` + strings.Repeat("a", 1<<20) + `","status":"read","timestamp":"1"}`), status: 413, code: "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			rec := recordStatuses(h)
			w := h.do("POST", whatsAppPath, tt.body, wrong(), signed(tt.body))
			wantError(t, w, tt.status, tt.code, tt.field)
			if got := rec.received(); len(got) != 0 {
				t.Errorf("the service received %v", got)
			}
		})
	}
}

func TestWhatsAppWebhookLenient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       []app.WhatsAppStatus // nil: the service is not called
	}{
		{name: "no entries", body: `{"object":"whatsapp_business_account","entry":[]}`},
		{name: "only an object", body: `{"object":"whatsapp_business_account"}`},
		{
			name: "inbound messages only",
			body: `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","messages":[{"from":"91","id":"wamid.IN","type":"text","text":{"body":"hi"}}]}}]}]}`,
		},
		{
			name: "other kinds of change are not read",
			body: `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"account_update","value":{"statuses":"not a list","event":7}},{"field":"messages","value":null}]}]}`,
		},
		{
			name: "new fields everywhere",
			body: `{"object":"whatsapp_business_account","new":1,"entry":[{"changes":[{"field":"messages","extra":[],"value":{"statuses":[{"id":"wamid.9","status":"sent","timestamp":"0","biz_opaque_callback_data":"x","errors":[]}]}}]}]}`,
			want: []app.WhatsAppStatus{{ProviderMessageID: "wamid.9", Status: "sent", Timestamp: time.Unix(0, 0).UTC()}},
		},
		{
			name: "every status of every entry, in order",
			body: `{"object":"whatsapp_business_account","entry":[` +
				`{"changes":[{"field":"messages","value":{"statuses":[{"id":"a","status":"sent","timestamp":"1"},{"id":"b","status":"read","timestamp":"2"}]}}]},` +
				`{"changes":[{"field":"messages","value":{"statuses":[{"id":"c","status":"failed","timestamp":"3","errors":[{"code":1,"title":"first"},{"code":2,"title":"second"}]}]}}]}]}`,
			want: []app.WhatsAppStatus{
				{ProviderMessageID: "a", Status: "sent", Timestamp: time.Unix(1, 0).UTC()},
				{ProviderMessageID: "b", Status: "read", Timestamp: time.Unix(2, 0).UTC()},
				{ProviderMessageID: "c", Status: "failed", Timestamp: time.Unix(3, 0).UTC(), ErrorCode: 1, ErrorTitle: "first"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			rec := recordStatuses(h)
			// Some bodies break the spec's description of the parts read
			// (a value of another shape): the server need not mind.
			w := h.do("POST", whatsAppPath, tt.body, wrong(), signed(tt.body))
			wantStatus(t, w, http.StatusOK)
			if got, want := w.Body.String(), fmt.Sprintf(`{"received":%d}`, len(tt.want))+"\n"; got != want {
				t.Errorf("body = %q, want %q", got, want)
			}
			calls := rec.received()
			switch {
			case tt.want == nil && len(calls) != 0:
				t.Errorf("the service was called with %v", calls)
			case tt.want != nil && len(calls) != 1:
				t.Fatalf("the service was called %d times, want once", len(calls))
			case tt.want != nil:
				if diff := cmp.Diff(tt.want, calls[0]); diff != "" {
					t.Errorf("statuses (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestWhatsAppWebhookServiceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"unavailable", fmt.Errorf("record: %w", apperr.New(apperr.Unavailable, "the database is unavailable; try again shortly")), 503, "unavailable"},
		{"conflict", apperr.New(apperr.Conflict, "the message changed; try again"), 409, "conflict"},
		{"bug", errors.New("nil map"), 500, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			h.f.webhooks.WhatsAppStatusesFn = func(context.Context, event.Context, []app.WhatsAppStatus) error { return tt.err }
			w := h.do("POST", whatsAppPath, whatsAppBody, signed(whatsAppBody))
			wantError(t, w, tt.status, tt.code, "")
		})
	}
}

// TestWhatsAppWebhookLogsNoSecrets sends every kind of webhook request, the
// failing ones too, and looks for the secrets and the body in the logs.
func TestWhatsAppWebhookLogsNoSecrets(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.f.webhooks.WhatsAppStatusesFn = func(context.Context, event.Context, []app.WhatsAppStatus) error {
		return errors.New("cannot record")
	}
	h.do("GET", verifyURL("subscribe", testVerifyToken, "1158201444"), "")
	h.do("GET", verifyURL("subscribe", "guess-"+testVerifyToken, "1158201444"), "", wrong())
	h.do("POST", whatsAppPath, whatsAppBody, signed(whatsAppBody))
	h.do("POST", whatsAppPath, whatsAppBody, wrong(), header("X-Hub-Signature-256", signature("other", whatsAppBody)))
	h.do("POST", whatsAppPath, `{"object":"x"}`, wrong(), signed(`{"object":"x"}`))

	logs := h.logs.String()
	if !strings.Contains(logs, "internal error") {
		t.Fatalf("the 500 was not logged:\n%s", logs)
	}
	for _, secret := range []string{testVerifyToken, testAppSecret, "1158201444", "wamid", "131026", "919876543210", "sha256="} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

func TestWebhookConfigRedacts(t *testing.T) {
	t.Parallel()
	svc, _ := happyServices()
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("config", "webhook", svc.WhatsAppWebhook)
	out := fmt.Sprintf("%v %+v %#v %s", svc, svc, svc, svc.WhatsAppWebhook) + buf.String()
	for _, secret := range []string{testVerifyToken, testAppSecret} {
		if strings.Contains(out, secret) {
			t.Errorf("%q is shown: %s", secret, out)
		}
	}
	if !strings.Contains(out, "[redacted]") {
		t.Errorf("no sign of the redacted secrets: %s", out)
	}
	if got := (httpapi.WebhookConfig{}).String(); strings.Contains(got, "redacted") {
		t.Errorf("empty config = %q, want it to say the secrets are unset", got)
	}
}
