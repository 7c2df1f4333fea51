package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"insure/internal/apperr"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/httpapi"
	"insure/internal/idempotency"
	"insure/internal/keyring"
	"insure/internal/projection"
)

// idemHarness is a harness whose server keeps idempotency keys in db, and
// counts the registrations that reach the customer service.
type idemHarness struct {
	*harness
	db         database.DB
	registered *atomic.Int32
}

func setupIdempotent(t *testing.T, db database.DB) *idemHarness {
	t.Helper()
	master, err := keyring.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	store, err := idempotency.New(db, idempotency.Config{Sealer: keyring.New(db, master, nil)})
	if err != nil {
		t.Fatal(err)
	}
	h := setupServices(t, func(s *httpapi.Services) { s.Idempotency = store })
	n := &atomic.Int32{}
	register := h.f.customers.RegisterFn
	h.f.customers.RegisterFn = func(ctx context.Context, ec event.Context, cmd customer.Register) (projection.Customer, error) {
		n.Add(1)
		return register(ctx, ec, cmd)
	}
	return &idemHarness{harness: h, db: db, registered: n}
}

func idemKey(k string) option { return header("Idempotency-Key", k) }

func (h *idemHarness) wantRegistered(t *testing.T, n int32) {
	t.Helper()
	if got := h.registered.Load(); got != n {
		t.Fatalf("the customer service registered %d times, want %d", got, n)
	}
}

func TestIdempotencyKeyReplaysTheFirstResponse(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		h := setupIdempotent(t, db)

		first := h.do("POST", "/api/v1/customers", registerBody, idemKey("reg-1"))
		wantStatus(t, first, http.StatusCreated)
		if first.Header().Get("Idempotent-Replayed") != "" {
			t.Error("the first response says it is replayed")
		}
		// Whitespace is part of the body: send the same bytes.
		second := h.do("POST", "/api/v1/customers", registerBody, idemKey("reg-1"))
		wantStatus(t, second, http.StatusCreated)
		h.wantRegistered(t, 1)
		if second.Header().Get("Idempotent-Replayed") != "true" {
			t.Errorf("Idempotent-Replayed = %q, want true", second.Header().Get("Idempotent-Replayed"))
		}
		if second.Body.String() != first.Body.String() {
			t.Errorf("replayed body %s, want the first %s", second.Body, first.Body)
		}
		for _, name := range []string{"Location", "ETag", "Content-Type", "Content-Length", "Cache-Control"} {
			if got, want := second.Header().Get(name), first.Header().Get(name); got != want {
				t.Errorf("replayed %s = %q, want %q", name, got, want)
			}
		}
		// The customer's personal data is stored sealed, never in clear.
		var raw []byte
		if err := db.QueryRow(context.Background(), `SELECT response_body FROM idempotency_keys`).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "asha") || !keyring.IsSealed(string(raw)) {
			t.Errorf("stored response %q is not sealed", raw)
		}

		// The same key with another body, or on another route.
		w := h.do("POST", "/api/v1/customers", strings.Replace(registerBody, "Asha", "Ravi", 1), idemKey("reg-1"))
		wantError(t, w, http.StatusUnprocessableEntity, "idempotency_key_reused", "Idempotency-Key")
		w = h.do("POST", "/api/v1/policies/expiry-scan", "", idemKey("reg-1"))
		wantError(t, w, http.StatusUnprocessableEntity, "idempotency_key_reused", "Idempotency-Key")
		h.wantRegistered(t, 1)

		// Another token's key of the same name is its own.
		w = h.do("POST", "/api/v1/customers", registerBody, idemKey("reg-1"), as(agentToken))
		wantStatus(t, w, http.StatusCreated)
		if w.Header().Get("Idempotent-Replayed") != "" {
			t.Error("another token's request was answered as a replay")
		}
		h.wantRegistered(t, 2)

		// Without the header, every request runs.
		wantStatus(t, h.do("POST", "/api/v1/customers", registerBody), http.StatusCreated)
		wantStatus(t, h.do("POST", "/api/v1/customers", registerBody), http.StatusCreated)
		h.wantRegistered(t, 4)
	})
}

func TestIdempotencyKeyKeepsOnlyRepeatableResponses(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		h := setupIdempotent(t, db)
		register := h.f.customers.RegisterFn
		var fail atomic.Pointer[apperr.Error]
		h.f.customers.RegisterFn = func(ctx context.Context, ec event.Context, cmd customer.Register) (projection.Customer, error) {
			c, err := register(ctx, ec, cmd)
			if e := fail.Load(); e != nil {
				return projection.Customer{}, e
			}
			return c, err
		}

		// A 503 is not kept: the retry runs and succeeds.
		fail.Store(apperr.New(apperr.Unavailable, "the database is unavailable; try again shortly"))
		wantError(t, h.do("POST", "/api/v1/customers", registerBody, idemKey("k-503")), http.StatusServiceUnavailable, "unavailable", "")
		fail.Store(nil)
		wantStatus(t, h.do("POST", "/api/v1/customers", registerBody, idemKey("k-503")), http.StatusCreated)
		h.wantRegistered(t, 2)

		// A 409 (a duplicate, a stale version) is not kept either.
		fail.Store(apperr.New(apperr.Conflict, "the email address is already registered"))
		wantError(t, h.do("POST", "/api/v1/customers", registerBody, idemKey("k-409")), http.StatusConflict, "conflict", "")
		wantError(t, h.do("POST", "/api/v1/customers", registerBody, idemKey("k-409")), http.StatusConflict, "conflict", "")
		h.wantRegistered(t, 4)

		// A 422 is what the same request gets again: kept and replayed.
		fail.Store(apperr.Field("email", "email is not an address"))
		wantError(t, h.do("POST", "/api/v1/customers", registerBody, idemKey("k-422")), http.StatusUnprocessableEntity, "invalid", "email")
		fail.Store(nil)
		w := h.do("POST", "/api/v1/customers", registerBody, idemKey("k-422"))
		wantError(t, w, http.StatusUnprocessableEntity, "invalid", "email")
		if w.Header().Get("Idempotent-Replayed") != "true" {
			t.Error("the kept 422 is not marked replayed")
		}
		h.wantRegistered(t, 5)
	})
}

func TestIdempotencyKeyConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		h := setupIdempotent(t, db)
		register := h.f.customers.RegisterFn
		entered, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		h.f.customers.RegisterFn = func(ctx context.Context, ec event.Context, cmd customer.Register) (projection.Customer, error) {
			once.Do(func() { close(entered) })
			<-release
			return register(ctx, ec, cmd)
		}
		done := make(chan int)
		go func() {
			done <- h.do("POST", "/api/v1/customers", registerBody, idemKey("dup")).Code
		}()
		<-entered
		// The first is running: duplicates are told to wait.
		for range 3 {
			w := h.do("POST", "/api/v1/customers", registerBody, idemKey("dup"))
			wantError(t, w, http.StatusConflict, "idempotency_key_in_progress", "")
			if w.Header().Get("Retry-After") != "1" {
				t.Errorf("Retry-After = %q, want 1", w.Header().Get("Retry-After"))
			}
		}
		close(release)
		if code := <-done; code != http.StatusCreated {
			t.Fatalf("first request: status %d, want 201", code)
		}
		w := h.do("POST", "/api/v1/customers", registerBody, idemKey("dup"))
		wantStatus(t, w, http.StatusCreated)
		if w.Header().Get("Idempotent-Replayed") != "true" {
			t.Error("the repeat after the first finished was not a replay")
		}
		h.wantRegistered(t, 1)
	})
}

func TestIdempotencyKeyInvalid(t *testing.T) {
	t.Parallel()
	h := setupIdempotent(t, dbtest.Open(t, database.SQLite))
	for name, opt := range map[string]option{
		"too long":  idemKey(strings.Repeat("k", 256)),
		"non-ASCII": idemKey("clé"),
		"control":   idemKey("a\x01b"),
		"two": func(r *http.Request) {
			r.Header.Add("Idempotency-Key", "a")
			r.Header.Add("Idempotency-Key", "b")
		},
	} {
		w := h.do("POST", "/api/v1/customers", registerBody, opt, wrong())
		if msg := wantError(t, w, http.StatusBadRequest, "malformed", "Idempotency-Key"); !strings.Contains(msg, "Idempotency-Key") {
			t.Errorf("%s: message %q does not name the header", name, msg)
		}
	}
	h.wantRegistered(t, 0)
}

func TestIdempotencyKeyWithoutStore(t *testing.T) {
	t.Parallel()
	h := setup(t)
	w := h.do("POST", "/api/v1/customers", registerBody, idemKey("k"))
	wantError(t, w, http.StatusServiceUnavailable, "unavailable", "")
	// Without the header the request is served as ever.
	wantStatus(t, h.do("POST", "/api/v1/customers", registerBody), http.StatusCreated)
}

// TestIdempotencyKeyNotOnTheWebhook: the WhatsApp webhook (public, called by
// Meta) ignores the header: every delivery runs, none is a replay.
func TestIdempotencyKeyNotOnTheWebhook(t *testing.T) {
	t.Parallel()
	h := setupIdempotent(t, dbtest.Open(t, database.SQLite))
	rec := recordStatuses(h.harness)
	for range 2 {
		w := h.do("POST", whatsAppPath, whatsAppBody, anonymous(), signed(whatsAppBody), idemKey("meta-1"))
		wantStatus(t, w, http.StatusOK)
		if w.Header().Get("Idempotent-Replayed") != "" {
			t.Fatal("a webhook delivery was answered as a replay")
		}
	}
	if n := len(rec.received()); n != 2 {
		t.Fatalf("the webhook service got %d deliveries, want 2", n)
	}
	var keys int
	if err := h.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM idempotency_keys`).Scan(&keys); err != nil || keys != 0 {
		t.Fatalf("idempotency keys stored: %d, %v; want none", keys, err)
	}
}
