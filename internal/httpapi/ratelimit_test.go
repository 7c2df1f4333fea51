package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"insure/internal/auth"
	"insure/internal/httpapi"
	"insure/internal/projection"
)

// setupLimits is setup with the given rate limits instead of the
// harness's generous ones.
func setupLimits(t testing.TB, l httpapi.RateLimits) *harness {
	t.Helper()
	return setupServices(t, func(s *httpapi.Services) { s.Limits = l })
}

// wantRateLimited checks a 429: the JSON error, Retry-After in seconds, no
// bearer challenge, and the security headers. It returns the message.
func wantRateLimited(t testing.TB, w *httptest.ResponseRecorder, retryAfter int) string {
	t.Helper()
	msg := wantError(t, w, http.StatusTooManyRequests, "rate_limited", "")
	if got := w.Header().Get("Retry-After"); got != strconv.Itoa(retryAfter) {
		t.Errorf("Retry-After = %q, want %d", got, retryAfter)
	}
	if got := w.Header().Get("WWW-Authenticate"); got != "" {
		t.Errorf("WWW-Authenticate = %q on a 429", got)
	}
	wantSecurityHeaders(t, w.Header(), false)
	return msg
}

// TestTokenRateLimit: a token over its budget is answered with 429 before
// its handler runs, from any address; other tokens are not affected.
func TestTokenRateLimit(t *testing.T) {
	t.Parallel()
	h := setupLimits(t, httpapi.RateLimits{PerToken: 3, Window: time.Hour})
	var calls atomic.Int32
	h.f.customers.GetFn = func(context.Context, string) (projection.Customer, error) {
		calls.Add(1)
		return testCustomer(), nil
	}
	target := "/api/v1/customers/" + customerID
	for range 3 {
		wantStatus(t, h.do("GET", target, "", as(agentToken)), http.StatusOK)
	}
	msg := wantRateLimited(t, h.do("GET", target, "", as(agentToken)), 3600)
	for _, want := range []string{"token", "3 requests", "60 minutes", "Retry-After"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not mention %q", msg, want)
		}
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("the service was called %d times, want 3: a limited request reached it", n)
	}

	// The budget is the token's, not the address's.
	wantRateLimited(t, h.do("GET", target, "", as(agentToken), from("198.51.100.7:1234")), 3600)
	wantStatus(t, h.do("GET", target, "", as(auditorToken)), http.StatusOK)
	wantStatus(t, h.do("GET", target, "", as(adminToken), from("198.51.100.7:1234")), http.StatusOK)
	// A role refused with 403 counts against its token's budget too.
	for range 3 {
		wantStatus(t, h.do("GET", target, "", as(serviceToken)), http.StatusForbidden)
	}
	wantRateLimited(t, h.do("GET", "/api/v1/events", "", as(serviceToken)), 3600)

	// The refusal is logged with the token's name, never the token.
	var found bool
	for _, l := range h.logs.lines(t) {
		if l["msg"] == "rate limited" && l["token"] == "test-agent" {
			found = true
		}
	}
	if !found {
		t.Errorf("no rate limited log line for the agent's token:\n%s", h.logs.String())
	}
	if strings.Contains(h.logs.String(), agentToken) {
		t.Errorf("the logs contain the token:\n%s", h.logs.String())
	}
}

// TestFailedAuthRateLimit: an address that keeps sending bad or missing
// tokens is soon answered with 429 before its token is checked, a good
// one's too; other addresses, and the public routes, are not affected.
func TestFailedAuthRateLimit(t *testing.T) {
	t.Parallel()
	h := setupLimits(t, httpapi.RateLimits{FailedAuthPerIP: 3, Window: time.Hour})
	var checked atomic.Int32
	next := h.f.auth.AuthenticateFn
	h.f.auth.AuthenticateFn = func(ctx context.Context, raw string) (auth.Principal, error) {
		checked.Add(1)
		return next(ctx, raw)
	}
	attacker := from("203.0.113.5:40000")
	target := "/api/v1/customers/" + customerID

	wantError(t, h.do("GET", target, "", as("guess-1"), attacker), http.StatusUnauthorized, "unauthorized", "")
	wantError(t, h.do("GET", target, "", anonymous(), wrong(), attacker), http.StatusUnauthorized, "unauthorized", "")
	wantError(t, h.do("GET", target, "", header("Authorization", "Basic abc"), wrong(), attacker), http.StatusUnauthorized, "unauthorized", "")
	checkedBefore := checked.Load()

	msg := wantRateLimited(t, h.do("GET", target, "", as("guess-2"), attacker), 3600)
	if !strings.Contains(msg, "3 missing or invalid tokens") {
		t.Errorf("message %q does not say which budget", msg)
	}
	// Even a good token: the address is refused before any token is checked.
	wantRateLimited(t, h.do("GET", target, "", as(adminToken), from("203.0.113.5:40001")), 3600)
	if n := checked.Load(); n != checkedBefore {
		t.Errorf("the authenticator was called %d more times after the limit", n-checkedBefore)
	}

	// Another address is not affected, and neither are the public routes.
	wantStatus(t, h.do("GET", target, "", as(adminToken), from("198.51.100.9:1234")), http.StatusOK)
	wantStatus(t, h.do("GET", "/healthz", "", anonymous(), attacker), http.StatusOK)
}

// TestFailedAuthWithoutAuthenticator: without an authenticator every
// protected route answers 401, which is nothing to guess at and so is not
// counted.
func TestFailedAuthWithoutAuthenticator(t *testing.T) {
	t.Parallel()
	h := setupServices(t, func(s *httpapi.Services) {
		s.Auth = nil
		s.Limits = httpapi.RateLimits{FailedAuthPerIP: 1, Window: time.Hour}
	})
	for range 3 {
		wantError(t, h.do("GET", "/api/v1/customers/"+customerID, ""), http.StatusUnauthorized, "unauthorized", "")
	}
}

// TestPublicRateLimit: the public routes share one budget per client
// address; an IPv6 client is counted by its /64. Tokens are not affected.
func TestPublicRateLimit(t *testing.T) {
	t.Parallel()
	h := setupLimits(t, httpapi.RateLimits{PerIP: 2, Window: time.Hour})
	wantStatus(t, h.do("GET", "/healthz", "", anonymous()), http.StatusOK)
	wantStatus(t, h.do("GET", "/readyz", "", anonymous()), http.StatusOK)
	msg := wantRateLimited(t, h.do("GET", "/healthz", "", anonymous()), 3600)
	if !strings.Contains(msg, "this address") || !strings.Contains(msg, "public routes") {
		t.Errorf("message %q does not say which budget", msg)
	}
	webhook := "/api/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=" + testVerifyToken + "&hub.challenge=1"
	wantRateLimited(t, h.do("GET", webhook, "", anonymous()), 3600)
	wantRateLimited(t, h.do("POST", "/api/v1/webhooks/whatsapp", whatsAppBody, signed(whatsAppBody)), 3600)
	// Forwarding headers are not trusted.
	wantRateLimited(t, h.do("GET", "/healthz", "", anonymous(), header("X-Forwarded-For", "198.51.100.1")), 3600)

	wantStatus(t, h.do("GET", "/healthz", "", anonymous(), from("198.51.100.1:80")), http.StatusOK)
	wantStatus(t, h.do("GET", "/api/v1/customers/"+customerID, ""), http.StatusOK)

	wantStatus(t, h.do("GET", "/healthz", "", anonymous(), from("[2001:db8:1:2::1]:80")), http.StatusOK)
	wantStatus(t, h.do("GET", "/healthz", "", anonymous(), from("[2001:db8:1:2::ffff]:80")), http.StatusOK)
	wantRateLimited(t, h.do("GET", "/healthz", "", anonymous(), from("[2001:db8:1:2:aaaa::9]:80")), 3600)
	wantStatus(t, h.do("GET", "/healthz", "", anonymous(), from("[2001:db8:1:3::1]:80")), http.StatusOK)
}

// TestRateLimitsReset: a budget used up is available again once its window
// has passed. The window is tiny; the wait is bounded by a deadline.
func TestRateLimitsReset(t *testing.T) {
	t.Parallel()
	const window = 50 * time.Millisecond
	target := "/api/v1/customers/" + customerID
	tests := []struct {
		name   string
		limits httpapi.RateLimits
		send   func(h *harness) *httptest.ResponseRecorder
		status int // the answer once the budget is back
	}{
		{"token", httpapi.RateLimits{PerToken: 2, Window: window},
			func(h *harness) *httptest.ResponseRecorder { return h.do("GET", target, "") }, http.StatusOK},
		{"failed auth", httpapi.RateLimits{FailedAuthPerIP: 2, Window: window},
			func(h *harness) *httptest.ResponseRecorder { return h.do("GET", target, "", as("bad")) }, http.StatusUnauthorized},
		{"public", httpapi.RateLimits{PerIP: 2, Window: window},
			func(h *harness) *httptest.ResponseRecorder { return h.do("GET", "/healthz", "", anonymous()) }, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setupLimits(t, tt.limits)
			deadline := time.Now().Add(10 * time.Second)
			// Use the budget up. Requests that straddle two windows count
			// partly, so this may take more than two.
			for {
				w := tt.send(h)
				if w.Code == http.StatusTooManyRequests {
					wantRateLimited(t, w, 1)
					break
				}
				wantStatus(t, w, tt.status)
				if time.Now().After(deadline) {
					t.Fatal("the budget was never used up")
				}
			}
			// Wait for it to come back.
			for {
				w := tt.send(h)
				if w.Code != http.StatusTooManyRequests {
					wantStatus(t, w, tt.status)
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("still refused with 429 %s after the budget was used up; the window is %s", 10*time.Second, window)
				}
				time.Sleep(window / 10)
			}
		})
	}
}

// TestRateLimitDefaults: the zero RateLimits takes the defaults: 10 failed
// authentications, 120 public requests and 600 requests per token, a
// minute each. The first requests up to a budget always pass; the next is
// refused unless the window slid during the burst, so a few more may pass.
func TestRateLimitDefaults(t *testing.T) {
	t.Parallel()
	const slack = 20
	tests := []struct {
		name   string
		budget int
		send   func(h *harness) *httptest.ResponseRecorder
		status int
	}{
		{"failed auth", httpapi.DefaultFailedAuthPerIP, func(h *harness) *httptest.ResponseRecorder {
			return h.do("GET", "/api/v1/policies/"+policyID, "", as("bad"))
		}, http.StatusUnauthorized},
		{"public", httpapi.DefaultPerIP, func(h *harness) *httptest.ResponseRecorder {
			return h.do("GET", "/healthz", "", anonymous())
		}, http.StatusOK},
		{"token", httpapi.DefaultPerToken, func(h *harness) *httptest.ResponseRecorder {
			return h.do("GET", "/api/v1/policies/"+policyID, "", as(agentToken))
		}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setupLimits(t, httpapi.RateLimits{})
			for i := range tt.budget {
				if w := tt.send(h); w.Code != tt.status {
					t.Fatalf("request %d of a budget of %d: status %d, want %d; body %s", i+1, tt.budget, w.Code, tt.status, w.Body.String())
				}
			}
			for range slack {
				w := tt.send(h)
				if w.Code == http.StatusTooManyRequests {
					wantRateLimited(t, w, 60)
					return
				}
				wantStatus(t, w, tt.status)
			}
			t.Errorf("no 429 within %d requests past the budget of %d", slack, tt.budget)
		})
	}
}

// TestNegativeRateLimits: a negative limit is a mistake, which NewServer
// reports by the field's name.
func TestNegativeRateLimits(t *testing.T) {
	t.Parallel()
	for name, l := range map[string]httpapi.RateLimits{
		"PerToken":        {PerToken: -1},
		"PerIP":           {PerIP: -1},
		"FailedAuthPerIP": {FailedAuthPerIP: -1},
		"Window":          {Window: -time.Second},
	} {
		_, err := httpapi.NewServer(httpapi.Services{Limits: l}, nil, nil)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s negative: error %v, want one naming it", name, err)
		}
	}
}
