package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The request kinds of a soak, in report order.
const (
	soakRegister = "register"  // POST /api/v1/customers
	soakQuote    = "quote"     // POST /api/v1/quotations
	soakQuoteGet = "quote_get" // GET /api/v1/quotations/{id}, until generated
	soakPolicy   = "policy"    // POST /api/v1/policies from a generated quote
	soakRead     = "read"      // GET lists and single resources
	soakScan     = "scan"      // POST /api/v1/policies/expiry-scan
)

var soakKinds = []string{soakRegister, soakQuote, soakQuoteGet, soakPolicy, soakRead, soakScan}

// soakMix is the cycle of request kinds the soak sends, 20 long: 4
// registrations, 3 quotations, 3 quotation reads, 2 policies, 8 reads.
// A kind without what it needs yet (a customer to quote, a quotation to
// read, a generated quote to buy) is sent as the read or registration it
// falls back to.
var soakMix = []string{
	soakRegister, soakRead, soakQuote, soakRead, soakQuoteGet, soakRegister, soakPolicy, soakRead, soakQuote, soakQuoteGet,
	soakRegister, soakRead, soakQuote, soakRead, soakQuoteGet, soakRegister, soakPolicy, soakRead, soakRead, soakRead,
}

// Soak defaults and limits. The bounds are those of a 60 s soak on SQLite
// at the default rate (see README, "Soak").
const (
	soakDefaultRate           = 30
	soakDefaultInterval       = 5 * time.Second
	soakDefaultGoroutines     = 50
	soakDefaultRSSGrowthMB    = 64
	soakDefaultHeapGrowthMB   = 16
	soakDefaultBacklogGrowth  = 500
	soakDefaultScanEvery      = 15 * time.Second
	soakMaxDuration           = 24 * time.Hour
	soakMaxErrorRate          = 0.01
	soakMinSamples            = 4
	soakMaxWorkers            = 64
	soakCustomersKept         = 2000
	soakPendingQuotationsKept = 2000
)

// soakOptions are insure bench soak's flags, checked.
type soakOptions struct {
	duration, interval time.Duration
	rate               int
	format             string
	maxGoroutineGrowth float64
	maxRSSGrowthMB     float64
	maxHeapGrowthMB    float64
	maxBacklogGrowth   float64
	scanEvery          time.Duration
	serverBinary       string
	databaseURL        string
	tokens             int
}

func newBenchSoakCmd(e env, g *globals) *cobra.Command {
	var o soakOptions
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Run steady mixed load against `insure serve` and fail on goroutine or memory growth",
		Long: "Starts `insure serve` (with its workers) as a child process on a fresh database — a temporary SQLite file, or a new\n" +
			"schema with --database-url postgres://… — and sends it --rate requests a second for --duration: registrations,\n" +
			"quotations for registered customers, their reads until generated, policies bought from generated quotes, list and\n" +
			"single reads, and an expiry scan every --scan-every. Every --interval it samples the window's requests by kind,\n" +
			"errors and p50/p99 latency, serve's RSS (/proc), goroutines and heap in use (GET /metrics) and the listener backlog\n" +
			"(insure_queue_jobs available+running+retryable+pending).\n\n" +
			"Verdict: the median of three samples after the first 20% of the run is the baseline, the median of the last three\n" +
			"the end. It fails (exit 1) when\n" +
			"  - goroutines grew by more than --max-goroutine-growth, counted before the load and after it (its connections\n" +
			"    closed, the backlog drained), since the requests and jobs in flight inflate the count under load;\n" +
			"  - RSS grew from the baseline to the end by more than --max-rss-growth-mb;\n" +
			"  - the Go heap in use grew from the baseline to the end by more than --max-heap-growth-mb;\n" +
			"  - more than 1% of the requests failed.\n" +
			"A backlog that grew by more than --max-backlog-growth is a warning: the listeners do not keep up at this --rate\n" +
			"(a capacity limit; the jobs wait in the database, not in memory).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.databaseURL = g.databaseURL
			if err := o.check(); err != nil {
				return err
			}
			rep, err := runSoak(cmd.Context(), o, e.stderr)
			if err != nil {
				return err
			}
			rep.Command = "insure " + strings.Join(benchArgs(cmd), " ")
			if err := writeSoak(e.stdout, o.format, rep); err != nil {
				return err
			}
			if !rep.Verdict.Pass {
				return fmt.Errorf("soak failed: %s", strings.Join(rep.Verdict.Failures, "; "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.duration, "duration", time.Minute, "how long the load runs")
	f.IntVar(&o.rate, "rate", soakDefaultRate, "requests per second, all kinds together")
	f.DurationVar(&o.interval, "interval", soakDefaultInterval, "how often to sample")
	f.StringVar(&o.format, "format", "table", "output: table or json")
	f.Float64Var(&o.maxGoroutineGrowth, "max-goroutine-growth", soakDefaultGoroutines, "fail when serve's goroutines grow by more than this")
	f.Float64Var(&o.maxRSSGrowthMB, "max-rss-growth-mb", soakDefaultRSSGrowthMB, "fail when serve's RSS grows by more than this many MB")
	f.Float64Var(&o.maxHeapGrowthMB, "max-heap-growth-mb", soakDefaultHeapGrowthMB, "fail when serve's Go heap in use grows by more than this many MB")
	f.Float64Var(&o.maxBacklogGrowth, "max-backlog-growth", soakDefaultBacklogGrowth, "warn when the listener backlog grows by more than this many jobs")
	f.DurationVar(&o.scanEvery, "scan-every", soakDefaultScanEvery, "how often to send an expiry scan")
	f.StringVar(&o.serverBinary, "server-binary", "", "the insure binary to serve with (default: this one)")
	_ = f.MarkHidden("server-binary")
	f.IntVar(&o.tokens, "api-tokens", 0, "admin tokens to rotate over (default: enough for 4 requests a second each)")
	_ = f.MarkHidden("api-tokens")
	return cmd
}

func (o *soakOptions) check() error {
	switch {
	case o.duration <= 0 || o.duration > soakMaxDuration:
		return fmt.Errorf("--duration: %s is out of range; give more than 0 and at most %s", o.duration, soakMaxDuration)
	case o.rate <= 0 || o.rate > 10_000:
		return fmt.Errorf("--rate: %d is out of range; give 1 to 10000 requests a second", o.rate)
	case o.interval < 100*time.Millisecond:
		return fmt.Errorf("--interval: %s is too short; give at least 100ms", o.interval)
	case o.duration < soakMinSamples*o.interval:
		return fmt.Errorf("--duration: %s gives fewer than %d samples at --interval %s; run longer or sample more often",
			o.duration, soakMinSamples, o.interval)
	case o.format != "table" && o.format != "json":
		return fmt.Errorf("--format: %q is not table or json", o.format)
	case o.maxGoroutineGrowth < 0:
		return fmt.Errorf("--max-goroutine-growth: %v is negative", o.maxGoroutineGrowth)
	case o.maxRSSGrowthMB < 0:
		return fmt.Errorf("--max-rss-growth-mb: %v is negative", o.maxRSSGrowthMB)
	case o.maxHeapGrowthMB < 0:
		return fmt.Errorf("--max-heap-growth-mb: %v is negative", o.maxHeapGrowthMB)
	case o.maxBacklogGrowth < 0:
		return fmt.Errorf("--max-backlog-growth: %v is negative", o.maxBacklogGrowth)
	case o.scanEvery <= 0:
		return fmt.Errorf("--scan-every: %s must be positive", o.scanEvery)
	case o.tokens < 0 || o.tokens > 100_000:
		return fmt.Errorf("--api-tokens: %d is out of range; give 1 to 100000", o.tokens)
	}
	if err := checkBenchDatabaseURL(o.databaseURL); err != nil {
		return err
	}
	if o.serverBinary != "" {
		if _, err := os.Stat(o.serverBinary); err != nil {
			return fmt.Errorf("--server-binary: %w", err)
		}
	}
	if o.tokens == 0 {
		// The API allows each token 600 requests a minute (10/s).
		o.tokens = max(4, (o.rate+3)/4)
	}
	return nil
}

// soakSample is one --interval window of a soak.
type soakSample struct {
	// ElapsedS is the end of the window, in seconds since the load started
	// (0 for the idle sample before it).
	ElapsedS float64 `json:"elapsed_s"`
	// Requests counts the window's requests by kind.
	Requests map[string]uint64 `json:"requests"`
	Total    uint64            `json:"total"`
	// Errors are the window's requests without a 2xx answer.
	Errors uint64 `json:"errors"`
	// Throughput is the window's 2xx answers a second.
	Throughput float64 `json:"throughput"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	// RSSMB is serve's VmRSS at the end of the window.
	RSSMB float64 `json:"rss_mb"`
	// Goroutines, HeapInuseMB and Backlog come from serve's GET /metrics
	// (go_goroutines, go_memstats_heap_inuse_bytes, and insure_queue_jobs
	// in the states available, running, retryable and pending); -1 when
	// the scrape failed.
	Goroutines  float64 `json:"goroutines"`
	HeapInuseMB float64 `json:"heap_inuse_mb"`
	Backlog     float64 `json:"backlog"`
	ScrapeError string  `json:"scrape_error,omitempty"`
}

// soakVerdict compares the end of a soak with its warmed-up baseline.
type soakVerdict struct {
	Pass               bool    `json:"pass"`
	BaselineAtS        float64 `json:"baseline_at_s"`
	BaselineGoroutines float64 `json:"baseline_goroutines"`
	// EndGoroutines is the median of the last samples under load;
	// SettledGoroutines serve's count after it (-1: no settled sample),
	// IdleGoroutines before it. The growth is settled's over idle's when
	// there are both (in-flight requests inflate the counts under load),
	// else the end's over the baseline's.
	IdleGoroutines     float64  `json:"idle_goroutines"`
	EndGoroutines      float64  `json:"end_goroutines"`
	SettledGoroutines  float64  `json:"settled_goroutines"`
	GoroutineGrowth    float64  `json:"goroutine_growth"`
	MaxGoroutineGrowth float64  `json:"max_goroutine_growth"`
	BaselineRSSMB      float64  `json:"baseline_rss_mb"`
	EndRSSMB           float64  `json:"end_rss_mb"`
	RSSGrowthMB        float64  `json:"rss_growth_mb"`
	MaxRSSGrowthMB     float64  `json:"max_rss_growth_mb"`
	BaselineHeapMB     float64  `json:"baseline_heap_inuse_mb"`
	EndHeapMB          float64  `json:"end_heap_inuse_mb"`
	HeapGrowthMB       float64  `json:"heap_growth_mb"`
	MaxHeapGrowthMB    float64  `json:"max_heap_growth_mb"`
	BaselineBacklog    float64  `json:"baseline_backlog"`
	EndBacklog         float64  `json:"end_backlog"`
	MaxBacklogGrowth   float64  `json:"max_backlog_growth"`
	ErrorRate          float64  `json:"error_rate"`
	Failures           []string `json:"failures,omitempty"`
	Warnings           []string `json:"warnings,omitempty"`
}

// soakReport is what insure bench soak prints.
type soakReport struct {
	Command   string       `json:"command"`
	Machine   benchMachine `json:"machine"`
	Database  string       `json:"database"`
	Rate      int          `json:"rate"`
	DurationS float64      `json:"duration_s"`
	IntervalS float64      `json:"interval_s"`
	// LoadAverage is the machine's 1, 5 and 15 minute load averages at the
	// start and at the end of the load (/proc/loadavg).
	LoadAverage    string `json:"load_average,omitempty"`
	LoadAverageEnd string `json:"load_average_end,omitempty"`
	// Idle is serve before the load, Samples one per --interval, Settled
	// serve after the load: its connections closed, its backlog drained
	// (ElapsedS counts from the end of the load).
	Idle    soakSample   `json:"idle"`
	Samples []soakSample `json:"samples"`
	Settled *soakSample  `json:"settled,omitempty"`
	// The whole run.
	Requests    map[string]uint64 `json:"requests"`
	Total       uint64            `json:"total"`
	Errors      uint64            `json:"errors"`
	Throughput  float64           `json:"throughput"`
	P50Ms       float64           `json:"p50_ms"`
	P99Ms       float64           `json:"p99_ms"`
	StatusCodes map[string]int    `json:"status_codes"`
	FirstError  string            `json:"first_error,omitempty"`
	PeakRSSMB   float64           `json:"peak_rss_mb"`
	Verdict     soakVerdict       `json:"verdict"`
}

// soakBounds are the verdict's limits: growths from the baseline to the
// end (goroutines: to settled) beyond which a soak fails, and the backlog
// growth beyond which it warns.
type soakBounds struct {
	goroutines, rssMB, heapMB, backlog float64
}

// soakMedian is the median of vs (the mean of the middle two for an even
// count); 0 for none.
func soakMedian(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// judgeSoak decides a soak's verdict from its samples: the baseline is the
// median of up to three samples from the end of the first 20% of the run,
// the end the median of the last three. Goroutines are compared between
// idle (before the load) and settled (after it) when both were scraped,
// else between the baseline and the end; memory and the backlog between
// the baseline and the end. Samples whose scrape failed count for RSS but not for the /metrics
// figures.
func judgeSoak(idle soakSample, samples []soakSample, settled *soakSample, b soakBounds) soakVerdict {
	v := soakVerdict{MaxGoroutineGrowth: b.goroutines, MaxRSSGrowthMB: b.rssMB, MaxHeapGrowthMB: b.heapMB, MaxBacklogGrowth: b.backlog,
		IdleGoroutines: idle.Goroutines, SettledGoroutines: -1}
	if len(samples) < soakMinSamples {
		v.Failures = append(v.Failures, fmt.Sprintf("only %d samples, at least %d are needed: run longer or sample more often",
			len(samples), soakMinSamples))
		return v
	}
	var total, errs uint64
	for _, s := range samples {
		total += s.Total
		errs += s.Errors
	}
	if total == 0 {
		v.Failures = append(v.Failures, "no requests were sent")
		return v
	}
	v.ErrorRate = float64(errs) / float64(total)

	w := len(samples) / 5
	base := samples[w:min(w+3, len(samples))]
	end := samples[max(len(samples)-3, 0):]
	v.BaselineAtS = base[0].ElapsedS
	pick := func(ss []soakSample, f func(soakSample) float64, scraped bool) float64 {
		var vs []float64
		for _, s := range ss {
			if scraped && s.ScrapeError != "" {
				continue
			}
			vs = append(vs, f(s))
		}
		return soakMedian(vs)
	}
	gor := func(s soakSample) float64 { return s.Goroutines }
	v.BaselineGoroutines, v.EndGoroutines = pick(base, gor, true), pick(end, gor, true)
	v.GoroutineGrowth = v.EndGoroutines - v.BaselineGoroutines
	from, after := fmt.Sprintf("%.0f at %.0fs", v.BaselineGoroutines, v.BaselineAtS), fmt.Sprintf("%.0f at the end of the load", v.EndGoroutines)
	if settled != nil && settled.ScrapeError == "" {
		v.SettledGoroutines = settled.Goroutines
		if idle.ScrapeError == "" && idle.Goroutines > 0 {
			// Both without load: no in-flight requests in either count.
			v.GoroutineGrowth = v.SettledGoroutines - idle.Goroutines
			from = fmt.Sprintf("%.0f before the load", idle.Goroutines)
		} else {
			v.GoroutineGrowth = v.SettledGoroutines - v.BaselineGoroutines
		}
		after = fmt.Sprintf("%.0f after it settled", v.SettledGoroutines)
	}
	rss := func(s soakSample) float64 { return s.RSSMB }
	v.BaselineRSSMB, v.EndRSSMB = pick(base, rss, false), pick(end, rss, false)
	v.RSSGrowthMB = v.EndRSSMB - v.BaselineRSSMB
	heap := func(s soakSample) float64 { return s.HeapInuseMB }
	v.BaselineHeapMB, v.EndHeapMB = pick(base, heap, true), pick(end, heap, true)
	v.HeapGrowthMB = v.EndHeapMB - v.BaselineHeapMB
	backlog := func(s soakSample) float64 { return s.Backlog }
	v.BaselineBacklog, v.EndBacklog = pick(base, backlog, true), pick(end, backlog, true)

	scraped := 0
	for _, s := range append(slices.Clone(base), end...) {
		if s.ScrapeError == "" {
			scraped++
		}
	}
	if scraped < 2 {
		v.Failures = append(v.Failures, "serve's GET /metrics failed at the baseline or the end; goroutines cannot be compared")
	} else if v.GoroutineGrowth > b.goroutines {
		v.Failures = append(v.Failures, fmt.Sprintf("goroutines grew by %.0f (%s → %s), more than --max-goroutine-growth %.0f: a goroutine leak",
			v.GoroutineGrowth, from, after, b.goroutines))
	}
	if scraped >= 2 && v.HeapGrowthMB > b.heapMB {
		v.Failures = append(v.Failures, fmt.Sprintf("the Go heap in use grew by %.1f MB (%.1f MB at %.0fs → %.1f MB at the end), more than --max-heap-growth-mb %.0f: memory is leaking",
			v.HeapGrowthMB, v.BaselineHeapMB, v.BaselineAtS, v.EndHeapMB, b.heapMB))
	}
	if v.RSSGrowthMB > b.rssMB {
		v.Failures = append(v.Failures, fmt.Sprintf("RSS grew by %.1f MB (%.1f MB at %.0fs → %.1f MB at the end), more than --max-rss-growth-mb %.0f: memory is leaking or unbounded",
			v.RSSGrowthMB, v.BaselineRSSMB, v.BaselineAtS, v.EndRSSMB, b.rssMB))
	}
	if v.ErrorRate > soakMaxErrorRate {
		v.Failures = append(v.Failures, fmt.Sprintf("%d of %d requests (%.1f%%) failed, more than %.0f%%: see status_codes and first_error",
			errs, total, 100*v.ErrorRate, 100*soakMaxErrorRate))
	}
	if g := v.EndBacklog - v.BaselineBacklog; scraped >= 2 && g > b.backlog {
		v.Warnings = append(v.Warnings, fmt.Sprintf("the listener backlog grew by %.0f jobs (%.0f → %.0f), more than --max-backlog-growth %.0f: the listeners do not keep up at this --rate",
			g, v.BaselineBacklog, v.EndBacklog, b.backlog))
	}
	v.Pass = len(v.Failures) == 0
	return v
}

// soakState is what the load learns from the answers: customers to quote,
// quotations to read until generated, generated quotes to buy, policies
// to read.
type soakState struct {
	mu         sync.Mutex
	customers  []string
	pending    []string // quotation ids not yet generated
	buyable    []soakBuy
	policies   []string
	lastScan   time.Time
	scanEvery  time.Duration
	registered atomic.Int64
}

type soakBuy struct {
	CustomerID, QuotationID, Insurer, Product, Currency string
	Premium, SumInsured                                 int64
}

// keep appends v to s, dropping the oldest beyond n.
func keep[T any](s []T, v T, n int) []T {
	s = append(s, v)
	if len(s) > n {
		s = slices.Delete(s, 0, len(s)-n)
	}
	return s
}

// next chooses the request for sequence number i.
func (st *soakState) next(i int64, base string, t *vegeta.Target) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := time.Now()
	if st.lastScan.IsZero() {
		st.lastScan = now
	}
	if now.Sub(st.lastScan) >= st.scanEvery {
		st.lastScan = now
		t.Method, t.URL, t.Body = http.MethodPost, base+"/api/v1/policies/expiry-scan", []byte(`{}`)
		return
	}
	kind := soakMix[int(i)%len(soakMix)]
	switch {
	case kind == soakQuote && len(st.customers) == 0,
		kind == soakQuoteGet && len(st.pending) == 0 && len(st.customers) == 0:
		kind = soakRegister
	case kind == soakQuoteGet && len(st.pending) == 0,
		kind == soakPolicy && len(st.buyable) == 0:
		kind = soakRead
	}
	switch kind {
	case soakRegister:
		n := st.registered.Add(1)
		t.Method, t.URL = http.MethodPost, base+"/api/v1/customers"
		t.Body = fmt.Appendf(nil, `{"name":"Soak Customer","email":"soak%d@example.com","phone":"97%08d","channel":"web"}`, n, n)
	case soakQuote:
		c := st.customers[int(i)/len(soakMix)%len(st.customers)]
		t.Method, t.URL = http.MethodPost, base+"/api/v1/quotations"
		if i%2 == 0 {
			t.Body = fmt.Appendf(nil, `{"customer_id":%q,"product":"motor","sum_insured":50000000,"details":{"vehicle_make":"Maruti","vehicle_model":"Swift","vehicle_year":2021,"ncb_percent":20}}`, c)
		} else {
			t.Body = fmt.Appendf(nil, `{"customer_id":%q,"product":"health","sum_insured":1000000,"details":{"age":40,"members":3}}`, c)
		}
	case soakQuoteGet:
		id := st.pending[0]
		st.pending = st.pending[1:]
		t.Method, t.URL, t.Body = http.MethodGet, base+"/api/v1/quotations/"+id, nil
	case soakPolicy:
		q := st.buyable[0]
		st.buyable = st.buyable[1:]
		start := time.Now().UTC()
		end := start.AddDate(1, 0, -1)
		if i%3 == 0 {
			// Near its end, so expiry scans have something to warn about.
			end = start.AddDate(0, 0, 20)
		}
		t.Method, t.URL = http.MethodPost, base+"/api/v1/policies"
		t.Body = fmt.Appendf(nil, `{"customer_id":%q,"quotation_id":%q,"insurer":%q,"product":%q,"premium":%d,"sum_insured":%d,"currency":%q,"start_date":%q,"end_date":%q}`,
			q.CustomerID, q.QuotationID, q.Insurer, q.Product, q.Premium, q.SumInsured, q.Currency, start.Format(time.DateOnly), end.Format(time.DateOnly))
	default:
		t.Method, t.Body = http.MethodGet, nil
		switch j := int(i) / len(soakMix) % 6; {
		case j == 0 && len(st.customers) > 0:
			t.URL = base + "/api/v1/customers/" + st.customers[int(i)%len(st.customers)]
		case j == 1 && len(st.policies) > 0:
			t.URL = base + "/api/v1/policies/" + st.policies[int(i)%len(st.policies)]
		case j == 2:
			t.URL = base + "/api/v1/policies?expiring_within_days=30&limit=20"
		case j == 3:
			t.URL = base + "/api/v1/messages?limit=20"
		case j == 4:
			t.URL = base + "/api/v1/events?limit=50"
		default:
			t.URL = base + "/api/v1/customers?limit=20"
		}
	}
}

// soakKind names the kind of a request from its method and URL.
func soakKind(method, rawURL string) string {
	path, _, _ := strings.Cut(rawURL, "?")
	switch {
	case method == http.MethodPost && strings.HasSuffix(path, "/api/v1/customers"):
		return soakRegister
	case method == http.MethodPost && strings.HasSuffix(path, "/api/v1/quotations"):
		return soakQuote
	case method == http.MethodGet && strings.Contains(path, "/api/v1/quotations/"):
		return soakQuoteGet
	case method == http.MethodPost && strings.HasSuffix(path, "/api/v1/policies"):
		return soakPolicy
	case method == http.MethodPost && strings.HasSuffix(path, "/expiry-scan"):
		return soakScan
	}
	return soakRead
}

// learn takes what the next requests need from a 2xx answer.
func (st *soakState) learn(kind string, body []byte) {
	switch kind {
	case soakRegister:
		var c struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(body, &c) == nil && c.ID != "" {
			st.mu.Lock()
			st.customers = keep(st.customers, c.ID, soakCustomersKept)
			st.mu.Unlock()
		}
	case soakQuote, soakQuoteGet:
		var q struct {
			ID         string `json:"id"`
			CustomerID string `json:"customer_id"`
			Product    string `json:"product"`
			Status     string `json:"status"`
			Quotes     []struct {
				Insurer    string `json:"insurer"`
				Premium    int64  `json:"premium"`
				SumInsured int64  `json:"sum_insured"`
				Currency   string `json:"currency"`
				Declined   bool   `json:"declined"`
			} `json:"quotes"`
		}
		if json.Unmarshal(body, &q) != nil || q.ID == "" {
			return
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		switch q.Status {
		case "requested":
			st.pending = keep(st.pending, q.ID, soakPendingQuotationsKept)
		case "generated":
			for _, x := range q.Quotes {
				if !x.Declined && x.Premium > 0 {
					st.buyable = keep(st.buyable, soakBuy{CustomerID: q.CustomerID, QuotationID: q.ID, Insurer: x.Insurer,
						Product: q.Product, Currency: x.Currency, Premium: x.Premium, SumInsured: x.SumInsured}, soakPendingQuotationsKept)
					break
				}
			}
		}
	case soakPolicy:
		var p struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(body, &p) == nil && p.ID != "" {
			st.mu.Lock()
			st.policies = keep(st.policies, p.ID, soakCustomersKept)
			st.mu.Unlock()
		}
	}
}

// soakWindow gathers the results of one --interval.
type soakWindow struct {
	requests  map[string]uint64
	total, ok uint64
	latencies []time.Duration
}

func newSoakWindow() *soakWindow { return &soakWindow{requests: map[string]uint64{}} }

func (w *soakWindow) add(kind string, code uint16, latency time.Duration) {
	w.requests[kind]++
	w.total++
	if code >= 200 && code < 300 {
		w.ok++
	}
	w.latencies = append(w.latencies, latency)
}

// quantile is the q-quantile of sorted latencies, in ms (nearest rank).
func quantileMs(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return msOf(sorted[i])
}

// soakSettleTimeout bounds the wait for serve to settle after the load;
// soakSettleWatch is how long it watches the goroutines once the backlog
// has drained.
const (
	soakSettleTimeout = 60 * time.Second
	soakSettleWatch   = 3 * time.Second
)

// settleServe closes the load's connections, waits until serve's backlog
// is back to idle's, then samples it every half second for
// soakSettleWatch and returns the sample with the fewest goroutines (a
// job or request finishing late is not a leak). After soakSettleTimeout
// it returns what it has.
func settleServe(ctx context.Context, client *http.Client, child *serveChild, tr *http.Transport, idle soakSample) *soakSample {
	tr.CloseIdleConnections()
	start := time.Now()
	var best *soakSample
	var drained time.Time
	for {
		s := soakSample{Requests: map[string]uint64{}}
		serveStats(ctx, client, child.base, child.pid, &s)
		s.ElapsedS = time.Since(start).Round(time.Millisecond).Seconds()
		if s.ScrapeError == "" && s.Backlog <= idle.Backlog {
			if drained.IsZero() {
				drained = time.Now()
			}
			if best == nil || s.Goroutines < best.Goroutines {
				best = &s
			}
			if time.Since(drained) >= soakSettleWatch {
				return best
			}
		}
		if time.Since(start) >= soakSettleTimeout || ctx.Err() != nil {
			if best == nil {
				best = &s
			}
			return best
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// serveStats reads serve's RSS from /proc and its goroutines, heap and
// backlog from GET /metrics into s.
func serveStats(ctx context.Context, client *http.Client, base string, pid int, s *soakSample) {
	if kb, err := procField("/proc/"+strconv.Itoa(pid)+"/status", "VmRSS:"); err == nil {
		s.RSSMB = float64(kb) / 1024
	}
	s.Goroutines, s.HeapInuseMB, s.Backlog = -1, -1, -1
	if err := scrapeServe(ctx, client, base, s); err != nil {
		s.ScrapeError = err.Error()
	}
}

func scrapeServe(ctx context.Context, client *http.Client, base string, s *soakSample) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return err
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /metrics: %s", res.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		return fmt.Errorf("parse /metrics: %w", err)
	}
	gauge := func(name string) (float64, error) {
		f, ok := fams[name]
		if !ok || len(f.GetMetric()) == 0 {
			return 0, fmt.Errorf("GET /metrics has no %s", name)
		}
		return f.GetMetric()[0].GetGauge().GetValue(), nil
	}
	if s.Goroutines, err = gauge("go_goroutines"); err != nil {
		return err
	}
	heap, err := gauge("go_memstats_heap_inuse_bytes")
	if err != nil {
		return err
	}
	s.HeapInuseMB = heap / (1 << 20)
	f, ok := fams["insure_queue_jobs"]
	if !ok {
		return errors.New("GET /metrics has no insure_queue_jobs")
	}
	s.Backlog = 0
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "state" && l.GetValue() != "scheduled" {
				s.Backlog += m.GetGauge().GetValue()
			}
		}
	}
	return nil
}

func runSoak(ctx context.Context, o soakOptions, log io.Writer) (*soakReport, error) {
	bin := o.serverBinary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find the insure binary: %w", err)
		}
	}
	b, err := newBenchDB("insure-soak-", o.databaseURL)
	if err != nil {
		return nil, err
	}
	defer b.close(log)
	dbURL, err := b.fresh(ctx, "soak")
	if err != nil {
		return nil, err
	}
	tokens, err := benchTokens(ctx, b, dbURL, o.tokens)
	if err != nil {
		return nil, fmt.Errorf("create tokens: %w", err)
	}
	child, err := startServeChild(ctx, b, bin, dbURL, "soak")
	if err != nil {
		return nil, err
	}
	defer child.stop()
	rep := &soakReport{Machine: machineInfo(), Database: b.kind(), Rate: o.rate, DurationS: o.duration.Seconds(),
		IntervalS: o.interval.Seconds(), Requests: map[string]uint64{}, StatusCodes: map[string]int{}}
	rep.LoadAverage = loadAverage()
	scrape := &http.Client{Timeout: 10 * time.Second}
	// Let start-up work (the first expiry scan, River's leadership) settle.
	time.Sleep(time.Second)
	rep.Idle = soakSample{Requests: map[string]uint64{}}
	serveStats(ctx, scrape, child.base, child.pid, &rep.Idle)
	fmt.Fprintf(log, "soak: %d req/s for %s on %s, sampling every %s (serve pid %d, idle RSS %.1f MB, %0.f goroutines)\n",
		o.rate, o.duration, b.kind(), o.interval, child.pid, rep.Idle.RSSMB, rep.Idle.Goroutines)

	hdrs := make([]http.Header, len(tokens))
	for i, tk := range tokens {
		hdrs[i] = http.Header{"Authorization": {"Bearer " + tk}, "Content-Type": {"application/json"}}
	}
	st := &soakState{scanEvery: o.scanEvery}
	var seq atomic.Int64
	targeter := func(t *vegeta.Target) error {
		i := seq.Add(1)
		st.next(i, child.base, t)
		t.Header = hdrs[int(i)%len(hdrs)]
		return nil
	}
	// The load's own transport, so that its idle connections (each a
	// goroutine in serve) can be closed before the settled sample.
	tr := &http.Transport{DialContext: (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: soakMaxWorkers, MaxConnsPerHost: soakMaxWorkers}
	defer tr.CloseIdleConnections()
	a := vegeta.NewAttacker(vegeta.Client(&http.Client{Transport: tr, Timeout: 30 * time.Second}),
		vegeta.Workers(8), vegeta.MaxWorkers(soakMaxWorkers))

	var (
		mu     sync.Mutex
		window = newSoakWindow()
		all    []time.Duration
		ok     uint64
	)
	start := time.Now()
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	sample := func() {
		mu.Lock()
		w := window
		window = newSoakWindow()
		mu.Unlock()
		elapsed := time.Since(start)
		s := soakSample{ElapsedS: elapsed.Round(time.Millisecond).Seconds(), Requests: w.requests, Total: w.total, Errors: w.total - w.ok}
		slices.Sort(w.latencies)
		s.P50Ms, s.P99Ms = quantileMs(w.latencies, 0.50), quantileMs(w.latencies, 0.99)
		if n := len(rep.Samples); n > 0 {
			if d := elapsed.Seconds() - rep.Samples[n-1].ElapsedS; d > 0 {
				s.Throughput = float64(w.ok) / d
			}
		} else if elapsed > 0 {
			s.Throughput = float64(w.ok) / elapsed.Seconds()
		}
		serveStats(ctx, scrape, child.base, child.pid, &s)
		rep.Samples = append(rep.Samples, s)
		if o.format == "table" {
			fmt.Fprintf(log, "soak: %6.0fs %5.1f req/s, %d errors, p50 %.1f ms, p99 %.1f ms, RSS %.1f MB, %0.f goroutines, backlog %.0f\n",
				s.ElapsedS, s.Throughput, s.Errors, s.P50Ms, s.P99Ms, s.RSSMB, s.Goroutines, s.Backlog)
		}
	}
	go func() {
		defer close(sampled)
		tick := time.NewTicker(o.interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				sample()
			case <-stopSampling:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	results := a.Attack(targeter, vegeta.Rate{Freq: o.rate, Per: time.Second}, o.duration, "soak")
	attackDone := make(chan struct{})
	defer close(attackDone)
	go func() {
		select {
		case <-ctx.Done():
			a.Stop()
		case <-attackDone:
		}
	}()
	for r := range results {
		kind := soakKind(r.Method, r.URL)
		code := strconv.Itoa(int(r.Code))
		mu.Lock()
		window.add(kind, r.Code, r.Latency)
		rep.Requests[kind]++
		rep.Total++
		rep.StatusCodes[code]++
		all = append(all, r.Latency)
		if r.Code >= 200 && r.Code < 300 {
			ok++
		} else if rep.FirstError == "" {
			rep.FirstError = fmt.Sprintf("%s %s: %s %s %.200s", r.Method, r.URL, code, r.Error, r.Body)
		}
		mu.Unlock()
		if r.Code >= 200 && r.Code < 300 {
			st.learn(kind, r.Body)
		}
	}
	close(stopSampling)
	<-sampled
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The last, partial window: a sample of its own when the load ran at
	// least half an interval in it, else its requests (answers to those
	// still in flight when the load ended) go to the last sample.
	if n := len(rep.Samples); n == 0 || o.duration.Seconds()-rep.Samples[n-1].ElapsedS >= o.interval.Seconds()/2 {
		sample()
	} else {
		last := &rep.Samples[n-1]
		for k, c := range window.requests {
			last.Requests[k] += c
		}
		last.Total += window.total
		last.Errors += window.total - window.ok
	}
	rep.LoadAverageEnd = loadAverage()
	rep.Errors = rep.Total - ok
	if d := time.Since(start).Seconds(); d > 0 {
		rep.Throughput = float64(ok) / d
	}
	slices.Sort(all)
	rep.P50Ms, rep.P99Ms = quantileMs(all, 0.50), quantileMs(all, 0.99)
	if kb, err := procField("/proc/"+strconv.Itoa(child.pid)+"/status", "VmHWM:"); err == nil {
		rep.PeakRSSMB = float64(kb) / 1024
	}
	rep.Settled = settleServe(ctx, scrape, child, tr, rep.Idle)
	rep.Verdict = judgeSoak(rep.Idle, rep.Samples, rep.Settled, soakBounds{goroutines: o.maxGoroutineGrowth, rssMB: o.maxRSSGrowthMB,
		heapMB: o.maxHeapGrowthMB, backlog: o.maxBacklogGrowth})
	return rep, nil
}

// loadAverage is the 1, 5 and 15 minute load averages of /proc/loadavg,
// or "" where there is none.
func loadAverage() string {
	la, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(la)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

func writeSoak(w io.Writer, format string, rep *soakReport) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	m := rep.Machine
	fmt.Fprintf(w, "%s\n%s/%s, %d CPUs, %d MB, %s, database %s, load average %s at the start, %s at the end\n\n", rep.Command,
		m.GOOS, m.GOARCH, m.CPUs, m.MemoryMB, m.GoVersion, rep.Database, rep.LoadAverage, rep.LoadAverageEnd)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "t (s)\treg\tquote\tquote_get\tpolicy\tread\tscan\terrors\t2xx/s\tp50 ms\tp99 ms\tRSS MB\theap MB\tgoroutines\tbacklog\t")
	row := func(label string, s soakSample) {
		fmt.Fprintf(tw, "%s\t", label)
		for _, k := range soakKinds {
			fmt.Fprintf(tw, "%d\t", s.Requests[k])
		}
		fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.0f\t%.0f\t\n", s.Errors, s.Throughput, s.P50Ms, s.P99Ms, s.RSSMB,
			s.HeapInuseMB, s.Goroutines, s.Backlog)
	}
	row("idle", rep.Idle)
	for _, s := range rep.Samples {
		row(strconv.FormatFloat(s.ElapsedS, 'f', 0, 64), s)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	v := rep.Verdict
	fmt.Fprintf(w, "\n%d requests (", rep.Total)
	for i, k := range soakKinds {
		if i > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprintf(w, "%s %d", k, rep.Requests[k])
	}
	fmt.Fprintf(w, "), %d errors; %.1f 2xx/s; p50 %.1f ms, p99 %.1f ms; peak RSS %.1f MB\n", rep.Errors, rep.Throughput, rep.P50Ms, rep.P99Ms, rep.PeakRSSMB)
	if rep.FirstError != "" {
		fmt.Fprintf(w, "first error: %s\n", rep.FirstError)
	}
	if st := rep.Settled; st != nil {
		fmt.Fprintf(w, "settled %.0fs after the load (connections closed): %.0f goroutines, backlog %.0f, RSS %.1f MB, heap in use %.1f MB\n",
			st.ElapsedS, st.Goroutines, st.Backlog, st.RSSMB, st.HeapInuseMB)
	}
	fmt.Fprintf(w, "goroutines %.0f idle, %.0f at the baseline (%.0fs), %.0f at the end of the load, %.0f settled (growth %+.0f, bound %.0f)\n",
		v.IdleGoroutines, v.BaselineGoroutines, v.BaselineAtS, v.EndGoroutines, v.SettledGoroutines, v.GoroutineGrowth, v.MaxGoroutineGrowth)
	fmt.Fprintf(w, "baseline at %.0fs → end: RSS %.1f → %.1f MB (%+.1f, bound %.0f); heap in use %.1f → %.1f MB (%+.1f, bound %.0f); backlog %.0f → %.0f\n",
		v.BaselineAtS, v.BaselineRSSMB, v.EndRSSMB,
		v.RSSGrowthMB, v.MaxRSSGrowthMB, v.BaselineHeapMB, v.EndHeapMB, v.HeapGrowthMB, v.MaxHeapGrowthMB, v.BaselineBacklog, v.EndBacklog)
	for _, s := range v.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
	for _, s := range v.Failures {
		fmt.Fprintf(w, "FAIL: %s\n", s)
	}
	if v.Pass {
		fmt.Fprintln(w, "verdict: pass")
	} else {
		fmt.Fprintln(w, "verdict: FAIL")
	}
	return nil
}
