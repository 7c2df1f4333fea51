package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"insure/internal/database/dbtest"
)

// soakSamples fabricates n samples 5 s apart: goroutines and RSS start at
// g0 and rss0 and grow by dg and drss a sample, 100 requests each.
func soakSamples(n int, g0, dg, rss0, drss float64) []soakSample {
	out := make([]soakSample, n)
	for i := range out {
		out[i] = soakSample{ElapsedS: float64(5 * (i + 1)), Total: 100, Requests: map[string]uint64{soakRead: 100},
			Goroutines: g0 + dg*float64(i), RSSMB: rss0 + drss*float64(i), HeapInuseMB: 8, Backlog: 10}
	}
	return out
}

func TestJudgeSoak(t *testing.T) {
	t.Parallel()
	flat := soakSamples(12, 130, 0, 50, 0)
	noisy := soakSamples(12, 130, 0, 50, 0)
	// Under-load noise at the end (in-flight requests), gone once settled.
	noisy[9].Goroutines, noisy[10].Goroutines, noisy[11].Goroutines = 260, 250, 270
	withErrors := soakSamples(12, 130, 0, 50, 0)
	withErrors[5].Errors = 20
	backlog := soakSamples(12, 130, 0, 50, 0)
	for i := range backlog {
		backlog[i].Backlog = float64(100 * i)
	}
	heapLeak := soakSamples(12, 130, 0, 50, 0)
	for i := range heapLeak {
		heapLeak[i].HeapInuseMB = float64(8 + 3*i)
	}
	unscraped := soakSamples(12, 130, 0, 50, 0)
	for i := range unscraped {
		unscraped[i].ScrapeError, unscraped[i].Goroutines = "connection refused", -1
	}
	settled := func(g float64) *soakSample { return &soakSample{Goroutines: g, Backlog: 0} }
	for _, tc := range []struct {
		name      string
		samples   []soakSample
		settled   *soakSample
		noIdle    bool // idle's scrape failed
		pass      bool
		failure   string // in a failure when !pass
		warning   string
		growth    float64
		rssGrowth float64
	}{
		{name: "flat", samples: flat, pass: true},
		// Settled (after the load) compares with idle (before it), 115.
		{name: "flat, settled", samples: flat, settled: settled(120), pass: true, growth: 5},
		{name: "flat, settled, idle not scraped", samples: flat, settled: settled(120), noIdle: true, pass: true, growth: -10},
		// One goroutine more per 5 s sample: 7 between the baseline (the
		// median of samples 2–4) and the end (of 9–11), within a bound of
		// 50 …
		{name: "slow goroutine growth", samples: soakSamples(12, 130, 1, 50, 0), pass: true, growth: 7},
		// … while 20 a sample is a leak.
		{name: "goroutine leak", samples: soakSamples(12, 130, 20, 50, 0), failure: "goroutines grew by 140", growth: 140},
		{name: "goroutine leak, settled", samples: flat, settled: settled(400), failure: "grew by 285 (115 before the load → 400 after it settled)", growth: 285},
		{name: "under-load noise, settled", samples: noisy, settled: settled(131), pass: true, growth: 16},
		{name: "under-load noise, no settled sample", samples: noisy, failure: "(130 at 15s → 260 at the end of the load)", growth: 130},
		{name: "rss leak", samples: soakSamples(12, 130, 0, 50, 10), failure: "RSS grew by 70.0 MB", rssGrowth: 70},
		{name: "rss within bound", samples: soakSamples(12, 130, 0, 50, 5), pass: true, rssGrowth: 35},
		{name: "heap leak", samples: heapLeak, failure: "heap in use grew by 21.0 MB"},
		{name: "errors", samples: withErrors, failure: "20 of 1200 requests"},
		{name: "backlog is a warning", samples: backlog, pass: true, warning: "listener backlog grew by 700"},
		{name: "too few samples", samples: flat[:3], failure: "only 3 samples"},
		{name: "no metrics", samples: unscraped, failure: "GET /metrics failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idle := soakSample{Goroutines: 115, RSSMB: 35}
			if tc.noIdle {
				idle = soakSample{Goroutines: -1, RSSMB: 35, ScrapeError: "connection refused"}
			}
			v := judgeSoak(idle, tc.samples, tc.settled, soakBounds{goroutines: 50, rssMB: 64, heapMB: 16, backlog: 500})
			if v.Pass != tc.pass || v.Pass != (len(v.Failures) == 0) {
				t.Fatalf("pass %v, want %v: %+v", v.Pass, tc.pass, v)
			}
			if tc.failure != "" && !strings.Contains(strings.Join(v.Failures, "\n"), tc.failure) {
				t.Errorf("failures %q, want one with %q", v.Failures, tc.failure)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(v.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q, want one with %q", v.Warnings, tc.warning)
			}
			if tc.warning == "" && len(v.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", v.Warnings)
			}
			if len(tc.samples) >= soakMinSamples && tc.samples[0].ScrapeError == "" {
				if v.GoroutineGrowth != tc.growth {
					t.Errorf("goroutine growth %v, want %v", v.GoroutineGrowth, tc.growth)
				}
				if v.RSSGrowthMB != tc.rssGrowth {
					t.Errorf("RSS growth %v, want %v", v.RSSGrowthMB, tc.rssGrowth)
				}
			}
		})
	}
}

func TestSoakMedian(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{9, 1, 5}, 5}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := soakMedian(tc.in); got != tc.want {
			t.Errorf("soakMedian(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSoakKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ method, url, want string }{
		{"POST", "http://h/api/v1/customers", soakRegister},
		{"GET", "http://h/api/v1/customers?limit=20", soakRead},
		{"POST", "http://h/api/v1/quotations", soakQuote},
		{"GET", "http://h/api/v1/quotations/0195", soakQuoteGet},
		{"POST", "http://h/api/v1/policies", soakPolicy},
		{"GET", "http://h/api/v1/policies?expiring_within_days=30", soakRead},
		{"POST", "http://h/api/v1/policies/expiry-scan", soakScan},
	} {
		if got := soakKind(tc.method, tc.url); got != tc.want {
			t.Errorf("soakKind(%s %s) = %s, want %s", tc.method, tc.url, got, tc.want)
		}
	}
}

func TestSoakFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "soak", "--duration", "0s"}, "--duration: 0s is out of range"},
		{[]string{"bench", "soak", "--rate", "0"}, "--rate: 0 is out of range"},
		{[]string{"bench", "soak", "--interval", "1ms"}, "--interval: 1ms is too short"},
		{[]string{"bench", "soak", "--duration", "10s", "--interval", "5s"}, "fewer than 4 samples"},
		{[]string{"bench", "soak", "--format", "xml"}, `--format: "xml"`},
		{[]string{"bench", "soak", "--max-goroutine-growth", "-1"}, "--max-goroutine-growth"},
		{[]string{"bench", "soak", "--max-rss-growth-mb", "-1"}, "--max-rss-growth-mb"},
		{[]string{"bench", "soak", "--max-heap-growth-mb", "-1"}, "--max-heap-growth-mb"},
		{[]string{"bench", "soak", "--scan-every", "0s"}, "--scan-every"},
		{[]string{"--database-url", "mysql://h/db", "bench", "soak"}, "--database-url"},
		{[]string{"bench", "soak", "extra"}, "unknown command"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, env{lookup: func(string) (string, bool) { return "", false }, stdout: &stdout, stderr: &stderr})
		if code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error with %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// runSoakCommand runs insure bench soak with args against bin and returns
// its JSON report and exit code.
func runSoakCommand(t *testing.T, bin string, args ...string) (soakReport, int, string) {
	t.Helper()
	args = append(append([]string{"bench", "soak"}, args...), "--server-binary", bin, "--format", "json")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, env{lookup: func(string) (string, bool) { return "", false }, stdout: &stdout, stderr: &stderr})
	var rep soakReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d, %v: %s\nstderr: %s", code, err, stdout.String(), stderr.String())
	}
	return rep, code, stderr.String()
}

// TestSoakCommand runs a soak of a few seconds against a real serve and
// checks the report's shape.
func TestSoakCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs insure serve under load")
	}
	t.Parallel()
	bin := buildInsure(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"sqlite", nil},
		{"postgres", []string{"--database-url", dbtest.PostgresURL()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, code, stderr := runSoakCommand(t, bin, append([]string{"--duration", "4s", "--interval", "500ms", "--rate", "25", "--scan-every", "1s"}, tc.args...)...)
			if code != 0 || !rep.Verdict.Pass {
				t.Fatalf("exit %d, verdict %+v\nstderr: %s", code, rep.Verdict, stderr)
			}
			if rep.Database != tc.name || rep.Rate != 25 || rep.Machine.CPUs <= 0 || rep.LoadAverage == "" || rep.LoadAverageEnd == "" || !strings.Contains(rep.Command, "bench soak --duration 4s") {
				t.Errorf("report header: %+v", rep)
			}
			if rep.Idle.RSSMB <= 0 || rep.Idle.Goroutines <= 0 || rep.Idle.ScrapeError != "" {
				t.Errorf("idle sample: %+v", rep.Idle)
			}
			if n := len(rep.Samples); n < 6 || n > 10 {
				t.Fatalf("%d samples over 4 s at 500 ms", n)
			}
			var sum uint64
			for i, s := range rep.Samples {
				sum += s.Total
				if s.Total == 0 || s.RSSMB <= 0 || s.Goroutines <= 0 || s.HeapInuseMB <= 0 || s.Backlog < 0 || s.ScrapeError != "" ||
					s.P99Ms < s.P50Ms || s.P50Ms <= 0 {
					t.Errorf("sample %d: %+v", i, s)
				}
				if i > 0 && s.ElapsedS <= rep.Samples[i-1].ElapsedS {
					t.Errorf("sample %d at %vs, after %vs", i, s.ElapsedS, rep.Samples[i-1].ElapsedS)
				}
			}
			if sum != rep.Total || rep.Total < 80 || rep.Errors != 0 {
				t.Errorf("samples add up to %d requests, the total is %d (%d errors); 25/s for 4 s is 100", sum, rep.Total, rep.Errors)
			}
			// Registrations, quotations for them and reads always happen in 4 s;
			// scans every second. Policies need a generated quotation first.
			for _, k := range []string{soakRegister, soakQuote, soakQuoteGet, soakRead, soakScan} {
				if rep.Requests[k] == 0 {
					t.Errorf("no %s requests: %v", k, rep.Requests)
				}
			}
			if st := rep.Settled; st == nil || st.Goroutines <= 0 || st.ScrapeError != "" {
				t.Errorf("settled sample: %+v", rep.Settled)
			}
			if v := rep.Verdict; v.BaselineGoroutines <= 0 || v.IdleGoroutines != rep.Idle.Goroutines || v.EndRSSMB <= 0 ||
				v.MaxGoroutineGrowth != soakDefaultGoroutines || v.GoroutineGrowth != rep.Settled.Goroutines-rep.Idle.Goroutines {
				t.Errorf("verdict: %+v", v)
			}
			var table bytes.Buffer
			if err := writeSoak(&table, "table", &rep); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"t (s)  reg  quote  quote_get", "idle", "settled", "verdict: pass"} {
				if !strings.Contains(table.String(), want) {
					t.Errorf("the table has no %q:\n%s", want, table.String())
				}
			}
		})
	}
}

// TestSoakShort is the CI soak: a minute (INSURE_SOAK overrides) of the
// default mixed load against a real serve on SQLite, which must pass the
// default bounds. It runs when CI=true (as .ci/run sets) or INSURE_SOAK is
// set, so that quick local runs skip it.
func TestSoakShort(t *testing.T) {
	d := os.Getenv("INSURE_SOAK")
	if d == "" && os.Getenv("CI") != "true" {
		t.Skip("set INSURE_SOAK=60s (or CI=true) to run the soak")
	}
	if d == "" {
		d = "60s"
	}
	if _, err := time.ParseDuration(d); err != nil {
		t.Fatalf("INSURE_SOAK=%q: %v", d, err)
	}
	t.Parallel()
	bin := buildInsure(t)
	rep, code, stderr := runSoakCommand(t, bin, "--duration", d)
	var table bytes.Buffer
	_ = writeSoak(&table, "table", &rep)
	t.Logf("%s", table.String())
	if code != 0 || !rep.Verdict.Pass {
		t.Fatalf("soak failed (exit %d): %q\nstderr: %s", code, rep.Verdict.Failures, stderr)
	}
	if rep.Requests[soakPolicy] == 0 {
		t.Errorf("the soak bought no policies: %v", rep.Requests)
	}
}
