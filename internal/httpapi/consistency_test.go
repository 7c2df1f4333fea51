package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"insure/internal/apperr"
	"insure/internal/customer"
	"insure/internal/event"
	"insure/internal/httpapi"
	"insure/internal/projection"
	"insure/internal/recorder"
)

const registerBody = `{"name":"Asha Rao","email":"asha@example.com","phone":"+91 98765 43210","channel":"web"}`

// registering returns services whose Register commits events at the given
// positions (as the recorder would, through the context's sink), or
// commits nothing when there are none, then answers with err.
func registering(err error, positions ...int64) func(*httpapi.Services) {
	return func(svc *httpapi.Services) {
		fc := svc.Customers.(*fakeCustomers)
		fc.RegisterFn = func(ctx context.Context, ec event.Context, cmd customer.Register) (projection.Customer, error) {
			for _, p := range positions {
				recorder.ObservePosition(ctx, p)
			}
			if err != nil {
				return projection.Customer{}, err
			}
			c := testCustomer()
			c.Version = 1
			return c, nil
		}
	}
}

func TestWriteCarriesEventPosition(t *testing.T) {
	t.Parallel()
	t.Run("committed", func(t *testing.T) {
		t.Parallel()
		h := setupServices(t, registering(nil, 41, 42))
		w := h.do("POST", "/api/v1/customers", registerBody)
		wantStatus(t, w, http.StatusCreated)
		if got := w.Header().Get("X-Event-Position"); got != "42" {
			t.Errorf("X-Event-Position = %q, want 42 (the last event committed)", got)
		}
	})
	t.Run("nothing committed", func(t *testing.T) {
		t.Parallel()
		h := setupServices(t, registering(nil))
		w := h.do("POST", "/api/v1/customers", registerBody)
		wantStatus(t, w, http.StatusCreated)
		if got, ok := w.Header()["X-Event-Position"]; ok {
			t.Errorf("X-Event-Position = %q on a write that committed nothing", got)
		}
	})
	t.Run("error", func(t *testing.T) {
		t.Parallel()
		h := setupServices(t, registering(apperr.New(apperr.Conflict, "taken"), 7))
		w := h.do("POST", "/api/v1/customers", registerBody)
		wantError(t, w, http.StatusConflict, "conflict", "")
		if got, ok := w.Header()["X-Event-Position"]; ok {
			t.Errorf("X-Event-Position = %q on an error", got)
		}
	})
	t.Run("reads carry none", func(t *testing.T) {
		t.Parallel()
		h := setupServices(t, func(svc *httpapi.Services) {
			fc := svc.Customers.(*fakeCustomers)
			get := fc.GetFn
			fc.GetFn = func(ctx context.Context, id string) (projection.Customer, error) {
				recorder.ObservePosition(ctx, 9)
				return get(ctx, id)
			}
		})
		w := h.do("GET", "/api/v1/customers/"+customerID, "")
		wantStatus(t, w, http.StatusOK)
		if got, ok := w.Header()["X-Event-Position"]; ok {
			t.Errorf("X-Event-Position = %q on a read", got)
		}
	})
}

// waits records the calls of a fake Consistency whose projections are at
// position at.
type waits struct {
	mu    sync.Mutex
	calls [][]string
}

func (c *waits) consistency(at int64) *fakeConsistency {
	return &fakeConsistency{WaitForFn: func(ctx context.Context, projections []string, position int64) error {
		c.mu.Lock()
		c.calls = append(c.calls, projections)
		c.mu.Unlock()
		if position <= at {
			return nil
		}
		<-ctx.Done()
		return apperr.Wrap(apperr.Unavailable, ctx.Err(), "the %s read model is at position %d and has not reached min_position %d yet", projections[0], at, position)
	}}
}

func (c *waits) all() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

func TestMinPosition(t *testing.T) {
	t.Parallel()
	setupAt := func(t *testing.T, at int64) (*harness, *waits) {
		t.Helper()
		c := &waits{}
		h := setupServices(t, func(svc *httpapi.Services) {
			svc.Consistency = c.consistency(at)
			svc.MinPositionWait = 50 * time.Millisecond
		})
		return h, c
	}

	t.Run("reached", func(t *testing.T) {
		t.Parallel()
		h, c := setupAt(t, 10)
		w := h.do("GET", "/api/v1/customers/"+customerID+"?min_position=10", "")
		wantStatus(t, w, http.StatusOK)
		if got := c.all(); len(got) != 1 || !slices.Equal(got[0], []string{projection.NameCustomers}) {
			t.Errorf("waited for %v, want [[customers]]", got)
		}
	})
	t.Run("not reached", func(t *testing.T) {
		t.Parallel()
		h, _ := setupAt(t, 10)
		start := time.Now()
		w := h.do("GET", "/api/v1/customers/"+customerID+"?min_position=11", "")
		msg := wantError(t, w, http.StatusServiceUnavailable, "unavailable", "")
		if got := w.Header().Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After = %q, want 1", got)
		}
		if !strings.Contains(msg, "customers") || !strings.Contains(msg, "10") {
			t.Errorf("message %q names neither the read model nor its position", msg)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("answered after %s: MinPositionWait (50ms) does not bound the wait", d)
		}
	})
	t.Run("zero and absent do not wait", func(t *testing.T) {
		t.Parallel()
		h, c := setupAt(t, 0)
		wantStatus(t, h.do("GET", "/api/v1/customers/"+customerID+"?min_position=0", ""), http.StatusOK)
		wantStatus(t, h.do("GET", "/api/v1/customers/"+customerID, ""), http.StatusOK)
		if got := c.all(); len(got) != 0 {
			t.Errorf("waited for %v", got)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		t.Parallel()
		h, c := setupAt(t, 100)
		for _, q := range []string{"min_position=abc", "min_position=-1", "min_position=1.5", "min_position=99999999999999999999", "min_position=1&min_position=2"} {
			w := h.do("GET", "/api/v1/customers?"+q, "", wrong())
			wantError(t, w, http.StatusUnprocessableEntity, "invalid", "min_position")
		}
		if got := c.all(); len(got) != 0 {
			t.Errorf("waited for %v", got)
		}
	})
	t.Run("without a consistency service", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		w := h.do("GET", "/api/v1/policies?min_position=3", "")
		wantError(t, w, http.StatusServiceUnavailable, "unavailable", "")
	})
	t.Run("routes", func(t *testing.T) {
		t.Parallel()
		want := map[string]string{
			"GET /api/v1/customers":       projection.NameCustomers,
			"GET /api/v1/customers/{id}":  projection.NameCustomers,
			"GET /api/v1/quotations/{id}": projection.NameQuotations,
			"GET /api/v1/policies":        projection.NamePolicies,
			"GET /api/v1/policies/{id}":   projection.NamePolicies,
			"GET /api/v1/messages":        projection.NameMessages,
			"GET /api/v1/documents/{id}":  projection.NameDocuments,
			"GET /api/v1/audit/access":    projection.NameAccessLog,
		}
		for _, s := range samples() {
			if s.method() != "GET" || s.route == "GET /api/v1/events/stream" {
				continue
			}
			t.Run(s.route, func(t *testing.T) {
				h, c := setupAt(t, 5)
				sep := "?"
				if strings.Contains(s.target, "?") {
					sep = "&"
				}
				w := h.do("GET", s.target+sep+"min_position=5", s.body, s.opts...)
				wantStatus(t, w, s.status)
				var got []string
				for _, names := range c.all() {
					got = append(got, names...)
				}
				name, reads := want[s.route]
				switch {
				case reads && !slices.Equal(got, []string{name}):
					t.Errorf("waited for %v, want [%s]", got, name)
				case !reads && len(got) > 0:
					t.Errorf("waited for %v; this route reads no projection", got)
				}
			})
		}
	})
}
