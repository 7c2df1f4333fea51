package event_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/event"
)

// TestMetadataTraceParentJSON: the trace context is stored under
// "traceparent", only when there is one, so events recorded without
// tracing keep the shape they always had.
func TestMetadataTraceParentJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name    string
		meta    event.Metadata
		want    string
		without string
	}{
		{
			name: "traced",
			meta: event.Metadata{EventID: "e-1", CorrelationID: "c-1", Actor: "tester", OccurredAt: at, TraceParent: tp},
			want: `"traceparent":"` + tp + `"`,
		},
		{
			name:    "not traced",
			meta:    event.Metadata{EventID: "e-2", CorrelationID: "c-2", Actor: "tester", OccurredAt: at},
			without: "traceparent",
		},
	}
	for _, tt := range tests {
		raw, err := json.Marshal(tt.meta)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if tt.want != "" && !strings.Contains(string(raw), tt.want) {
			t.Errorf("%s: %s lacks %s", tt.name, raw, tt.want)
		}
		if tt.without != "" && strings.Contains(string(raw), tt.without) {
			t.Errorf("%s: %s has %s", tt.name, raw, tt.without)
		}
		var back event.Metadata
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.meta, back); diff != "" {
			t.Errorf("%s: round trip (-want +got):\n%s", tt.name, diff)
		}
	}
}
