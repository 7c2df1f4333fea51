package cli

import (
	"context"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"insure/internal/database/dbtest"
	"insure/internal/telemetry"
)

// TestTracing registers a customer over HTTP with a caller's traceparent,
// with spans exported to memory, and follows the trace: the request's
// span continues the caller's trace, the command's span is its child, the
// append's span the command's, the event stores the append's trace
// context, and the welcome email's listener span links to it. No span
// attribute holds the customer's personal data.
func TestTracing(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			exp := tracetest.NewInMemoryExporter()
			tel, err := telemetry.New(ctx, telemetry.Config{SpanExporter: exp})
			if err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(t, d)
			s, err := Open(ctx, cfg, newLogger(cfg, io.Discard), Options{Workers: true, Migrate: true, Telemetry: tel})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Queue.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = s.Queue.Stop(ctx)
				_ = s.Close()
				_ = tel.Shutdown(ctx)
			})
			srv := httptest.NewServer(s.Handler())
			t.Cleanup(srv.Close)
			c := client{t: t, base: srv.URL}

			const (
				traceID  = "0af7651916cd43dd8448eb211c80319c"
				callerID = "b7ad6b7169203331"
				name     = "Ravi Shankar Iyer"
				email    = "ravi.iyer@example.com"
				phone    = "+919845012345"
			)
			r := c.expect(201, "POST", "/api/v1/customers", map[string]any{"name": name, "email": email, "phone": phone,
				"channel": "web", "preferences": map[string]bool{"email": true, "whatsapp": false}},
				"traceparent", "00-"+traceID+"-"+callerID+"-01")
			id, _ := r.json(t)["id"].(string)

			var listenerSpan tracetest.SpanStub
			waitUntil(t, "the welcome email's listener span", func() bool {
				for _, sp := range exp.GetSpans() {
					if sp.Name == "listener SendWelcomeEmail" {
						listenerSpan = sp
						return true
					}
				}
				return false
			})
			spans := exp.GetSpans()
			find := func(what string, match func(tracetest.SpanStub) bool) tracetest.SpanStub {
				t.Helper()
				for _, sp := range spans {
					if match(sp) {
						return sp
					}
				}
				names := make([]string, len(spans))
				for i, sp := range spans {
					names[i] = sp.Name
				}
				t.Fatalf("no %s span among %v", what, names)
				return tracetest.SpanStub{}
			}
			httpSpan := find("request", func(sp tracetest.SpanStub) bool {
				return sp.Name == "HTTP POST /api/v1/customers" && sp.SpanContext.TraceID().String() == traceID
			})
			if httpSpan.Parent.SpanID().String() != callerID || !httpSpan.Parent.IsRemote() {
				t.Errorf("the request's span does not continue the caller's: parent %v", httpSpan.Parent)
			}
			cmd := find("command", func(sp tracetest.SpanStub) bool {
				return sp.Name == "command RegisterCustomer" && sp.Parent.SpanID() == httpSpan.SpanContext.SpanID()
			})
			appendSpan := find("append", func(sp tracetest.SpanStub) bool {
				if sp.Name != "eventstore.append" || sp.Parent.SpanID() != cmd.SpanContext.SpanID() {
					return false
				}
				for _, kv := range sp.Attributes {
					if kv.Key == "insure.event_names" && slices.Contains(kv.Value.AsStringSlice(), "CustomerRegistered") {
						return true
					}
				}
				return false
			})

			// The event carries the append span's trace context.
			envs, err := s.Customers.Events(ctx, id)
			if err != nil || len(envs) == 0 {
				t.Fatalf("events of %s: %v", id, err)
			}
			if got, want := envs[0].Metadata.TraceParent, telemetry.FormatTraceParent(appendSpan.SpanContext); got != want {
				t.Errorf("stored traceparent %q, want the append span's %q", got, want)
			}

			// The listener ran in a trace of its own, linked to the request's.
			if listenerSpan.SpanContext.TraceID().String() == traceID {
				t.Error("the listener's span is in the request's trace; it should link to it")
			}
			linked := false
			for _, l := range listenerSpan.Links {
				linked = linked || (l.SpanContext.TraceID().String() == traceID && l.SpanContext.SpanID() == appendSpan.SpanContext.SpanID())
			}
			if !linked {
				t.Errorf("the listener's span links %v, want the append span of trace %s", listenerSpan.Links, traceID)
			}
			attrs := map[string]string{}
			for _, kv := range listenerSpan.Attributes {
				attrs[string(kv.Key)] = kv.Value.String()
			}
			for k, v := range map[string]string{"insure.listener": "SendWelcomeEmail", "insure.event_id": envs[0].EventID,
				"insure.aggregate_id": id, "insure.event_name": "CustomerRegistered", "messaging.destination.name": "email-priority", "insure.outcome": "ok"} {
				if attrs[k] != v {
					t.Errorf("listener span %s = %q, want %q", k, attrs[k], v)
				}
			}

			// No personal data in any span.
			for _, sp := range exp.GetSpans() {
				texts := []string{sp.Name, sp.Status.Description}
				for _, kv := range sp.Attributes {
					texts = append(texts, string(kv.Key)+"="+kv.Value.String())
				}
				for _, ev := range sp.Events {
					texts = append(texts, ev.Name)
					for _, kv := range ev.Attributes {
						texts = append(texts, string(kv.Key)+"="+kv.Value.String())
					}
				}
				for _, text := range texts {
					for _, needle := range []string{"Ravi", "Iyer", "ravi.iyer", email, phone, "9845012345"} {
						if strings.Contains(text, needle) {
							t.Errorf("span %s holds %q: %s", sp.Name, needle, text)
						}
					}
				}
			}
		})
	}
}
