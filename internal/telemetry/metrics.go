package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The metrics' names, for tests and documentation.
const (
	MetricEventsAppended     = "insure_events_appended_total"
	MetricCommands           = "insure_commands_total"
	MetricCommandDuration    = "insure_command_duration_seconds"
	MetricListenerJobs       = "insure_listener_jobs_total"
	MetricListenerJobSeconds = "insure_listener_job_duration_seconds"
	MetricListenerJobWait    = "insure_listener_job_wait_seconds"
	MetricHTTPRequests       = "insure_http_requests_total"
	MetricHTTPDuration       = "insure_http_request_duration_seconds"
	MetricScrapeErrors       = "insure_metrics_scrape_errors_total"
	MetricQueueJobs          = "insure_queue_jobs"
	MetricQueueOldestJob     = "insure_queue_oldest_job_seconds"
	MetricDeadLetters        = "insure_dead_letters"
	MetricProjectionPosition = "insure_projection_position"
	MetricProjectionLag      = "insure_projection_lag_events"
	MetricProjectionLagSecs  = "insure_projection_lag_seconds"
	MetricBreakerState       = "insure_circuit_breaker_state"
)

// metrics are the counters and histograms Telemetry updates as things
// happen.
type metrics struct {
	eventsAppended *prometheus.CounterVec
	commands       *prometheus.CounterVec
	commandSeconds *prometheus.HistogramVec
	jobs           *prometheus.CounterVec
	jobSeconds     *prometheus.HistogramVec
	jobWait        *prometheus.HistogramVec
	requests       *prometheus.CounterVec
	requestSeconds *prometheus.HistogramVec
	scrapeErrors   *prometheus.CounterVec
}

// The buckets of the histograms, in seconds. Work (commands, requests,
// listener runs) takes milliseconds to seconds; waiting in the queue can
// take minutes behind a backlog.
var (
	workBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	waitBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
)

func newMetrics() *metrics {
	return &metrics{
		eventsAppended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricEventsAppended,
			Help: "Events appended to the event store, counted once their transaction committed.",
		}, []string{"event_name", "aggregate_type"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricCommands,
			Help: "Commands handled by the application services, by outcome: ok, an application error code (invalid, not_found, conflict, unavailable, ...) or error.",
		}, []string{"command", "outcome"}),
		commandSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricCommandDuration,
			Help:    "How long commands took, whatever their outcome.",
			Buckets: workBuckets,
		}, []string{"command"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricListenerJobs,
			Help: "Attempts at listener jobs, by outcome: ok, retry (failed, will retry), snoozed (released for later) or dead (gave up: a dead letter).",
		}, []string{"listener", "queue", "outcome"}),
		jobSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricListenerJobSeconds,
			Help:    "How long one attempt at a listener job ran.",
			Buckets: workBuckets,
		}, []string{"listener", "queue"}),
		jobWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricListenerJobWait,
			Help:    "How long listener jobs waited from their insert (their event's commit) to the start of their first run.",
			Buckets: waitBuckets,
		}, []string{"listener", "queue"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricHTTPRequests,
			Help: "HTTP API requests, by method, route pattern (unmatched when none matched) and status.",
		}, []string{"method", "route", "status"}),
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricHTTPDuration,
			Help:    "How long HTTP API requests took, by method and route pattern.",
			Buckets: workBuckets,
		}, []string{"method", "route"}),
		scrapeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricScrapeErrors,
			Help: "Scrapes whose database figures (queue_jobs, dead_letters, projections) could not be read; those families were left out.",
		}, []string{"source"}),
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	// scrapeErrors is the Watch collector's: it sends the counter after
	// its sources, so a scrape shows its own failures.
	for _, c := range []prometheus.Collector{m.eventsAppended, m.commands, m.commandSeconds, m.jobs, m.jobSeconds,
		m.jobWait, m.requests, m.requestSeconds} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
