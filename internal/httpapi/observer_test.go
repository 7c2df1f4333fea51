package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/customer"
	"insure/internal/event"
	"insure/internal/httpapi"
	"insure/internal/projection"
)

// requests is a hand-written httpapi.RequestObserver: it notes each
// request and marks the context it hands the server.
type requests struct {
	mu   sync.Mutex
	seen []string
}

var _ httpapi.RequestObserver = (*requests)(nil)

type requestKey struct{}

func (o *requests) StartRequest(ctx context.Context, r *http.Request) (context.Context, func(string, string, int)) {
	return context.WithValue(ctx, requestKey{}, r.Method), func(method, route string, status int) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.seen = append(o.seen, fmt.Sprintf("%s %s %d", method, route, status))
	}
}

func TestRequestObserver(t *testing.T) {
	t.Parallel()
	obs := &requests{}
	var sawMark bool
	h := setupServices(t, func(s *httpapi.Services) { s.Observer = obs })
	h.f.customers.RegisterFn = func(ctx context.Context, _ event.Context, _ customer.Register) (projection.Customer, error) {
		sawMark = ctx.Value(requestKey{}) == "POST"
		return projection.Customer{}, errors.New("boom")
	}
	h.do("GET", "/healthz", "")
	h.do("POST", "/api/v1/customers", `{"name":"Asha Verma","email":"asha@example.com","phone":"+919876543210"}`)
	h.do("GET", "/api/v1/no-such-thing", "", wrong())
	h.do("GET", "/api/v1/customers/0190f2a8-6b2c-7d3e-9f00-0987654321ab", "")
	// Behind a mux (as GET /metrics is served beside the API), whose
	// pattern is not the API's route.
	outer := http.NewServeMux()
	outer.Handle("/", h.h)
	h.h = outer
	h.do("GET", "/api/v1/no-such-thing", "", wrong())
	h.do("GET", "/healthz", "")
	want := []string{
		"GET /healthz 200",
		"POST /api/v1/customers 500",
		"GET unmatched 404",
		"GET /api/v1/customers/{id} 404", // the route, never the raw path
		"GET unmatched 404",
		"GET /healthz 200",
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if diff := cmp.Diff(want, obs.seen); diff != "" {
		t.Errorf("observed requests (-want +got):\n%s", diff)
	}
	if !sawMark {
		t.Error("the service did not run with the observer's context")
	}
}
