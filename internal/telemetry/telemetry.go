package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config configures a Telemetry.
type Config struct {
	// ServiceName is the service.name the spans carry (OTEL_SERVICE_NAME);
	// "insure" when empty.
	ServiceName string
	// OTLPEndpoint is the base URL of the OpenTelemetry collector
	// (OTEL_EXPORTER_OTLP_ENDPOINT), such as http://127.0.0.1:4318: spans
	// are posted to <OTLPEndpoint>/v1/traces as OTLP/HTTP protobuf, over
	// TLS for https and in clear for http. Empty (and no SpanExporter):
	// tracing is off, through a no-op tracer that costs next to nothing.
	OTLPEndpoint string
	// SpanExporter, when set, receives every span as it ends instead of
	// the OTLP exporter (tests use tracetest.InMemoryExporter).
	SpanExporter sdktrace.SpanExporter
	// Registry is where the metrics are registered; nil: a new one.
	Registry *prometheus.Registry
	// Logger logs scrape failures. nil: nothing is logged.
	Logger *slog.Logger
}

// Telemetry is one process's metrics and tracer. It implements
// app.CommandObserver, httpapi.RequestObserver, recorder.Observer and
// queue.JobObserver.
type Telemetry struct {
	registry *prometheus.Registry
	handler  http.Handler
	m        *metrics
	// provider is the SDK's tracer provider; nil when tracing is off.
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	log      *slog.Logger
}

// New builds a Telemetry: its registry with insure's metrics and the Go
// runtime and process collectors, and its tracer. It fails when
// OTLPEndpoint is not an http or https URL, or when the registry already
// holds metrics of the same names. Call Shutdown when done.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = "insure"
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	t := &Telemetry{registry: reg, m: newMetrics(), prop: propagation.TraceContext{}, log: cfg.Logger}
	if err := t.m.register(reg); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("telemetry: go collector: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("telemetry: process collector: %w", err)
	}
	t.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            promLogger{cfg.Logger},
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            reg,
		MaxRequestsInFlight: 4,
		Timeout:             20 * time.Second,
	})

	var exporter sdktrace.SpanProcessor
	switch {
	case cfg.SpanExporter != nil:
		exporter = sdktrace.NewSimpleSpanProcessor(cfg.SpanExporter)
	case cfg.OTLPEndpoint != "":
		u, err := tracesURL(cfg.OTLPEndpoint)
		if err != nil {
			return nil, err
		}
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u))
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTLP exporter for %s: %w", u, err)
		}
		exporter = sdktrace.NewBatchSpanProcessor(exp)
	}
	if exporter == nil {
		t.tracer = noop.NewTracerProvider().Tracer(tracerName)
		return t, nil
	}
	res, err := resource.Merge(resource.Default(),
		resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(cfg.ServiceName)))
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	t.provider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(exporter), sdktrace.WithResource(res))
	t.tracer = t.provider.Tracer(tracerName)
	return t, nil
}

// tracerName names insure's instrumentation.
const tracerName = "insure"

// tracesURL is the OTLP/HTTP traces URL of a collector's base URL.
func tracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("telemetry: the OTLP endpoint must be an http:// or https:// base URL such as http://127.0.0.1:4318, without query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/v1/traces"
	u.RawPath = ""
	return u.String(), nil
}

// Registry is the registry the metrics are in.
func (t *Telemetry) Registry() *prometheus.Registry { return t.registry }

// Handler serves the metrics in the Prometheus text format (GET /metrics).
func (t *Telemetry) Handler() http.Handler { return t.handler }

// Tracer is insure's tracer (a no-op one when tracing is off).
func (t *Telemetry) Tracer() trace.Tracer { return t.tracer }

// Tracing reports whether spans are exported.
func (t *Telemetry) Tracing() bool { return t.provider != nil }

// Shutdown exports the spans not exported yet and stops the exporter, for
// as long as ctx allows. Spans started afterwards are dropped.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t.provider == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: flush spans: %w", err)
	}
	return nil
}

// ForceFlush exports the spans ended so far, for as long as ctx allows.
func (t *Telemetry) ForceFlush(ctx context.Context) error {
	if t.provider == nil {
		return nil
	}
	return t.provider.ForceFlush(ctx)
}

// promLogger logs the metrics handler's errors.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) {
	l.log.Warn("serving metrics", "error", fmt.Sprint(v...))
}

// errAlreadyWatching is returned by a second Watch.
var errAlreadyWatching = errors.New("telemetry: Watch was already called")
