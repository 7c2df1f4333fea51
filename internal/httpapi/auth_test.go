package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/auth"
	"insure/internal/customer"
	"insure/internal/event"
	"insure/internal/projection"
)

// TestActorIsTheToken: the actor of the events a request causes is its
// token's, whoever the body claims to be.
func TestActorIsTheToken(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		token, want string
	}{
		{adminToken, "token:test-admin"},
		{agentToken, "token:test-agent"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			var got []event.Context
			h.f.customers.RegisterFn = func(_ context.Context, ec event.Context, _ customer.Register) (projection.Customer, error) {
				got = append(got, ec)
				return testCustomer(), nil
			}
			w := h.do("POST", "/api/v1/customers", `{"name":"A","email":"a@example.com","phone":"9876543210","actor":"token:someone-else"}`, as(tt.token), wrong())
			wantError(t, w, http.StatusBadRequest, "malformed", "actor")
			if len(got) != 0 {
				t.Fatalf("the service was called with %+v", got)
			}
			w = h.do("POST", "/api/v1/customers", `{"name":"A","email":"a@example.com","phone":"9876543210"}`, as(tt.token))
			wantStatus(t, w, http.StatusCreated)
			if len(got) != 1 || got[0].Actor != tt.want {
				t.Errorf("event contexts = %+v, want actor %s", got, tt.want)
			}
		})
	}
}

// TestAuthorizationHeader: the scheme is case-insensitive and the token is
// handed to the authenticator as sent; anything else is a 401 that does not
// quote the header.
func TestAuthorizationHeader(t *testing.T) {
	t.Parallel()
	target := "/api/v1/customers/" + customerID
	for _, v := range []string{"Bearer " + agentToken, "bearer " + agentToken, "BEARER " + agentToken, "Bearer   " + agentToken + " "} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			var raw []string
			next := h.f.auth.AuthenticateFn
			h.f.auth.AuthenticateFn = func(ctx context.Context, token string) (auth.Principal, error) {
				raw = append(raw, token)
				return next(ctx, token)
			}
			wantStatus(t, h.do("GET", target, "", header("Authorization", v)), http.StatusOK)
			if len(raw) != 1 || raw[0] != agentToken {
				t.Errorf("the authenticator got %q, want [%q]", raw, agentToken)
			}
		})
	}
	for name, opt := range map[string]option{
		"another scheme":  header("Authorization", "Basic "+agentToken),
		"token alone":     header("Authorization", agentToken),
		"no token":        header("Authorization", "Bearer "),
		"two headers":     func(r *http.Request) { r.Header.Add("Authorization", "Bearer "+agentToken) },
		"token in query":  func(r *http.Request) { r.Header.Del("Authorization"); r.URL.RawQuery = "access_token=" + agentToken },
		"token in cookie": func(r *http.Request) { r.Header.Del("Authorization"); r.Header.Set("Cookie", "token="+agentToken) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			w := h.do("GET", target, "", opt, wrong())
			msg := wantError(t, w, http.StatusUnauthorized, "unauthorized", "")
			if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="insure"` {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			if strings.Contains(msg, agentToken) {
				t.Errorf("the message quotes the token: %q", msg)
			}
		})
	}
}

// TestAuthenticatorFailures: an authenticator that cannot tell is not a
// 401: the client did nothing wrong.
func TestAuthenticatorFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fn     func(context.Context, string) (auth.Principal, error)
		status int
		code   string
	}{
		{
			name: "store unavailable",
			fn: func(context.Context, string) (auth.Principal, error) {
				return auth.Principal{}, apperr.New(apperr.Unavailable, "the token store is unavailable; try again shortly")
			},
			status: http.StatusServiceUnavailable, code: "unavailable",
		},
		{
			name:   "a bug",
			fn:     func(context.Context, string) (auth.Principal, error) { return auth.Principal{}, errors.New("boom") },
			status: http.StatusInternalServerError, code: "internal",
		},
		{
			name: "principal without a name",
			fn: func(context.Context, string) (auth.Principal, error) {
				return auth.Principal{Role: auth.RoleAdmin}, nil
			},
			status: http.StatusInternalServerError, code: "internal",
		},
		{
			name: "principal with an unknown role",
			fn: func(context.Context, string) (auth.Principal, error) {
				return auth.Principal{Name: "x", Role: "root"}, nil
			},
			status: http.StatusInternalServerError, code: "internal",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			h.f.auth.AuthenticateFn = tt.fn
			h.f.customers.GetFn = func(context.Context, string) (projection.Customer, error) {
				t.Error("the handler ran")
				return testCustomer(), nil
			}
			w := h.do("GET", "/api/v1/customers/"+customerID, "")
			wantError(t, w, tt.status, tt.code, "")
			if got := w.Header().Get("WWW-Authenticate"); got != "" {
				t.Errorf("WWW-Authenticate = %q on a %d", got, w.Code)
			}
		})
	}
}

// TestRequestLogNamesTheToken: the request log line, and the log line of a
// 500 or a panic, names the token and its role once the token is
// authenticated, and never shows the token.
func TestRequestLogNamesTheToken(t *testing.T) {
	t.Parallel()
	h := setup(t)
	wantStatus(t, h.do("GET", "/api/v1/customers/"+customerID, ""), http.StatusOK)
	wantStatus(t, h.do("GET", "/api/v1/events", "", as(agentToken)), http.StatusForbidden)
	wantStatus(t, h.do("GET", "/api/v1/events", "", as("secret-but-wrong")), http.StatusUnauthorized)
	wantStatus(t, h.do("GET", "/healthz", "", as(auditorToken)), http.StatusOK)
	h.f.quotations.GetFn = func(context.Context, string) (projection.Quotation, error) {
		return projection.Quotation{}, errors.New("boom")
	}
	wantStatus(t, h.do("GET", "/api/v1/quotations/"+quotationID, "", as(auditorToken)), http.StatusInternalServerError)
	h.f.policies.GetFn = func(context.Context, string) (projection.Policy, error) { panic("boom") }
	wantStatus(t, h.do("GET", "/api/v1/policies/"+policyID, "", as(agentToken)), http.StatusInternalServerError)

	type who struct{ msg, token, role any }
	var got []who
	for _, l := range h.logs.lines(t) {
		got = append(got, who{l["msg"], l["token"], l["role"]})
	}
	want := []who{
		{"http request", "test-admin", "admin"},
		{"http request", "test-agent", "agent"},
		{"http request", nil, nil},
		{"http request", nil, nil},
		{"internal error", "test-auditor", "auditor"},
		{"http request", "test-auditor", "auditor"},
		{"panic in handler", "test-agent", "agent"},
		{"http request", "test-agent", "agent"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(who{})); diff != "" {
		t.Errorf("log lines (-want +got):\n%s\n%s", diff, h.logs.String())
	}
	logs := h.logs.String()
	for _, secret := range []string{adminToken, agentToken, auditorToken, "secret-but-wrong"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain the token %q:\n%s", secret, logs)
		}
	}
}

// TestServicesSeeNoTokenlessCalls: a protected route that refuses the
// caller does not reach its service.
func TestServicesSeeNoTokenlessCalls(t *testing.T) {
	t.Parallel()
	h := setup(t)
	called := false
	h.f.events.ReadFn = func(context.Context, int64, int, []string) ([]event.Envelope, int64, error) {
		called = true
		return nil, 0, nil
	}
	h.do("GET", "/api/v1/events", "", anonymous(), wrong())
	h.do("GET", "/api/v1/events", "", as("nope"))
	h.do("GET", "/api/v1/events", "", as(agentToken))
	if called {
		t.Error("the events service was called")
	}
}
