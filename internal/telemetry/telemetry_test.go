package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"insure/internal/app"
	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/httpapi"
	"insure/internal/queue"
	"insure/internal/recorder"
	"insure/internal/telemetry"
)

// Telemetry is every observer insure has.
var (
	_ app.CommandObserver     = (*telemetry.Telemetry)(nil)
	_ httpapi.RequestObserver = (*telemetry.Telemetry)(nil)
	_ recorder.Observer       = (*telemetry.Telemetry)(nil)
	_ queue.JobObserver       = (*telemetry.Telemetry)(nil)
)

func setup(t *testing.T, cfg telemetry.Config) *telemetry.Telemetry {
	t.Helper()
	tel, err := telemetry.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel
}

// scrape serves GET /metrics from tel and parses it.
func scrape(t *testing.T, tel *telemetry.Telemetry) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	tel.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", w.Code, w.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return fams
}

// series returns the value of the series of family name whose labels are
// exactly labels ("k=v" pairs), and whether there is one. Counters and
// gauges give their value, histograms their sample count.
func series(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	want := strings.Join(labels, ",")
	for _, m := range f.GetMetric() {
		var got []string
		for _, l := range m.GetLabel() {
			got = append(got, l.GetName()+"="+l.GetValue())
		}
		if strings.Join(got, ",") != want {
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

func TestOutcome(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{apperr.Field("email", "is not an email address"), "invalid"},
		{fmt.Errorf("wrapped: %w", apperr.New(apperr.NotFound, "customer x not found")), "not_found"},
		{apperr.New(apperr.Conflict, "stale"), "conflict"},
		{apperr.New(apperr.Unavailable, "down"), "unavailable"},
		{apperr.New(apperr.TooManyRequests, "slow down"), "rate_limited"},
		{apperr.New(apperr.Code("Weird Code!"), "odd"), "error"},
		{errors.New("asha@example.com bounced"), "error"},
		{context.Canceled, "error"},
	} {
		if got := telemetry.Outcome(tt.err); got != tt.want {
			t.Errorf("Outcome(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestTraceParentRoundTrip(t *testing.T) {
	t.Parallel()
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	s := telemetry.FormatTraceParent(sc)
	if s != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("FormatTraceParent = %q", s)
	}
	back, ok := telemetry.ParseTraceParent(s)
	if !ok || back.TraceID() != sc.TraceID() || back.SpanID() != sc.SpanID() || back.TraceFlags() != sc.TraceFlags() || !back.IsRemote() {
		t.Fatalf("ParseTraceParent(%q) = %v, %v", s, back, ok)
	}
	unsampled := sc.WithTraceFlags(0)
	if got := telemetry.FormatTraceParent(unsampled); !strings.HasSuffix(got, "-00") {
		t.Fatalf("unsampled: %q", got)
	}
	if got := telemetry.FormatTraceParent(trace.SpanContext{}); got != "" {
		t.Fatalf("an invalid span context formats as %q, want empty", got)
	}
	for _, bad := range []string{
		"",
		"00",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // another version
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // the forbidden version
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero span id
		"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",    // not hex
		"00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",    // separators
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",    // flags
		"00-4bf92f3577b34da6a3ce929d0e0e47361-0f067aa0ba902b7-01",    // misplaced dash
		"00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // sign
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1\x00", // control
	} {
		if sc, ok := telemetry.ParseTraceParent(bad); ok || sc.IsValid() {
			t.Errorf("ParseTraceParent(%q) accepted it", bad)
		}
	}
}

// FuzzParseTraceParent: a stored traceparent is outside input. Parsing must
// never panic, and whatever it accepts formats back to itself.
func FuzzParseTraceParent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	f.Add("")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7")
	f.Fuzz(func(t *testing.T, s string) {
		sc, ok := telemetry.ParseTraceParent(s)
		if !ok {
			return
		}
		if back := telemetry.FormatTraceParent(sc); back != s {
			t.Fatalf("ParseTraceParent accepted %q, which formats back as %q", s, back)
		}
	})
}

// fakeSources are Sources with settable answers.
type fakeSources struct {
	mu          sync.Mutex
	depthsErr   error
	deadErr     error
	projections []telemetry.ProjectionSample
	block       bool
}

func (f *fakeSources) sources() telemetry.Sources {
	return telemetry.Sources{
		QueueDepths: func(ctx context.Context) ([]telemetry.QueueDepthSample, error) {
			f.mu.Lock()
			err, block := f.depthsErr, f.block
			f.mu.Unlock()
			if block {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			if err != nil {
				return nil, err
			}
			return []telemetry.QueueDepthSample{{Queue: "normal", State: "available", Jobs: 3}, {Queue: "normal", State: "running", Jobs: 0},
				{Queue: "email-priority", State: "available", Jobs: 1}}, nil
		},
		QueueLags: func(context.Context) ([]telemetry.QueueLagSample, error) {
			return []telemetry.QueueLagSample{{Queue: "normal", Oldest: 2500 * time.Millisecond}, {Queue: "email-priority"}}, nil
		},
		DeadLetters: func(context.Context) (map[string]int64, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.deadErr != nil {
				return nil, f.deadErr
			}
			return map[string]int64{"SendWelcomeEmail": 2, "NotifyAdmin": 0}, nil
		},
		Projections: func(context.Context) ([]telemetry.ProjectionSample, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.projections, nil
		},
		Breakers: func() []telemetry.BreakerSample {
			return []telemetry.BreakerSample{{Provider: "email", State: "open"}, {Provider: "whatsapp", State: "closed"}}
		},
		Timeout: 200 * time.Millisecond,
	}
}

func TestCollector(t *testing.T) {
	t.Parallel()
	logs := &strings.Builder{}
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	tel := setup(t, telemetry.Config{Logger: logger})
	f := &fakeSources{projections: []telemetry.ProjectionSample{{Name: "customers", Position: 40, Lag: 2, Age: 1500 * time.Millisecond}}}
	if err := tel.Watch(f.sources()); err != nil {
		t.Fatal(err)
	}
	if err := tel.Watch(f.sources()); err == nil {
		t.Fatal("a second Watch succeeded")
	}

	fams := scrape(t, tel)
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"insure_queue_jobs", []string{"queue=normal", "state=available"}, 3},
		{"insure_queue_jobs", []string{"queue=normal", "state=running"}, 0},
		{"insure_queue_jobs", []string{"queue=email-priority", "state=available"}, 1},
		{"insure_queue_oldest_job_seconds", []string{"queue=normal"}, 2.5},
		{"insure_queue_oldest_job_seconds", []string{"queue=email-priority"}, 0},
		{"insure_dead_letters", []string{"listener=SendWelcomeEmail"}, 2},
		{"insure_dead_letters", []string{"listener=NotifyAdmin"}, 0},
		{"insure_projection_position", []string{"projection=customers"}, 40},
		{"insure_projection_lag_events", []string{"projection=customers"}, 2},
		{"insure_projection_lag_seconds", []string{"projection=customers"}, 1.5},
		{"insure_circuit_breaker_state", []string{"provider=email", "state=open"}, 1},
		{"insure_circuit_breaker_state", []string{"provider=email", "state=closed"}, 0},
		{"insure_circuit_breaker_state", []string{"provider=email", "state=half-open"}, 0},
		{"insure_circuit_breaker_state", []string{"provider=whatsapp", "state=closed"}, 1},
		{"insure_metrics_scrape_errors_total", []string{"source=queue_jobs"}, 0},
	} {
		got, ok := series(fams, tt.name, tt.labels...)
		if !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s is missing", name)
		}
	}

	t.Run("a failing source leaves its family out", func(t *testing.T) {
		f.mu.Lock()
		f.depthsErr = errors.New("database is locked")
		f.mu.Unlock()
		fams := scrape(t, tel)
		if _, ok := fams["insure_queue_jobs"]; ok {
			t.Error("insure_queue_jobs is exported although its source failed")
		}
		if _, ok := series(fams, "insure_dead_letters", "listener=SendWelcomeEmail"); !ok {
			t.Error("the other families went missing with it")
		}
		if n, _ := series(fams, "insure_metrics_scrape_errors_total", "source=queue_jobs"); n != 1 {
			t.Errorf("scrape errors = %v, want 1", n)
		}
		logMu.Lock()
		defer logMu.Unlock()
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "source=queue_jobs") {
			t.Errorf("no warning logged: %s", logs.String())
		}
	})

	t.Run("a slow source times out", func(t *testing.T) {
		f.mu.Lock()
		f.depthsErr, f.block = nil, true
		f.mu.Unlock()
		// The source blocks until its context ends: without the
		// timeout this scrape would never return.
		fams := scrape(t, tel)
		if _, ok := fams["insure_queue_jobs"]; ok {
			t.Error("insure_queue_jobs is exported although its source timed out")
		}
		if n, _ := series(fams, "insure_metrics_scrape_errors_total", "source=queue_jobs"); n != 2 {
			t.Errorf("scrape errors = %v, want 2", n)
		}
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestObserversCount drives each observer and checks its series.
func TestObserversCount(t *testing.T) {
	t.Parallel()
	tel := setup(t, telemetry.Config{})
	ctx := context.Background()

	_, end := tel.StartCommand(ctx, "RegisterCustomer")
	end(nil)
	_, end = tel.StartCommand(ctx, "RegisterCustomer")
	end(apperr.Field("email", "is not an email address"))

	r := httptest.NewRequest("FROB", "/api/v1/customers", nil)
	_, endReq := tel.StartRequest(ctx, r)
	endReq("FROB", "unmatched", 405)
	_, endReq = tel.StartRequest(ctx, httptest.NewRequest("GET", "/api/v1/customers/0190f2a8-6b2c-7d3e-9f00-0987654321ab", nil))
	endReq("GET", "/api/v1/customers/{id}", 200)

	tel.Committed([]event.Envelope{{EventName: "CustomerRegistered", AggregateType: "customer"}, {EventName: "CustomerRegistered", AggregateType: "customer"}})

	ev := &queue.JobEvent{}
	_, endJob := tel.StartJob(ctx, queue.JobInfo{Listener: "SendWelcomeEmail", Queue: "email-priority", Attempt: 1, FirstRun: true,
		InsertedAt: time.Now().Add(-2 * time.Second), Event: ev})
	endJob(queue.JobResult{Outcome: queue.OutcomeOK, Duration: 30 * time.Millisecond})
	_, endJob = tel.StartJob(ctx, queue.JobInfo{Listener: "SendWelcomeEmail", Queue: "email-priority", Attempt: 2, InsertedAt: time.Now(), Event: ev})
	endJob(queue.JobResult{Outcome: queue.OutcomeRetry, Err: errors.New("smtp down"), Duration: time.Millisecond})

	fams := scrape(t, tel)
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"insure_commands_total", []string{"command=RegisterCustomer", "outcome=ok"}, 1},
		{"insure_commands_total", []string{"command=RegisterCustomer", "outcome=invalid"}, 1},
		{"insure_command_duration_seconds", []string{"command=RegisterCustomer"}, 2},
		{"insure_http_requests_total", []string{"method=_OTHER", "route=unmatched", "status=405"}, 1},
		{"insure_http_requests_total", []string{"method=GET", "route=/api/v1/customers/{id}", "status=200"}, 1},
		{"insure_http_request_duration_seconds", []string{"method=GET", "route=/api/v1/customers/{id}"}, 1},
		{"insure_events_appended_total", []string{"aggregate_type=customer", "event_name=CustomerRegistered"}, 2},
		{"insure_listener_jobs_total", []string{"listener=SendWelcomeEmail", "outcome=ok", "queue=email-priority"}, 1},
		{"insure_listener_jobs_total", []string{"listener=SendWelcomeEmail", "outcome=retry", "queue=email-priority"}, 1},
		{"insure_listener_job_duration_seconds", []string{"listener=SendWelcomeEmail", "queue=email-priority"}, 2},
		// Only the first run waited.
		{"insure_listener_job_wait_seconds", []string{"listener=SendWelcomeEmail", "queue=email-priority"}, 1},
	} {
		got, ok := series(fams, tt.name, tt.labels...)
		if !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	wait := fams["insure_listener_job_wait_seconds"].GetMetric()[0].GetHistogram().GetSampleSum()
	if wait < 2 || wait > 60 {
		t.Errorf("wait observed %vs, want about 2s", wait)
	}
}

// TestNoTracing: without an endpoint, spans cost nothing and record
// nothing, but a caller's trace context still travels (into the events'
// metadata).
func TestNoTracing(t *testing.T) {
	t.Parallel()
	tel := setup(t, telemetry.Config{})
	if tel.Tracing() {
		t.Fatal("tracing is on without an endpoint")
	}
	ctx, end := tel.StartCommand(context.Background(), "RegisterCustomer")
	if trace.SpanFromContext(ctx).IsRecording() || tel.TraceParent(ctx) != "" {
		t.Fatal("a span without tracing")
	}
	end(nil)

	r := httptest.NewRequest("POST", "/api/v1/customers", nil)
	r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx, endReq := tel.StartRequest(context.Background(), r)
	if got := tel.TraceParent(ctx); got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("the caller's trace context did not travel: %q", got)
	}
	endReq("POST", "/api/v1/customers", 201)
}

func TestBadEndpoint(t *testing.T) {
	t.Parallel()
	for _, e := range []string{"127.0.0.1:4318", "ftp://collector:4318", "http://", "http://collector:4318/?x=1"} {
		if tel, err := telemetry.New(context.Background(), telemetry.Config{OTLPEndpoint: e}); err == nil {
			_ = tel.Shutdown(context.Background())
			t.Errorf("New accepted the endpoint %q", e)
		}
	}
}

// TestSpans checks the spans' names, kinds, parents, attributes and the
// listener's link, with an in-memory exporter.
func TestSpans(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tel := setup(t, telemetry.Config{SpanExporter: exp, ServiceName: "insure-test"})
	if !tel.Tracing() {
		t.Fatal("tracing is off with an exporter")
	}
	r := httptest.NewRequest("POST", "/api/v1/customers", nil)
	r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx, endReq := tel.StartRequest(context.Background(), r)
	cctx, endCmd := tel.StartCommand(ctx, "RegisterCustomer")
	actx, endAppend := tel.StartAppend(cctx)
	tp := tel.TraceParent(actx)
	endAppend([]event.Envelope{{Position: 7, EventID: event.NewID(), EventName: "CustomerRegistered", AggregateType: "customer", AggregateID: "c-1"}}, nil)
	endCmd(nil)
	endReq("POST", "/api/v1/customers", 201)

	ev := &queue.JobEvent{}
	jctx, endJob := tel.StartJob(context.Background(), queue.JobInfo{JobID: 9, Listener: "SendWelcomeEmail", Queue: "email-priority",
		EventID: "e-1", Attempt: 1, FirstRun: true, InsertedAt: time.Now(), Event: ev})
	*ev = queue.JobEvent{EventName: "CustomerRegistered", AggregateType: "customer", AggregateID: "c-1", CorrelationID: "corr-1", TraceParent: tp}
	if trace.SpanContextFromContext(jctx).TraceID() == trace.SpanContextFromContext(actx).TraceID() {
		t.Error("the listener's span continues the request's trace; it should start its own and link")
	}
	endJob(queue.JobResult{Outcome: queue.OutcomeDead, Err: errors.New("asha@example.com bounced")})

	spans := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		spans[s.Name] = s
	}
	httpSpan, cmd, app, job := spans["HTTP POST /api/v1/customers"], spans["command RegisterCustomer"], spans["eventstore.append"], spans["listener SendWelcomeEmail"]
	for name, s := range map[string]tracetest.SpanStub{"http": httpSpan, "command": cmd, "append": app, "listener": job} {
		if !s.SpanContext.IsValid() {
			t.Fatalf("no %s span among %d", name, len(spans))
		}
	}
	if httpSpan.SpanKind != trace.SpanKindServer || job.SpanKind != trace.SpanKindConsumer {
		t.Errorf("kinds: http %v, listener %v", httpSpan.SpanKind, job.SpanKind)
	}
	if httpSpan.Parent.SpanID().String() != "00f067aa0ba902b7" || httpSpan.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("the HTTP span does not continue the caller's trace: parent %v", httpSpan.Parent)
	}
	if cmd.Parent.SpanID() != httpSpan.SpanContext.SpanID() || app.Parent.SpanID() != cmd.SpanContext.SpanID() {
		t.Error("the command span is not the HTTP span's child, or the append span not the command's")
	}
	if tp != telemetry.FormatTraceParent(app.SpanContext) {
		t.Errorf("TraceParent %q is not the append span's", tp)
	}
	if len(job.Links) != 1 || job.Links[0].SpanContext.SpanID() != app.SpanContext.SpanID() {
		t.Errorf("listener links %v, want one to the append span", job.Links)
	}
	attrs := func(s tracetest.SpanStub) map[string]string {
		m := map[string]string{}
		for _, kv := range s.Attributes {
			m[string(kv.Key)] = kv.Value.String()
		}
		return m
	}
	want := map[string]string{"http.request.method": "POST", "http.route": "/api/v1/customers", "http.response.status_code": "201"}
	if diff := cmp.Diff(want, attrs(httpSpan)); diff != "" {
		t.Errorf("HTTP span attributes (-want +got):\n%s", diff)
	}
	ja := attrs(job)
	for k, v := range map[string]string{"insure.listener": "SendWelcomeEmail", "insure.event_id": "e-1", "messaging.destination.name": "email-priority",
		"insure.event_name": "CustomerRegistered", "insure.aggregate_id": "c-1", "insure.outcome": "dead"} {
		if ja[k] != v {
			t.Errorf("listener span %s = %q, want %q", k, ja[k], v)
		}
	}
	if job.Status.Description != "dead" {
		t.Errorf("listener span status %+v: the error's text must not be in it", job.Status)
	}
	for _, s := range exp.GetSpans() {
		for _, kv := range s.Attributes {
			if strings.Contains(kv.Value.String(), "@") {
				t.Errorf("span %s attribute %s = %q", s.Name, kv.Key, kv.Value.String())
			}
		}
	}
	if got := app.Resource.String(); !strings.Contains(got, "service.name=insure-test") {
		t.Errorf("resource %s", got)
	}
}

// TestOTLPExport: with an endpoint, spans are posted as OTLP/HTTP
// protobuf to <endpoint>/v1/traces, at the latest on Shutdown.
func TestOTLPExport(t *testing.T) {
	t.Parallel()
	type post struct {
		path, contentType string
		size              int
	}
	got := make(chan post, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- post{r.URL.Path, r.Header.Get("Content-Type"), len(body)}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	tel, err := telemetry.New(context.Background(), telemetry.Config{OTLPEndpoint: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if !tel.Tracing() {
		t.Fatal("tracing is off with an endpoint")
	}
	_, end := tel.StartCommand(context.Background(), "RegisterCustomer")
	end(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p.path != "/v1/traces" || p.contentType != "application/x-protobuf" || p.size == 0 {
			t.Fatalf("the exporter posted %+v", p)
		}
	case <-ctx.Done():
		t.Fatal("no spans were posted")
	}
}
