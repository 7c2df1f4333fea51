package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"insure/internal/auth"
)

// TestNewServerChecksTheAccessTable: a route without an entry in the access
// table, an entry without a route, and an entry that no one or everyone
// may call, make NewServer fail rather than serve a route whose access is
// undecided.
func TestNewServerChecksTheAccessTable(t *testing.T) {
	t.Parallel()
	const route = "GET /api/v1/events"
	tests := []struct {
		name string
		edit func(map[string]rule)
		want []string // substrings of the error
	}{
		{"route without an entry", func(m map[string]rule) { delete(m, route) }, []string{`"` + route + `"`, "no entry in the access table"}},
		{"entry without a route", func(m map[string]rule) { m["DELETE /api/v1/events"] = roles(auth.RoleAdmin) }, []string{`"DELETE /api/v1/events"`, "not a route"}},
		{"entry with no roles", func(m map[string]rule) { m[route] = rule{} }, []string{`"` + route + `"`, "no roles"}},
		{"entry with an empty role list", func(m map[string]rule) { m[route] = roles() }, []string{`"` + route + `"`, "no roles"}},
		{"public entry with roles", func(m map[string]rule) { m[route] = rule{public: true, roles: []auth.Role{auth.RoleAdmin}} }, []string{`"` + route + `"`, "public and lists roles"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			table := accessTable()
			tt.edit(table)
			srv, err := newServer(Services{}, nil, nil, table)
			if err == nil {
				t.Fatal("NewServer accepted the table")
			}
			if srv != nil {
				t.Error("NewServer returned a server with its error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}

	t.Run("the real table", func(t *testing.T) {
		t.Parallel()
		if _, err := NewServer(Services{}, nil, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// TestHandleDoesNotPanic: a route registered twice, or one the mux
// refuses, is an error of NewServer rather than a panic.
func TestHandleDoesNotPanic(t *testing.T) {
	t.Parallel()
	nop := func(http.ResponseWriter, *http.Request) error { return nil }
	for name, patterns := range map[string][]string{
		"twice":       {"GET /healthz", "GET /healthz"},
		"conflicting": {"GET /a/{x}", "GET /a/{y}"},
		"invalid":     {"GET /{"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			table := make(map[string]rule)
			for _, p := range patterns {
				table[p] = public()
			}
			srv := &Server{mux: http.NewServeMux(), access: table}
			for _, p := range patterns {
				srv.handle(p, nop)
			}
			err := srv.checkAccess()
			if err == nil || !strings.Contains(err.Error(), patterns[len(patterns)-1]) {
				t.Errorf("error %v does not name %q", err, patterns[len(patterns)-1])
			}
		})
	}
}

func TestActorOf(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "/healthz", nil)
	if got := actorOf(r); got != "anonymous" {
		t.Errorf("actor without a principal = %q, want anonymous", got)
	}
	p := auth.Principal{TokenID: "tok-1", Name: "ci", Role: auth.RoleService}
	r = r.WithContext(withPrincipal(context.Background(), p))
	if got := actorOf(r); got != "token:ci" {
		t.Errorf("actor = %q, want token:ci", got)
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []string
		want   string // "" means an error
	}{
		{"none", nil, ""},
		{"bearer", []string{"Bearer abc"}, "abc"},
		{"scheme in lower case", []string{"bearer abc"}, "abc"},
		{"scheme in upper case", []string{"BEARER abc"}, "abc"},
		{"extra spaces", []string{"  Bearer   abc  "}, "abc"},
		{"no token", []string{"Bearer"}, ""},
		{"blank token", []string{"Bearer   "}, ""},
		{"another scheme", []string{"Basic YWRtaW46eA=="}, ""},
		{"token alone", []string{"abc"}, ""},
		{"scheme glued to the token", []string{"Bearerabc"}, ""},
		{"two headers", []string{"Bearer abc", "Bearer abc"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/", nil)
			for _, v := range tt.values {
				r.Header.Add("Authorization", v)
			}
			got, err := bearerToken(r.Header)
			switch {
			case tt.want == "" && err == nil:
				t.Errorf("token %q, want an error", got)
			case tt.want != "" && (err != nil || got != tt.want):
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "abc") {
				t.Errorf("error %q quotes the header", err)
			}
		})
	}
}
