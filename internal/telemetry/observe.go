package telemetry

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/queue"
)

// Outcome names how a command ended, for a metric label: "ok" for a nil
// error, the code of an application error (apperr: "invalid",
// "not_found", "conflict", "unavailable", ...), else "error".
func Outcome(err error) string {
	if err == nil {
		return "ok"
	}
	if e, ok := apperr.As(err); ok && labelSafe(string(e.Code)) {
		return string(e.Code)
	}
	return "error"
}

// labelSafe reports whether s is a short lower-case snake_case word, fit
// for a label value of bounded cardinality.
func labelSafe(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

// StartCommand implements app.CommandObserver: it starts the span
// "command <name>" and, at the end, counts the command by outcome and
// observes its duration.
func (t *Telemetry) StartCommand(ctx context.Context, name string) (context.Context, func(error)) {
	start := time.Now()
	ctx, span := t.tracer.Start(ctx, "command "+name, trace.WithAttributes(attribute.String("insure.command", name)))
	return ctx, func(err error) {
		outcome := Outcome(err)
		t.m.commands.WithLabelValues(name, outcome).Inc()
		t.m.commandSeconds.WithLabelValues(name).Observe(time.Since(start).Seconds())
		span.SetAttributes(attribute.String("insure.outcome", outcome))
		if err != nil {
			// The outcome, never the message: it may quote personal data.
			span.SetStatus(codes.Error, outcome)
		}
		span.End()
	}
}

// StartRequest implements httpapi.RequestObserver: it continues the
// caller's trace (a W3C traceparent header), starts the server span "HTTP
// <METHOD>" (named "HTTP <METHOD> <route>" once routed) and, at the end,
// counts the request and observes its duration.
func (t *Telemetry) StartRequest(ctx context.Context, r *http.Request) (context.Context, func(method, route string, status int)) {
	start := time.Now()
	method := httpMethod(r.Method)
	ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
	ctx, span := t.tracer.Start(ctx, "HTTP "+method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", method)))
	return ctx, func(_, route string, status int) {
		code := strconv.Itoa(status)
		t.m.requests.WithLabelValues(method, route, code).Inc()
		t.m.requestSeconds.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		span.SetName("HTTP " + method + " " + route)
		span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, code)
		}
		span.End()
	}
}

// httpMethod is m when it is a standard method, else "_OTHER": a client
// chooses the method, and a label must not take any value it sends.
func httpMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// StartAppend implements recorder.Observer: the span "eventstore.append"
// around one append, with the events' names, aggregates and positions.
func (t *Telemetry) StartAppend(ctx context.Context) (context.Context, func([]event.Envelope, error)) {
	ctx, span := t.tracer.Start(ctx, "eventstore.append")
	return ctx, func(envs []event.Envelope, err error) {
		if span.IsRecording() {
			span.SetAttributes(appendAttributes(envs)...)
			if err != nil {
				span.SetStatus(codes.Error, Outcome(err))
			}
		}
		span.End()
	}
}

// appendAttributes describe appended events by their names, aggregate
// types and ids, and positions.
func appendAttributes(envs []event.Envelope) []attribute.KeyValue {
	var names, types, ids []string
	for _, env := range envs {
		if !slices.Contains(names, env.EventName) {
			names = append(names, env.EventName)
		}
		if !slices.Contains(types, env.AggregateType) {
			types = append(types, env.AggregateType)
		}
		if !slices.Contains(ids, env.AggregateID) {
			ids = append(ids, env.AggregateID)
		}
	}
	attrs := []attribute.KeyValue{
		attribute.Int("insure.events", len(envs)),
		attribute.StringSlice("insure.event_names", names),
		attribute.StringSlice("insure.aggregate_types", types),
		attribute.StringSlice("insure.aggregate_ids", ids),
	}
	if len(envs) > 0 {
		attrs = append(attrs, attribute.Int64("insure.first_position", envs[0].Position),
			attribute.Int64("insure.last_position", envs[len(envs)-1].Position))
	}
	return attrs
}

// TraceParent implements recorder.Observer: the W3C traceparent of the
// span in ctx, or "" when ctx carries no valid span context.
func (t *Telemetry) TraceParent(ctx context.Context) string {
	return FormatTraceParent(trace.SpanContextFromContext(ctx))
}

// Committed implements recorder.Observer: it counts committed events.
func (t *Telemetry) Committed(envs []event.Envelope) {
	for _, env := range envs {
		t.m.eventsAppended.WithLabelValues(env.EventName, env.AggregateType).Inc()
	}
}

// StartJob implements queue.JobObserver: it observes how long a job waited
// for its first run, starts the consumer span "listener <Listener>" and, at
// the end, links the span to the one that appended the job's event (from
// the event's stored traceparent), counts the attempt by outcome and
// observes its duration.
func (t *Telemetry) StartJob(ctx context.Context, job queue.JobInfo) (context.Context, func(queue.JobResult)) {
	if job.FirstRun && !job.InsertedAt.IsZero() {
		t.m.jobWait.WithLabelValues(job.Listener, job.Queue).Observe(max(time.Since(job.InsertedAt), 0).Seconds())
	}
	ctx, span := t.tracer.Start(ctx, "listener "+job.Listener, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("insure.listener", job.Listener),
			attribute.String("insure.event_id", job.EventID),
			attribute.Int64("insure.job_id", job.JobID),
			attribute.Int("insure.attempt", job.Attempt),
			attribute.String("messaging.system", "river"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", job.Queue),
		))
	return ctx, func(res queue.JobResult) {
		outcome := res.Outcome
		switch outcome {
		case queue.OutcomeOK, queue.OutcomeRetry, queue.OutcomeSnoozed, queue.OutcomeDead:
		default:
			outcome = "error"
		}
		t.m.jobs.WithLabelValues(job.Listener, job.Queue, outcome).Inc()
		t.m.jobSeconds.WithLabelValues(job.Listener, job.Queue).Observe(res.Duration.Seconds())
		if span.IsRecording() {
			if ev := job.Event; ev != nil && ev.EventName != "" {
				span.SetAttributes(
					attribute.String("insure.event_name", ev.EventName),
					attribute.String("insure.aggregate_type", ev.AggregateType),
					attribute.String("insure.aggregate_id", ev.AggregateID),
					attribute.String("insure.correlation_id", ev.CorrelationID),
				)
				if sc, ok := ParseTraceParent(ev.TraceParent); ok {
					span.AddLink(trace.Link{SpanContext: sc})
				}
			}
			span.SetAttributes(attribute.String("insure.outcome", outcome))
			if outcome == queue.OutcomeRetry || outcome == queue.OutcomeDead {
				span.SetStatus(codes.Error, outcome)
			}
		}
		span.End()
	}
}
