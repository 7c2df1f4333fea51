package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// QueueDepthSample is how many unfinished jobs of a queue are in a state.
type QueueDepthSample struct {
	Queue, State string
	Jobs         int64
}

// ProjectionSample is where a read model is.
type ProjectionSample struct {
	Name string
	// Position is the last event it applied; Lag how many events it is
	// behind the head of the stream.
	Position, Lag int64
	// Age is how long ago the first event it has not applied was appended
	// (0 when it is caught up).
	Age time.Duration
}

// QueueLagSample is the age of the oldest job of a queue that could run
// but has not started (0 when none waits).
type QueueLagSample struct {
	Queue  string
	Oldest time.Duration
}

// BreakerSample is a circuit breaker's state: "closed", "half-open" or
// "open".
type BreakerSample struct {
	Provider, State string
}

// Sources are where the gauges read at scrape time come from. A nil func
// leaves its family out.
type Sources struct {
	QueueDepths func(ctx context.Context) ([]QueueDepthSample, error)
	// QueueLags is the age of each queue's oldest waiting job.
	QueueLags func(ctx context.Context) ([]QueueLagSample, error)
	// DeadLetters counts the dead letters (not retried or discarded) per
	// listener.
	DeadLetters func(ctx context.Context) (map[string]int64, error)
	Projections func(ctx context.Context) ([]ProjectionSample, error)
	// Breakers are in-process: they cannot fail.
	Breakers func() []BreakerSample
	// Timeout bounds each of QueueDepths, DeadLetters and Projections on
	// each scrape; 2s when zero.
	Timeout time.Duration
}

// The scrape error sources (the label of insure_metrics_scrape_errors_total).
const (
	sourceQueueJobs   = "queue_jobs"
	sourceQueueLags   = "queue_lags"
	sourceDeadLetters = "dead_letters"
	sourceProjections = "projections"
)

// breakerStates are the states insure_circuit_breaker_state reports, each
// 1 for the breaker's current state and 0 for the others.
var breakerStates = []string{"closed", "half-open", "open"}

// Watch adds the gauges read from s at every scrape:
//
//	insure_queue_jobs{queue,state}
//	insure_queue_oldest_job_seconds{queue}
//	insure_dead_letters{listener}
//	insure_projection_position{projection}
//	insure_projection_lag_events{projection}
//	insure_projection_lag_seconds{projection}
//	insure_circuit_breaker_state{provider,state}
//
// A source that fails (or takes longer than s.Timeout) leaves its families
// out of that scrape, is logged at warn and counted in
// insure_metrics_scrape_errors_total{source}. Watch may be called once.
func (t *Telemetry) Watch(s Sources) error {
	if s.Timeout <= 0 {
		s.Timeout = 2 * time.Second
	}
	for _, src := range []string{sourceQueueJobs, sourceQueueLags, sourceDeadLetters, sourceProjections} {
		t.m.scrapeErrors.WithLabelValues(src)
	}
	if err := t.registry.Register(&collector{t: t, s: s}); err != nil {
		if _, ok := err.(prometheus.AlreadyRegisteredError); ok {
			return errAlreadyWatching
		}
		return err
	}
	return nil
}

// collector reads Sources at scrape time.
type collector struct {
	t *Telemetry
	s Sources
}

var (
	descQueueJobs = prometheus.NewDesc(MetricQueueJobs,
		"Unfinished listener and periodic jobs, by queue and state (available, scheduled, retryable, running, pending).",
		[]string{"queue", "state"}, nil)
	descQueueOldest = prometheus.NewDesc(MetricQueueOldestJob,
		"Age of the oldest job of a queue that could run now but has not started (0 when none waits).",
		[]string{"queue"}, nil)
	descDeadLetters = prometheus.NewDesc(MetricDeadLetters,
		"Dead letters not yet retried or discarded, by listener.",
		[]string{"listener"}, nil)
	descProjectionPosition = prometheus.NewDesc(MetricProjectionPosition,
		"The position of the last event a read model applied.",
		[]string{"projection"}, nil)
	descProjectionLag = prometheus.NewDesc(MetricProjectionLag,
		"How many events a read model is behind the head of the event stream.",
		[]string{"projection"}, nil)
	descProjectionLagSeconds = prometheus.NewDesc(MetricProjectionLagSecs,
		"How long ago the oldest event a read model has not applied was appended (0 when caught up).",
		[]string{"projection"}, nil)
	descBreakerState = prometheus.NewDesc(MetricBreakerState,
		"Circuit breakers of the message providers: 1 for the current state (closed, half-open, open), 0 for the others.",
		[]string{"provider", "state"}, nil)
)

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueueJobs, descQueueOldest, descDeadLetters, descProjectionPosition,
		descProjectionLag, descProjectionLagSeconds, descBreakerState} {
		ch <- d
	}
	c.t.m.scrapeErrors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if c.s.QueueDepths != nil {
		if depths, ok := read(c, sourceQueueJobs, c.s.QueueDepths); ok {
			for _, d := range depths {
				c.gauge(ch, descQueueJobs, float64(d.Jobs), d.Queue, d.State)
			}
		}
	}
	if c.s.QueueLags != nil {
		if lags, ok := read(c, sourceQueueLags, c.s.QueueLags); ok {
			for _, l := range lags {
				c.gauge(ch, descQueueOldest, l.Oldest.Seconds(), l.Queue)
			}
		}
	}
	if c.s.DeadLetters != nil {
		if dead, ok := read(c, sourceDeadLetters, c.s.DeadLetters); ok {
			for listener, n := range dead {
				c.gauge(ch, descDeadLetters, float64(n), listener)
			}
		}
	}
	if c.s.Projections != nil {
		if projections, ok := read(c, sourceProjections, c.s.Projections); ok {
			for _, p := range projections {
				c.gauge(ch, descProjectionPosition, float64(p.Position), p.Name)
				c.gauge(ch, descProjectionLag, float64(p.Lag), p.Name)
				c.gauge(ch, descProjectionLagSeconds, p.Age.Seconds(), p.Name)
			}
		}
	}
	if c.s.Breakers != nil {
		for _, b := range c.s.Breakers() {
			for _, st := range breakerStates {
				v := 0.0
				if b.State == st {
					v = 1
				}
				c.gauge(ch, descBreakerState, v, b.Provider, st)
			}
		}
	}
	c.t.m.scrapeErrors.Collect(ch)
}

// read runs one source with the scrape timeout; on failure it logs,
// counts the failure and returns ok false.
func read[T any](c *collector, source string, f func(ctx context.Context) (T, error)) (T, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), c.s.Timeout)
	defer cancel()
	v, err := f(ctx)
	if err != nil {
		c.t.m.scrapeErrors.WithLabelValues(source).Inc()
		c.t.log.Warn("metrics: reading a source failed; its figures are left out of this scrape", "source", source, "error", err.Error())
		var zero T
		return zero, false
	}
	return v, true
}

// gauge sends one gauge; a label value the client library refuses (not
// UTF-8) drops that series.
func (c *collector) gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...)
	if err != nil {
		c.t.log.Warn("metrics: series left out", "metric", d.String(), "error", err.Error())
		return
	}
	ch <- m
}
