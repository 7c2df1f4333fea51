// Package telemetry is insure's metrics (Prometheus) and traces
// (OpenTelemetry). A Telemetry holds its own metric registry, served by
// Handler at GET /metrics, and its own tracer provider: an OTLP/HTTP
// exporter when an endpoint is configured, a no-op tracer otherwise. It
// installs nothing globally.
//
// The rest of insure does not import this package: each layer declares a
// small observer interface where it is used, and Telemetry implements them
// all:
//
//   - app.CommandObserver: insure_commands_total, insure_command_duration_seconds
//     and the span "command <Name>";
//   - httpapi.RequestObserver: insure_http_requests_total,
//     insure_http_request_duration_seconds and the server span
//     "HTTP <METHOD> <route>", continuing a caller's W3C traceparent;
//   - recorder.Observer: insure_events_appended_total (after the commit),
//     the span "eventstore.append" and the trace context stored in every
//     event's metadata;
//   - queue.JobObserver: insure_listener_jobs_total,
//     insure_listener_job_duration_seconds, insure_listener_job_wait_seconds
//     and the consumer span "listener <Listener>", which links to the span
//     that appended the job's event.
//
// Watch adds the gauges read at scrape time (queue depths, dead letters,
// projection positions and lags, circuit breakers) from plain functions.
//
// Labels and span attributes hold ids and names only, never personal data
// and never error messages (which may quote it).
package telemetry
