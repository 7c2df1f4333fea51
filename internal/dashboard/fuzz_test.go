package dashboard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"insure/internal/auth"
)

// FuzzDashboardInput sends arbitrary query strings and form bodies, from a
// logged-in admin with the right CSRF token, to every route that reads
// them. None may fail with a server error or a panic.
func FuzzDashboardInput(f *testing.F) {
	for _, seed := range []struct {
		route uint8
		input string
	}{
		{0, "type=CustomerRegistered&type=QuotationRequested"},
		{0, "type=%00&type="},
		{1, "panels=summary,chart&stream=1&after=2&type=CustomerRegistered"},
		{1, "panels=,,,&stream=1&after=-1"},
		{2, "one=1"},
		{2, "scope=selected&sel=1&sel=2&confirm=yes"},
		{2, "scope=all&confirm=yes"},
		{3, "scope=selected&sel=x"},
		{4, "email=asha@example.com&name=Asha&phone=%2B91"},
		{4, "name=" + strings.Repeat("é", 400)},
		{5, "../../etc/passwd"},
		{5, "-1"},
	} {
		f.Add(seed.route, seed.input)
	}
	hs := setup(f)
	b := hs.browser()
	if p := b.login(hs.token("fuzzer", auth.RoleAdmin)); p.status != http.StatusSeeOther {
		f.Fatalf("login: %d", p.status)
	}
	csrf := b.csrf()
	f.Fuzz(func(t *testing.T, route uint8, input string) {
		var req *http.Request
		switch route % 6 {
		case 0:
			req = httptest.NewRequest(http.MethodGet, "/dashboard/events", nil)
			req.URL.RawQuery = input
		case 1:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			req = httptest.NewRequestWithContext(ctx, http.MethodGet, "/dashboard/live", nil)
			req.URL.RawQuery = input
		case 2, 3:
			action := map[uint8]string{2: "retry", 3: "discard"}[route%6]
			req = httptest.NewRequest(http.MethodPost, "/dashboard/dead-letters/"+action, strings.NewReader(input+"&csrf="+csrf))
		case 4:
			req = httptest.NewRequest(http.MethodPost, "/dashboard/customers", strings.NewReader(input+"&csrf="+csrf))
		case 5:
			req = httptest.NewRequest(http.MethodGet, "/dashboard/events/x", nil)
			req.URL.Path = "/dashboard/events/" + input
			req.URL.RawPath = ""
		}
		if req.Method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for _, c := range b.cookies {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		rec := httptest.NewRecorder()
		hs.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("route %d, input %q: status %d\n%s", route%6, input, rec.Code, rec.Body.String())
		}
	})
}
