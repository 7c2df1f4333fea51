package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// jobLogFields are the fields every log line about a listener job carries.
var jobLogFields = []string{"event_id", "event_name", "aggregate_type", "aggregate_id", "correlation_id",
	"queue", "listener", "attempt", "duration_ms", "success"}

// requestLogFields are the fields every request log line carries.
var requestLogFields = []string{"method", "route", "status", "duration_ms", "request_id"}

// checkLogFields parses JSON log output line by line and checks that every
// line about a listener job, and every request line, carries its fields,
// and that there were such lines about the given event and route.
func checkLogFields(t *testing.T, out, wantEvent, wantRoute string) {
	t.Helper()
	var jobs, requests int
	var sawEvent, sawRoute bool
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line %d is not JSON: %v: %s", i+1, err, line)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("log line %d has no %q: %s", i+1, k, line)
			}
		}
		switch {
		case rec["msg"] == "http request":
			requests++
			for _, k := range requestLogFields {
				if _, ok := rec[k]; !ok {
					t.Errorf("request log line %d lacks %q: %s", i+1, k, line)
				}
			}
			sawRoute = sawRoute || rec["route"] == wantRoute
		case rec["listener"] != nil && rec["event_id"] != nil:
			jobs++
			for _, k := range jobLogFields {
				if v, ok := rec[k]; !ok || v == "" {
					t.Errorf("job log line %d lacks %q: %s", i+1, k, line)
				}
			}
			sawEvent = sawEvent || rec["event_name"] == wantEvent
		}
	}
	if jobs == 0 || requests == 0 || !sawEvent || !sawRoute {
		t.Errorf("%d job lines (one about %s: %v), %d request lines (one for %s: %v): the check proves nothing without them",
			jobs, wantEvent, sawEvent, requests, wantRoute, sawRoute)
	}
}
