package cli

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/monitor"
	"insure/internal/queue"
)

// metricsPage is one scrape of GET /metrics, parsed.
type metricsPage struct {
	raw  string
	fams map[string]*dto.MetricFamily
}

// scrapeMetrics fetches GET /metrics without a token and parses it.
func scrapeMetrics(t *testing.T, base string) metricsPage {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s: %.200s", res.StatusCode, res.Header.Get("Content-Type"), raw)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return metricsPage{raw: string(raw), fams: fams}
}

// value is the value of the series of family name with exactly the given
// labels (name=value pairs, in any order): a counter's or gauge's value, a
// histogram's sample count; ok is false when there is no such series.
func (p metricsPage) value(name string, labels ...string) (v float64, ok bool) {
	f, found := p.fams[name]
	if !found {
		return 0, false
	}
	want := map[string]string{}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		want[k] = v
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if w, ok := want[l.GetName()]; !ok || w != l.GetValue() {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// count is value with 0 for a series not (yet) exported: a counter that
// never moved.
func (p metricsPage) count(name string, labels ...string) float64 {
	v, _ := p.value(name, labels...)
	return v
}

// TestMetrics scrapes GET /metrics of a real system, runs a workflow
// through the API and checks that the series moved, on SQLite and
// PostgreSQL.
func TestMetrics(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			s := startSystem(t, testConfig(t, d))
			srv := httptest.NewServer(s.Handler())
			t.Cleanup(srv.Close)
			c := client{t: t, base: srv.URL}
			ctx := context.Background()

			before := scrapeMetrics(t, srv.URL)
			registered := []string{"event_name=CustomerRegistered", "aggregate_type=customer"}
			welcome := []string{"listener=SendWelcomeEmail", "queue=" + queue.EmailPriority}

			const name, email, phone = "Meera Krishnan", "meera.krishnan@example.com", "+919812312345"
			id, _ := c.expect(201, "POST", "/api/v1/customers", map[string]any{"name": name, "email": email, "phone": phone,
				"date_of_birth": "1988-02-03", "channel": "web", "preferences": map[string]bool{"email": true, "whatsapp": false}}).json(t)["id"].(string)
			// A command that fails: a body that reads but breaks a rule.
			c.expect(422, "POST", "/api/v1/customers", map[string]any{"name": name, "email": "not-an-address", "phone": phone})
			c.expect(202, "POST", "/api/v1/quotations", map[string]any{"customer_id": id, "product": "motor", "sum_insured": 120_000_000,
				"details": map[string]any{"vehicle_make": "Maruti", "vehicle_model": "Swift", "vehicle_year": time.Now().Year() - 3, "ncb_percent": 25}})

			wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			if err := s.WaitIdle(wctx); err != nil {
				t.Fatal(err)
			}
			var after metricsPage
			waitUntil(t, "the welcome email's job to be counted", func() bool {
				after = scrapeMetrics(t, srv.URL)
				return after.count("insure_listener_jobs_total", append(welcome, "outcome=ok")...) > before.count("insure_listener_jobs_total", append(welcome, "outcome=ok")...)
			})

			for _, tt := range []struct {
				name    string
				labels  []string
				atLeast float64 // the increase
			}{
				{"insure_events_appended_total", registered, 1},
				{"insure_events_appended_total", []string{"event_name=QuotationRequested", "aggregate_type=quotation"}, 1},
				{"insure_commands_total", []string{"command=RegisterCustomer", "outcome=ok"}, 1},
				{"insure_commands_total", []string{"command=RegisterCustomer", "outcome=invalid"}, 1},
				{"insure_commands_total", []string{"command=RequestQuotation", "outcome=ok"}, 1},
				{"insure_command_duration_seconds", []string{"command=RegisterCustomer"}, 2},
				// The listener's command.
				{"insure_commands_total", []string{"command=GenerateQuotation", "outcome=ok"}, 1},
				{"insure_listener_jobs_total", append(welcome, "outcome=ok"), 1},
				{"insure_listener_job_duration_seconds", welcome, 1},
				{"insure_listener_job_wait_seconds", welcome, 1},
				{"insure_http_requests_total", []string{"method=POST", "route=/api/v1/customers", "status=201"}, 1},
				{"insure_http_requests_total", []string{"method=POST", "route=/api/v1/customers", "status=422"}, 1},
				{"insure_http_request_duration_seconds", []string{"method=POST", "route=/api/v1/customers"}, 2},
			} {
				if got := after.count(tt.name, tt.labels...) - before.count(tt.name, tt.labels...); got < tt.atLeast {
					t.Errorf("%s%v rose by %v, want at least %v", tt.name, tt.labels, got, tt.atLeast)
				}
			}
			// Exactly one registration was committed.
			if got := after.count("insure_events_appended_total", registered...) - before.count("insure_events_appended_total", registered...); got != 1 {
				t.Errorf("CustomerRegistered appended %v times, want 1", got)
			}

			// The gauges read at scrape time.
			for _, q := range queue.Names() {
				for _, st := range monitor.States() {
					if _, ok := after.value("insure_queue_jobs", "queue="+q, "state="+st); !ok {
						t.Errorf("no insure_queue_jobs{queue=%q,state=%q}", q, st)
					}
				}
			}
			for _, q := range queue.Names() {
				if v, ok := after.value("insure_queue_oldest_job_seconds", "queue="+q); !ok || v < 0 {
					t.Errorf("insure_queue_oldest_job_seconds{queue=%q} = %v (present %v)", q, v, ok)
				}
			}
			if v, ok := after.value("insure_queue_jobs", "queue="+queue.EmailPriority, "state=available"); !ok || v != 0 {
				t.Errorf("jobs available on %s after the listeners finished: %v", queue.EmailPriority, v)
			}
			if v, ok := after.value("insure_dead_letters", "listener=SendWelcomeEmail"); !ok || v != 0 {
				t.Errorf("insure_dead_letters{listener=SendWelcomeEmail} = %v (present %v), want 0", v, ok)
			}
			status, err := s.Projections.Status(ctx)
			if err != nil || len(status) == 0 {
				t.Fatalf("projections: %v %v", status, err)
			}
			for _, st := range status {
				for _, name := range []string{"insure_projection_position", "insure_projection_lag_events", "insure_projection_lag_seconds"} {
					if _, ok := after.value(name, "projection="+st.Name); !ok {
						t.Errorf("no %s{projection=%q}", name, st.Name)
					}
				}
			}
			if v, ok := after.value("insure_projection_position", "projection="+status[0].Name); !ok || v < 2 {
				t.Errorf("insure_projection_position{projection=%q} = %v", status[0].Name, v)
			}
			for _, provider := range []string{"email", "whatsapp"} {
				if v, ok := after.value("insure_circuit_breaker_state", "provider="+provider, "state=closed"); !ok || v != 1 {
					t.Errorf("the %s breaker is not reported closed: %v %v", provider, v, ok)
				}
				if v, ok := after.value("insure_circuit_breaker_state", "provider="+provider, "state=open"); !ok || v != 0 {
					t.Errorf("the %s breaker is reported open: %v %v", provider, v, ok)
				}
			}
			if v, ok := after.value("insure_metrics_scrape_errors_total", "source=queue_jobs"); !ok || v != 0 {
				t.Errorf("scrape errors: %v %v", v, ok)
			}
			for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
				if _, ok := after.fams[name]; !ok {
					t.Errorf("%s is missing", name)
				}
			}

			// No personal data, nor the raw path of a request, in any label.
			for _, needle := range []string{name, "Meera", "meera", email, phone, "9812312345", id} {
				if strings.Contains(after.raw, needle) {
					t.Errorf("/metrics holds %q", needle)
				}
			}

			// Only GET: anything else is the API's.
			if r := c.do("POST", "/metrics", nil); r.status == http.StatusOK {
				t.Errorf("POST /metrics answered 200: %s", r.body)
			}
		})
	}
}

// TestMetricsToken: with METRICS_TOKEN set, GET /metrics (on the API port
// and on a worker's ops address) answers only a request that carries it as
// a bearer token; anything else is a 401 that does not show the token.
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	const token = "metrics-scraper-0123456789abcdefghijklmnop"
	cfg := testConfig(t, database.SQLite)
	if err := cfg.Set("METRICS_TOKEN", token); err != nil {
		t.Fatal(err)
	}
	s := startSystem(t, cfg)
	for name, h := range map[string]http.Handler{"api": s.Handler(), "worker": s.opsHandler()} {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		for _, tc := range []struct {
			auth string
			want int
		}{
			{"", http.StatusUnauthorized},
			{"Bearer wrong-" + token, http.StatusUnauthorized},
			{"Basic " + token, http.StatusUnauthorized},
			{"Bearer " + token[:len(token)-1], http.StatusUnauthorized},
			{"Bearer " + token, http.StatusOK},
		} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Errorf("%s: GET /metrics with %q: HTTP %d, want %d: %.200s", name, tc.auth, res.StatusCode, tc.want, body)
				continue
			}
			switch tc.want {
			case http.StatusUnauthorized:
				if res.Header.Get("WWW-Authenticate") == "" || !strings.Contains(string(body), "METRICS_TOKEN") || strings.Contains(string(body), token) {
					t.Errorf("%s: 401 without a challenge or with the token: %v %s", name, res.Header, body)
				}
			case http.StatusOK:
				if !strings.Contains(string(body), "go_goroutines") {
					t.Errorf("%s: 200 without the exposition: %.200s", name, body)
				}
			}
		}
	}
}
