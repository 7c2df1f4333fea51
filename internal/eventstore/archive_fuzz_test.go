package eventstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// FuzzSegmentReader feeds arbitrary content, with a matching checksum, to
// the reader of archive segment files: it never panics, reports anything
// it refuses as ErrArchiveCorrupt, and an event it accepts encodes back
// (appendRecordLine) to the same line content.
func FuzzSegmentReader(f *testing.F) {
	rec := Record{Position: 3, EventID: "0190f2a8-6b2c-7d3e-9f00-1234567890ab", EventName: "ThingHappened",
		AggregateType: "thing", AggregateID: "a", AggregateVersion: 1, SchemaVersion: 1,
		Data: json.RawMessage(`{"n": 1, "s": "é <b>"}`), Metadata: json.RawMessage(`{"event_id":"0190f2a8-6b2c-7d3e-9f00-1234567890ab"}`),
		OccurredAt: time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC), CreatedAt: time.Date(2026, 11, 27, 10, 0, 1, 0, time.UTC)}
	line, err := appendRecordLine(nil, rec)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(line, int64(3), int64(3), int64(1))
	f.Add(append(append([]byte{}, line...), line...), int64(3), int64(3), int64(2))
	f.Add([]byte(`{"position":1}`+"\n"+`{"position":0}`+"\n"), int64(1), int64(1), int64(2))
	f.Add([]byte("\n\n"), int64(1), int64(2), int64(2))
	f.Fuzz(func(t *testing.T, content []byte, first, last, count int64) {
		dir := t.TempDir()
		var buf bytes.Buffer
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = zw.Write(content)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "s.jsonl.zst"), buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		seg := Segment{File: "s.jsonl.zst", First: first, Last: last, Count: count, SHA256: hex.EncodeToString(sum[:])}
		r, err := openSegment(dir, seg)
		if err != nil {
			t.Fatal(err)
		}
		defer r.close()
		for {
			ok, err := r.next()
			if err != nil {
				if !errors.Is(err, ErrArchiveCorrupt) {
					t.Fatalf("error %v is not ErrArchiveCorrupt", err)
				}
				return
			}
			if !ok {
				return
			}
			again, err := appendRecordLine(nil, r.cur)
			if err != nil {
				t.Fatalf("accepted %+v but cannot encode it: %v", r.cur, err)
			}
			var back Record
			if err := json.Unmarshal(again, &back); err != nil || back.Position != r.cur.Position ||
				!bytes.Equal(back.Data, oneLineOrSame(r.cur.Data)) || !back.OccurredAt.Equal(r.cur.OccurredAt) {
				t.Fatalf("%s read back as %+v (%v), not %+v", again, back, err, r.cur)
			}
		}
	})
}

// oneLineOrSame is what appendRecordLine writes for raw.
func oneLineOrSame(raw json.RawMessage) []byte {
	b, err := oneLine(raw)
	if err != nil {
		return nil
	}
	return b
}
