package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"insure/internal/apperr"
	"insure/internal/customer"
	"insure/internal/event"
	"insure/internal/httpapi"
	"insure/internal/projection"
)

// TestRequestTimeout: with Services.RequestTimeout every request's context
// has that deadline, so work stuck on a database that stopped answering
// is cancelled and the request answered with 503; without it there is no
// deadline.
func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	h := setupServices(t, func(s *httpapi.Services) { s.RequestTimeout = 50 * time.Millisecond })
	h.f.customers.RegisterFn = func(ctx context.Context, _ event.Context, _ customer.Register) (projection.Customer, error) {
		select {
		case <-ctx.Done():
			return projection.Customer{}, fmt.Errorf("append events: %w", ctx.Err())
		case <-time.After(30 * time.Second):
			return projection.Customer{}, fmt.Errorf("the request's context had no deadline")
		}
	}
	wantError(t, h.do("POST", "/api/v1/customers", `{"name":"Asha Rao","email":"asha@example.com","phone":"9876543210"}`),
		http.StatusServiceUnavailable, "unavailable", "")

	for name, timeout := range map[string]time.Duration{"with": time.Minute, "without": 0} {
		h := setupServices(t, func(s *httpapi.Services) { s.RequestTimeout = timeout })
		var left time.Duration
		var has bool
		h.f.customers.GetFn = func(ctx context.Context, _ string) (projection.Customer, error) {
			if dl, ok := ctx.Deadline(); ok {
				left, has = time.Until(dl), true
			}
			return projection.Customer{}, apperr.New(apperr.NotFound, "no such customer")
		}
		wantError(t, h.do("GET", "/api/v1/customers/"+customerID, ""), http.StatusNotFound, "not_found", "")
		if has != (timeout > 0) || left > timeout {
			t.Errorf("%s RequestTimeout %s: the handler's context has a deadline: %v, %s left", name, timeout, has, left)
		}
	}
}
