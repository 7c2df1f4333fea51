package eventstore

import (
	"crypto/sha256"
	"encoding/json"
	"testing"
)

// FuzzImportLine feeds arbitrary lines to the import's line check, the
// decoder of an export file: it never panics, and a line it accepts
// encodes back to a line it accepts as the same event, which the
// read-back check can digest.
func FuzzImportLine(f *testing.F) {
	f.Add([]byte(`{"position":1,"event_id":"0190f2a8-6b2c-7d3e-9f00-1234567890ab","event_name":"ThingHappened","aggregate_type":"thing","aggregate_id":"a","aggregate_version":1,"schema_version":1,"data":{"n":1},"metadata":{"event_id":"0190f2a8-6b2c-7d3e-9f00-1234567890ab","correlation_id":"x","actor":"tester","occurred_at":"2026-11-27T10:00:00.123456789Z"},"occurred_at":"2026-11-27T10:00:00.123456789Z","created_at":"2026-11-27T10:00:01Z"}`))
	f.Add([]byte(`{"position":2,"event_id":"0190F2A8-6B2C-7D3E-9F00-1234567890AB","event_name":"ThingHappened","aggregate_type":"thing","aggregate_id":"a","aggregate_version":3,"schema_version":1,"data":{"n":1e300,"s":"\u00e9"},"metadata":{"event_id":"0190f2a8-6b2c-7d3e-9f00-1234567890ab"},"occurred_at":"2026-11-27T10:00:00Z","created_at":"2026-11-27T10:00:01+05:30"}`))
	f.Add([]byte(`{"position":1} {"position":2}`))
	f.Add([]byte(`{"position":1,"data":null}`))
	f.Add([]byte(``))
	known := func(n string) bool { return n == "ThingHappened" }
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := newImportCheck(known).line(raw)
		if err != nil {
			return
		}
		if err := writeCanonical(sha256.New(), r); err != nil {
			t.Fatalf("accepted %s but cannot digest it: %v", raw, err)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("accepted %s but cannot encode it: %v", raw, err)
		}
		r2, err := newImportCheck(known).line(again)
		if err != nil {
			t.Fatalf("accepted %s but not its encoding %s: %v", raw, again, err)
		}
		if r2.Position != r.Position || r2.EventID != r.EventID || r2.AggregateVersion != r.AggregateVersion ||
			!r2.OccurredAt.Equal(r.OccurredAt) || !r2.CreatedAt.Equal(r.CreatedAt) {
			t.Fatalf("%s read back as %+v, not %+v", again, r2, r)
		}
	})
}
