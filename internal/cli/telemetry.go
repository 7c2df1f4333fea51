package cli

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"insure/internal/apperr"
	"insure/internal/config"
	"insure/internal/telemetry"
)

// newTelemetry builds the metrics and the tracer the configuration asks
// for: spans exported over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT, or
// not at all.
func newTelemetry(ctx context.Context, cfg config.Config, logger *slog.Logger) (*telemetry.Telemetry, error) {
	tel, err := telemetry.New(ctx, telemetry.Config{ServiceName: cfg.OTelServiceName, OTLPEndpoint: cfg.OTLPEndpoint, Logger: logger})
	if err != nil {
		return nil, err
	}
	if tel.Tracing() {
		logger.Info("traces are exported over OTLP/HTTP", "endpoint", config.RedactDatabaseURL(cfg.OTLPEndpoint))
	}
	return tel, nil
}

// shutdownTelemetry exports the spans not exported yet, for a few seconds
// at most.
func shutdownTelemetry(tel *telemetry.Telemetry, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		logger.Warn("exporting the last spans failed", "error", err.Error())
	}
}

// watchTelemetry has the metrics read, at every scrape, the queue depths
// and their lag and the dead letters (through s.Monitor), where the read models are and the
// circuit breakers' states.
func (s *System) watchTelemetry() error {
	return s.Telemetry.Watch(telemetry.Sources{
		QueueDepths: func(ctx context.Context) ([]telemetry.QueueDepthSample, error) {
			depths, err := s.Monitor.QueueDepths(ctx)
			if err != nil {
				return nil, err
			}
			out := make([]telemetry.QueueDepthSample, len(depths))
			for i, d := range depths {
				out[i] = telemetry.QueueDepthSample{Queue: d.Queue, State: d.State, Jobs: d.Jobs}
			}
			return out, nil
		},
		QueueLags: func(ctx context.Context) ([]telemetry.QueueLagSample, error) {
			lags, err := s.Monitor.QueueLags(ctx)
			if err != nil {
				return nil, err
			}
			out := make([]telemetry.QueueLagSample, len(lags))
			for i, l := range lags {
				out[i] = telemetry.QueueLagSample{Queue: l.Queue, Oldest: l.Oldest}
			}
			return out, nil
		},
		DeadLetters: func(ctx context.Context) (map[string]int64, error) {
			counts, err := s.Monitor.DeadLetterCounts(ctx)
			if err != nil {
				return nil, err
			}
			// Every listener, with 0 when it has none.
			for _, d := range s.Listeners.Definitions() {
				if _, ok := counts[d.Name]; !ok {
					counts[d.Name] = 0
				}
			}
			return counts, nil
		},
		Projections: func(ctx context.Context) ([]telemetry.ProjectionSample, error) {
			status, err := s.Projections.Status(ctx)
			if err != nil {
				return nil, err
			}
			out := make([]telemetry.ProjectionSample, len(status))
			for i, st := range status {
				out[i] = telemetry.ProjectionSample{Name: st.Name, Position: st.Position, Lag: st.Lag, Age: st.Age}
			}
			return out, nil
		},
		Breakers: func() []telemetry.BreakerSample {
			statuses := s.Breakers.Statuses()
			out := make([]telemetry.BreakerSample, len(statuses))
			for i, st := range statuses {
				out[i] = telemetry.BreakerSample{Provider: st.Name, State: st.State}
			}
			return out
		},
	})
}

// withMetrics serves GET /metrics (no personal data, outside the API's
// rate limits; behind METRICS_TOKEN when it is set) and hands everything
// else to next. Mount more top-level paths here.
func (s *System) withMetrics(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.Handle("/", next)
	return mux
}

// metricsHandler is GET /metrics: the Prometheus exposition, public when
// METRICS_TOKEN is empty, else only for a request that carries it as a
// bearer token (compared in constant time; a missing or wrong one is a
// 401 that says which token is wanted, never what it is).
func (s *System) metricsHandler() http.Handler {
	h := s.Telemetry.Handler()
	if s.Config.MetricsToken == "" {
		return h
	}
	want := sha256.Sum256([]byte(s.Config.MetricsToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="insure metrics"`)
			writeOpsJSON(w, http.StatusUnauthorized, map[string]map[string]string{"error": {
				"code": string(apperr.Unauthorized), "message": "GET /metrics needs METRICS_TOKEN as a bearer token (Authorization: Bearer …)"}})
			return
		}
		h.ServeHTTP(w, r)
	})
}
