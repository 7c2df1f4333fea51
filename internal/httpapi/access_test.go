package httpapi_test

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/auth"
	"insure/internal/httpapi"
	"insure/internal/httpapi/contracttest"
)

// TestAccessTableMatchesRoutes checks that the access table, the mux and
// the spec list the same routes, and that the spec's security says which
// are public as the table does.
func TestAccessTableMatchesRoutes(t *testing.T) {
	t.Parallel()
	table := httpapi.AccessTable()
	svc, _ := happyServices()
	routes := newServer(t, svc).Routes()
	slices.Sort(routes)
	if diff := cmp.Diff(slices.Sorted(maps.Keys(table)), routes); diff != "" {
		t.Errorf("access table (-) and mux routes (+) differ:\n%s", diff)
	}

	doc := contracttest.New(t).Doc()
	for _, route := range routes {
		method, path, _ := strings.Cut(route, " ")
		op := doc.Paths.Find(path).GetOperation(method)
		if op == nil {
			continue // TestRoutesMatchSpec reports it
		}
		specPublic := op.Security != nil && len(*op.Security) == 0
		if specPublic != table[route].Public {
			t.Errorf("%s: public in the access table %v, in the spec (security: []) %v", route, table[route].Public, specPublic)
		}
		if table[route].Public {
			continue
		}
		for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
			if op.Responses.Status(status) == nil {
				t.Errorf("%s: the spec lists no %d response", route, status)
			}
		}
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearerAuth"] == nil {
		t.Errorf("the spec's global security = %v, want bearerAuth", doc.Security)
	}
}

// TestAccessRules states the roles' rules independently of the access
// table and checks the table against them.
func TestAccessRules(t *testing.T) {
	t.Parallel()
	// Agents read no event history, and not the access log either; only
	// admins erase personal data.
	notForAgents := []string{"GET /api/v1/events", "GET /api/v1/events/stream", "GET /api/v1/customers/{id}/events", "GET /api/v1/audit/access",
		"DELETE /api/v1/customers/{id}/personal-data"}
	public := []string{"GET /healthz", "GET /readyz", "GET /api/v1/webhooks/whatsapp", "POST /api/v1/webhooks/whatsapp"}
	may := map[auth.Role]func(route string) bool{
		auth.RoleAdmin:   func(string) bool { return true },
		auth.RoleAgent:   func(route string) bool { return !slices.Contains(notForAgents, route) },
		auth.RoleAuditor: func(route string) bool { return strings.HasPrefix(route, "GET ") },
		auth.RoleService: func(route string) bool { return route == "GET /api/v1/events" || route == "GET /api/v1/events/stream" },
	}
	for route, access := range httpapi.AccessTable() {
		if slices.Contains(public, route) != access.Public {
			t.Errorf("%s: public = %v", route, access.Public)
			continue
		}
		if access.Public {
			continue
		}
		for _, role := range auth.Roles() {
			if want, got := may[role](route), slices.Contains(access.Roles, role); got != want {
				t.Errorf("%s: role %s allowed = %v, want %v", route, role, got, want)
			}
		}
	}
}

// TestAccessMatrix sends every route's sample request without a token,
// with a bad token and with each role's token, through the contract check.
// Without a good token a protected route answers 401 with a challenge; a
// role the access table does not list, 403; a role it lists gets the
// sample's answer. Public routes answer everyone alike.
func TestAccessMatrix(t *testing.T) {
	t.Parallel()
	byRoute := make(map[string]sample)
	for _, s := range samples() {
		byRoute[s.route] = s
	}
	type caller struct {
		name string
		opts []option
		role auth.Role // "" for no good token
	}
	callers := []caller{
		{name: "no token", opts: []option{anonymous()}},
		{name: "bad token", opts: []option{as("not-a-token")}},
	}
	for _, role := range auth.Roles() {
		callers = append(callers, caller{name: string(role), opts: []option{as(tokenFor(role))}, role: role})
	}

	c := contracttest.New(t)
	table := httpapi.AccessTable()
	for _, route := range slices.Sorted(maps.Keys(table)) {
		access := table[route]
		s, ok := byRoute[route]
		if !ok {
			t.Errorf("%s: no sample request; add one to samples()", route)
			continue
		}
		for _, cl := range callers {
			t.Run(route+"/"+cl.name, func(t *testing.T) {
				t.Parallel()
				h := setupWith(t, c)
				opts := append(slices.Clone(s.opts), cl.opts...)
				if cl.name == "no token" && !access.Public {
					opts = append(opts, wrong()) // the spec requires a token
				}
				w := h.do(s.method(), s.target, s.body, opts...)
				switch {
				case access.Public:
					wantStatus(t, w, s.status)
				case cl.role == "":
					wantError(t, w, http.StatusUnauthorized, "unauthorized", "")
					want := `Bearer realm="insure"`
					if cl.name == "bad token" {
						want += `, error="invalid_token"`
					}
					if got := w.Header().Get("WWW-Authenticate"); got != want {
						t.Errorf("WWW-Authenticate = %q, want %q", got, want)
					}
				case !slices.Contains(access.Roles, cl.role):
					msg := wantError(t, w, http.StatusForbidden, "forbidden", "")
					if !strings.Contains(msg, string(cl.role)) || !strings.Contains(msg, route) {
						t.Errorf("message %q does not name the role %s and the route %s", msg, cl.role, route)
					}
				default:
					wantStatus(t, w, s.status)
				}
				if access.Public || cl.role != "" {
					if got := w.Header().Get("WWW-Authenticate"); got != "" {
						t.Errorf("WWW-Authenticate = %q on a %d", got, w.Code)
					}
				}
			})
		}
	}
}

// TestPublicRoutesNeedNoAuthenticator: without an authenticator the API
// fails closed. Every protected route answers 401, even to the admin's
// token, and the public routes still work.
func TestPublicRoutesNeedNoAuthenticator(t *testing.T) {
	t.Parallel()
	h := setupServices(t, func(s *httpapi.Services) { s.Auth = nil })
	table := httpapi.AccessTable()
	for _, s := range samples() {
		w := h.do(s.method(), s.target, s.body, s.opts...)
		if table[s.route].Public {
			if w.Code != s.status {
				t.Errorf("%s: status %d, want %d; body %s", s.route, w.Code, s.status, w.Body.String())
			}
			continue
		}
		if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != `Bearer realm="insure"` {
			t.Errorf("%s: status %d, WWW-Authenticate %q; want 401 with the challenge", s.route, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	if !strings.Contains(h.logs.String(), "no authenticator") {
		t.Errorf("no warning that the API has no authenticator:\n%s", h.logs.String())
	}
}
