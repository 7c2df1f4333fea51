package cli

import (
	"context"
	"log/slog"
	"net/http"
	"time"

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

// withMetrics serves GET /metrics (public, no token, no personal data,
// outside the API's rate limits) and hands everything else to next. Mount
// more top-level paths here.
func (s *System) withMetrics(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.Telemetry.Handler())
	mux.Handle("/", next)
	return mux
}
