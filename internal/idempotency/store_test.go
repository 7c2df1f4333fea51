package idempotency_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/idempotency"
	"insure/internal/keyring"
	"insure/internal/recorder"
)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	db    database.DB
	store *idempotency.Store
	keys  *keyring.Keyring
	clock *clock
}

const (
	ttl   = time.Hour
	lease = time.Minute
)

func setup(t *testing.T, db database.DB) *fixture {
	t.Helper()
	c := &clock{now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	m, err := keyring.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	keys := keyring.New(db, m, c.Now)
	s, err := idempotency.New(db, idempotency.Config{TTL: ttl, Lease: lease, Sealer: keys, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, store: s, keys: keys, clock: c}
}

func request(principal, key, body string) idempotency.Request {
	return idempotency.Request{Principal: principal, Key: key, Method: "POST", Route: "/api/v1/customers",
		Hash: idempotency.Hash("POST", "/api/v1/customers", "", []byte(body))}
}

// begin claims req, failing the test when Begin does not give a claim.
func (f *fixture) begin(t *testing.T, req idempotency.Request) *idempotency.Claim {
	t.Helper()
	claim, stored, err := f.store.Begin(context.Background(), req)
	if err != nil || claim == nil || stored != nil {
		t.Fatalf("Begin(%s) = %v, %v, %v; want a claim", req.Key, claim, stored, err)
	}
	return claim
}

// commit marks claim committed in a transaction of its own, as the
// recorder does in a command's transaction, with a customer as resource.
func (f *fixture) commit(t *testing.T, claim *idempotency.Claim, customerID string) error {
	t.Helper()
	return f.db.InTx(context.Background(), func(ctx context.Context, tx database.Tx) error {
		return claim.Committing(ctx, tx, []recorder.Recorded{{Envelope: event.Envelope{AggregateType: "customer", AggregateID: customerID}}})
	})
}

func created(body string) idempotency.Response {
	return idempotency.Response{Status: http.StatusCreated, Body: []byte(body), Header: http.Header{
		"Content-Type": {"application/json"}, "Location": {"/api/v1/customers/c1"}, "X-Event-Position": {"7"},
		"X-Request-Id": {"not kept"}, "Cache-Control": {"no-store"},
	}}
}

func TestBeginThenReplay(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		f := setup(t, db)
		ctx := context.Background()
		req := request("tok1", "k1", `{"name":"x"}`)
		claim := f.begin(t, req)
		if err := f.commit(t, claim, "c1"); err != nil {
			t.Fatalf("commit: %v", err)
		}
		if err := claim.Finish(ctx, created(`{"id":"c1"}`), true); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		for range 2 {
			claim, stored, err := f.store.Begin(ctx, req)
			if err != nil || claim != nil || stored == nil {
				t.Fatalf("repeat Begin = %v, %v, %v; want the stored response", claim, stored, err)
			}
			want := &idempotency.Response{Status: http.StatusCreated, Body: []byte(`{"id":"c1"}`), Header: http.Header{
				"Content-Type": {"application/json"}, "Location": {"/api/v1/customers/c1"}, "X-Event-Position": {"7"},
			}}
			if diff := cmp.Diff(want, stored); diff != "" {
				t.Errorf("stored response (-want +got):\n%s", diff)
			}
		}
	})
}

func TestMismatchAndPrincipals(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		f := setup(t, db)
		ctx := context.Background()
		claim := f.begin(t, request("tok1", "k1", `{"a":1}`))
		if err := claim.Finish(ctx, created(`{}`), true); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.store.Begin(ctx, request("tok1", "k1", `{"a":2}`)); !errors.Is(err, idempotency.ErrMismatch) {
			t.Errorf("same key, other body: err = %v, want ErrMismatch", err)
		}
		other := request("tok1", "k1", `{"a":1}`)
		other.Hash = idempotency.Hash("POST", "/api/v1/quotations", "", []byte(`{"a":1}`))
		if _, _, err := f.store.Begin(ctx, other); !errors.Is(err, idempotency.ErrMismatch) {
			t.Errorf("same key and body, other path: err = %v, want ErrMismatch", err)
		}
		// Another principal's key of the same name is its own.
		f.begin(t, request("tok2", "k1", `{"a":2}`))
	})
}

func TestInProgressAndTakeOver(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		f := setup(t, db)
		ctx := context.Background()
		req := request("tok1", "k1", `{}`)
		first := f.begin(t, req)
		if _, _, err := f.store.Begin(ctx, req); !errors.Is(err, idempotency.ErrInProgress) {
			t.Fatalf("repeat within the lease: err = %v, want ErrInProgress", err)
		}
		// The first attempt's process died: after its lease a repeat runs.
		f.clock.Advance(lease + time.Second)
		second := f.begin(t, req)
		// The first attempt, still alive after all, may not commit now.
		if err := f.commit(t, first, "c1"); !errors.Is(err, idempotency.ErrTakenOver) || !apperr.IsCode(err, apperr.Conflict) {
			t.Fatalf("commit of the attempt taken over: err = %v, want ErrTakenOver as a conflict", err)
		}
		if err := first.Finish(ctx, created(`{"first":true}`), true); err != nil {
			t.Fatal(err)
		}
		if err := f.commit(t, second, "c2"); err != nil {
			t.Fatalf("commit of the new owner: %v", err)
		}
		if err := second.Finish(ctx, created(`{"second":true}`), true); err != nil {
			t.Fatal(err)
		}
		_, stored, err := f.store.Begin(ctx, req)
		if err != nil || stored == nil || string(stored.Body) != `{"second":true}` {
			t.Fatalf("replay = %v, %v; want the second attempt's response", stored, err)
		}
	})
}

// TestCommittedWithoutResponse simulates a process that died between its
// command's commit and storing the response: repeats are never run again.
func TestCommittedWithoutResponse(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		f := setup(t, db)
		ctx := context.Background()
		req := request("tok1", "k1", `{}`)
		claim := f.begin(t, req)
		if err := f.commit(t, claim, "c1"); err != nil {
			t.Fatal(err)
		}
		// No Finish: the process died. Long past the lease, still no rerun.
		for _, wait := range []time.Duration{0, 10 * lease} {
			f.clock.Advance(wait)
			c, stored, err := f.store.Begin(ctx, req)
			var u *idempotency.UnansweredError
			if !errors.As(err, &u) || !errors.Is(err, idempotency.ErrUnanswered) || c != nil || stored != nil {
				t.Fatalf("after %s: Begin = %v, %v, %v; want ErrUnanswered", wait, c, stored, err)
			}
			if u.ResourceType != "customer" || u.ResourceID != "c1" {
				t.Errorf("unanswered resource = %s %s, want customer c1", u.ResourceType, u.ResourceID)
			}
		}
	})
}

func TestReleaseAndKeep(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		f := setup(t, db)
		ctx := context.Background()
		// A 503 that committed nothing releases the key: the retry runs.
		req := request("tok1", "k1", `{}`)
		claim := f.begin(t, req)
		if err := claim.Finish(ctx, idempotency.Response{Status: http.StatusServiceUnavailable}, false); err != nil {
			t.Fatal(err)
		}
		f.begin(t, req)

		// A 500 after a commit is kept: the command must not run again.
		req2 := request("tok1", "k2", `{}`)
		claim = f.begin(t, req2)
		if err := f.commit(t, claim, "c9"); err != nil {
			t.Fatal(err)
		}
		if err := claim.Finish(ctx, idempotency.Response{Status: http.StatusInternalServerError, Body: []byte(`{"error":{}}`)}, false); err != nil {
			t.Fatal(err)
		}
		_, stored, err := f.store.Begin(ctx, req2)
		if err != nil || stored == nil || stored.Status != http.StatusInternalServerError {
			t.Fatalf("repeat after a committed 500 = %v, %v; want the stored 500", stored, err)
		}
	})
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		f := setup(t, db)
		ctx := context.Background()
		for _, k := range []string{"a", "b", "c"} {
			claim := f.begin(t, request("tok1", k, `{}`))
			if err := claim.Finish(ctx, created(`{}`), true); err != nil {
				t.Fatal(err)
			}
		}
		f.clock.Advance(ttl / 2)
		claim := f.begin(t, request("tok1", "d", `{}`))
		if err := claim.Finish(ctx, created(`{}`), true); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(ttl/2 + time.Second)
		// "a" expired: the same key, even with another body, runs again.
		f.begin(t, request("tok1", "a", `{"other":true}`))
		n, err := f.store.DeleteExpired(ctx)
		if err != nil || n != 2 {
			t.Fatalf("DeleteExpired = %d, %v; want 2 (b and c)", n, err)
		}
		var left int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM idempotency_keys`).Scan(&left); err != nil || left != 2 {
			t.Fatalf("rows left = %d, %v; want 2 (a again, and d)", left, err)
		}
	})
}

func TestSealedResponse(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		f := setup(t, db)
		ctx := context.Background()
		const subject = "0193f6a2-7c1e-7000-8000-000000000001"
		req := request("tok1", "k1", `{}`)
		claim := f.begin(t, req)
		resp := created(`{"email":"asha@example.com"}`)
		resp.Subject = subject
		if err := claim.Finish(ctx, resp, true); err != nil {
			t.Fatal(err)
		}
		var raw []byte
		if err := db.QueryRow(ctx, `SELECT response_body FROM idempotency_keys`).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "asha") || !keyring.IsSealed(string(raw)) {
			t.Fatalf("stored body %q is not sealed", raw)
		}
		_, stored, err := f.store.Begin(ctx, req)
		if err != nil || stored == nil || string(stored.Body) != `{"email":"asha@example.com"}` {
			t.Fatalf("replay = %v, %v; want the opened body", stored, err)
		}
		if err := f.keys.Destroy(ctx, db, subject); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.store.Begin(ctx, req); !errors.Is(err, idempotency.ErrErased) {
			t.Fatalf("replay after erasure: err = %v, want ErrErased", err)
		}
	})
}

func TestConcurrentBegin(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		f := setup(t, db)
		const n = 8
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			claims  int
			waiting int
			others  []error
		)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				claim, _, err := f.store.Begin(context.Background(), request("tok1", "k1", `{}`))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && claim != nil:
					claims++
				case errors.Is(err, idempotency.ErrInProgress):
					waiting++
				default:
					others = append(others, err)
				}
			}()
		}
		wg.Wait()
		if claims != 1 || waiting != n-1 || len(others) > 0 {
			t.Fatalf("claims %d, in progress %d, other errors %v; want 1 claim and %d in progress", claims, waiting, others, n-1)
		}
	})
}

func TestValidKeyAndHash(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]bool{
		"":                          false,
		"a":                         true,
		"0193f6a2-7c1e-7000-8000-1": true,
		"with space ~":              true,
		strings.Repeat("k", 255):    true,
		strings.Repeat("k", 256):    false,
		"tab\t":                     false,
		"é":                         false,
		"nul\x00":                   false,
		"del\x7f":                   false,
	} {
		if got := idempotency.ValidKey(key); got != want {
			t.Errorf("ValidKey(%q) = %v, want %v", key, got, want)
		}
	}
	base := idempotency.Hash("POST", "/a", "", []byte("b"))
	for _, other := range []string{
		idempotency.Hash("PUT", "/a", "", []byte("b")),
		idempotency.Hash("POST", "/a/", "", []byte("b")),
		idempotency.Hash("POST", "/a", "x=1", []byte("b")),
		idempotency.Hash("POST", "/a", "", []byte("b ")),
		idempotency.Hash("POST", "/ab", "", nil),
	} {
		if other == base {
			t.Errorf("two different requests hash alike: %s", base)
		}
	}
	if base != idempotency.Hash("POST", "/a", "", []byte("b")) {
		t.Error("Hash is not deterministic")
	}
}

// TestExpiryWithinLease: a key that expires while its attempt still runs
// (a TTL shorter than the lease) is neither deleted nor claimed again until
// the lease is over.
func TestExpiryWithinLease(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		f := setup(t, db)
		ctx := context.Background()
		s, err := idempotency.New(db, idempotency.Config{TTL: 30 * time.Second, Lease: lease, Now: f.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		req := request("tok1", "k1", `{}`)
		if c, _, err := s.Begin(ctx, req); c == nil || err != nil {
			t.Fatalf("Begin = %v, %v", c, err)
		}
		f.clock.Advance(45 * time.Second)
		if n, err := s.DeleteExpired(ctx); n != 0 || err != nil {
			t.Fatalf("DeleteExpired within the lease = %d, %v; want 0", n, err)
		}
		if _, _, err := s.Begin(ctx, req); !errors.Is(err, idempotency.ErrInProgress) {
			t.Fatalf("Begin within the lease: err = %v, want ErrInProgress", err)
		}
		f.clock.Advance(lease)
		if n, err := s.DeleteExpired(ctx); n != 1 || err != nil {
			t.Fatalf("DeleteExpired after the lease = %d, %v; want 1", n, err)
		}
	})
}
