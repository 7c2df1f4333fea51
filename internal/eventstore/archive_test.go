package eventstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/eventstore"
)

// archived is one aggregate of the archive tests: its id and the envelopes
// appended to it.
type archived struct {
	id   string
	envs []event.Envelope
}

// seedArchive appends, interleaved, five events to aggregate a, three to b
// and one to c (one event per append), with data that PostgreSQL's jsonb
// respaces and reorders, and returns them.
func seedArchive(t *testing.T, db database.DB, s *eventstore.Store) (a, b, c *archived) {
	t.Helper()
	ctx := context.Background()
	reg := registry(t)
	a, b, c = &archived{id: event.NewID()}, &archived{id: event.NewID()}, &archived{id: event.NewID()}
	for i, agg := range []*archived{a, b, a, c, a, b, a, a, b} {
		ps := []event.Payload{thingHappened{N: i}, otherHappened{S: `é "quoted" <tag> & ` + agg.id[:4]}}[i%2 : i%2+1]
		envs, err := appendTx(ctx, db, s, agg.id, int64(len(agg.envs)), pending(t, reg, ps...))
		if err != nil {
			t.Fatal(err)
		}
		agg.envs = append(agg.envs, envs...)
	}
	return a, b, c
}

// readStream returns the whole stream in the table, as ReadAll returns it.
func readStream(t *testing.T, s *eventstore.Store, db database.DB) []event.Envelope {
	t.Helper()
	var out []event.Envelope
	for after := int64(0); ; {
		envs, err := s.ReadAll(context.Background(), db, after, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(envs) == 0 {
			return out
		}
		out = append(out, envs...)
		after = envs[len(envs)-1].Position
	}
}

// readMerged returns the whole stream, archive included.
func readMerged(t *testing.T, s *eventstore.Store, db database.DB, dir string) []event.Envelope {
	t.Helper()
	var out []event.Envelope
	err := s.ReadAllWithArchive(context.Background(), db, dir, 0, func(env event.Envelope) error {
		out = append(out, env)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readArchived(t *testing.T, s *eventstore.Store, db database.DB, dir string, after int64) ([]event.Envelope, error) {
	t.Helper()
	var out []event.Envelope
	err := s.ReadArchived(context.Background(), db, dir, after, func(env event.Envelope) error {
		out = append(out, env)
		return nil
	})
	return out, err
}

func positionsOf(envs []event.Envelope) []int64 {
	out := []int64{}
	for _, e := range envs {
		out = append(out, e.Position)
	}
	return out
}

func tablePositions(t *testing.T, db database.DB) []int64 {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT position FROM event_store ORDER BY position`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []int64{}
	for rows.Next() {
		var p int64
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func versionOf(t *testing.T, s *eventstore.Store, db database.DB, id string) int64 {
	t.Helper()
	v, err := s.Version(context.Background(), db, "thing", id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// keptLog collects what Archive keeps, as "position: reason".
type keptLog map[int64]string

func (k keptLog) add(r eventstore.Record, reason string) { k[r.Position] = reason }

// TestArchive archives every event it may of three aggregates, then a
// second segment after more appends, and checks the table, the versions,
// the files and the merged stream against the stream as it was.
func TestArchive(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := context.Background()
		s := eventstore.New(db, 3, func() time.Time { return nanoClock })
		a, b, c := seedArchive(t, db, s)
		dir := filepath.Join(t.TempDir(), "archive")
		before := readStream(t, s, db)
		all := positionsOf(before)
		loaded := map[string][]event.Envelope{}
		for _, agg := range []*archived{a, b, c} {
			envs, err := s.Load(ctx, db, "thing", agg.id)
			if err != nil {
				t.Fatal(err)
			}
			loaded[agg.id] = envs
		}

		kept := keptLog{}
		seg, err := s.Archive(ctx, all, eventstore.ArchiveOptions{Dir: dir, Kept: kept.add})
		if err != nil {
			t.Fatal(err)
		}
		// The newest event of each aggregate stays: a v5, b v3, c v1.
		wantArchived := []int64{a.envs[0].Position, b.envs[0].Position, a.envs[1].Position, a.envs[2].Position,
			b.envs[1].Position, a.envs[3].Position}
		slices.Sort(wantArchived)
		wantKept := keptLog{a.envs[4].Position: eventstore.KeptNewest, b.envs[2].Position: eventstore.KeptNewest,
			c.envs[0].Position: eventstore.KeptNewest}
		if diff := cmp.Diff(wantKept, kept); diff != "" {
			t.Errorf("kept (-want +got):\n%s", diff)
		}
		if seg.File != eventstore.SegmentName(wantArchived[0], wantArchived[len(wantArchived)-1]) || seg.Count != int64(len(wantArchived)) ||
			seg.First != wantArchived[0] || seg.Last != wantArchived[len(wantArchived)-1] || len(seg.SHA256) != 64 {
			t.Errorf("segment %+v, want %d events %v", seg, len(wantArchived), wantArchived)
		}
		if err := eventstore.VerifySegment(dir, seg); err != nil {
			t.Errorf("VerifySegment: %v", err)
		}
		var rest []int64
		for _, p := range all {
			if !slices.Contains(wantArchived, p) {
				rest = append(rest, p)
			}
		}
		if diff := cmp.Diff(rest, tablePositions(t, db)); diff != "" {
			t.Errorf("event_store positions after the archive (-want +got):\n%s", diff)
		}
		for _, agg := range []*archived{a, b, c} {
			if v := versionOf(t, s, db, agg.id); v != int64(len(agg.envs)) {
				t.Errorf("Version of %s = %d, want %d", agg.id, v, len(agg.envs))
			}
		}
		segs, err := s.Segments(ctx, db, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]eventstore.Segment{seg}, segs); diff != "" {
			t.Errorf("Segments (-want +got):\n%s", diff)
		}

		for _, agg := range []*archived{a, b, c} {
			envs, err := s.LoadWithArchive(ctx, db, dir, "thing", agg.id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(loaded[agg.id], envs); diff != "" {
				t.Errorf("LoadWithArchive differs from Load before the archive (-before +after):\n%s", diff)
			}
		}
		if _, err := s.LoadWithArchive(ctx, db, dir, "thing", event.NewID()); !errors.Is(err, eventstore.ErrNotFound) {
			t.Errorf("LoadWithArchive of no aggregate: %v", err)
		}

		// The merged stream is the stream as it was, byte for byte.
		if diff := cmp.Diff(before, readMerged(t, s, db, dir)); diff != "" {
			t.Errorf("ReadAllWithArchive differs from ReadAll before the archive (-before +merged):\n%s", diff)
		}
		got, err := readArchived(t, s, db, dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantArchived, positionsOf(got)); diff != "" {
			t.Errorf("ReadArchived positions (-want +got):\n%s", diff)
		}
		if got, _ := readArchived(t, s, db, dir, a.envs[2].Position); !slices.Equal(positionsOf(got), []int64{b.envs[1].Position, a.envs[3].Position}) {
			t.Errorf("ReadArchived after %d: %v", a.envs[2].Position, positionsOf(got))
		}

		// More events, and a second run: a's v5 (now not its newest) and
		// c's v1 go into a segment whose range overlaps the first one's.
		reg := registry(t)
		for _, agg := range []*archived{a, c} {
			envs, err := appendTx(ctx, db, s, agg.id, int64(len(agg.envs)), pending(t, reg, thingHappened{N: 99}))
			if err != nil {
				t.Fatal(err)
			}
			agg.envs = append(agg.envs, envs...)
		}
		more, err := s.ReadAll(ctx, db, before[len(before)-1].Position, 0, nil)
		if err != nil || len(more) != 2 {
			t.Fatalf("the two new events: %v, %v", more, err)
		}
		before = append(before, more...)
		seg2, err := s.Archive(ctx, []int64{c.envs[0].Position, a.envs[4].Position}, eventstore.ArchiveOptions{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if seg2.Count != 2 || seg2.First != c.envs[0].Position || seg2.Last != a.envs[4].Position {
			t.Errorf("second segment %+v", seg2)
		}
		if diff := cmp.Diff(before, readMerged(t, s, db, dir)); diff != "" {
			t.Errorf("after the second segment, the merged stream differs (-want +got):\n%s", diff)
		}
		// Batch by batch through an ArchiveReader, with a names filter
		// and from a position in the middle.
		r := s.NewArchiveReader(dir)
		defer r.Close()
		for _, tc := range []struct {
			after int64
			limit int
			names []string
		}{{0, 1, nil}, {0, 2, []string{"ThingHappened"}}, {a.envs[1].Position, 3, nil}, {0, 3, []string{"OtherHappened"}}} {
			var want, got []event.Envelope
			for _, env := range before {
				if env.Position > tc.after && (tc.names == nil || slices.Contains(tc.names, env.EventName)) {
					want = append(want, env)
				}
			}
			for after := tc.after; ; {
				envs, err := r.ReadAll(ctx, db, after, tc.limit, tc.names)
				if err != nil {
					t.Fatal(err)
				}
				if len(envs) > tc.limit {
					t.Fatalf("%d events, limit %d", len(envs), tc.limit)
				}
				if len(envs) == 0 {
					break
				}
				got = append(got, envs...)
				after = envs[len(envs)-1].Position
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ArchiveReader after %d, limit %d, names %v (-want +got):\n%s", tc.after, tc.limit, tc.names, diff)
			}
		}
		// What ReadAll still returns is unchanged.
		tableNow := readStream(t, s, db)
		for _, env := range tableNow {
			i := slices.IndexFunc(before, func(e event.Envelope) bool { return e.Position == env.Position })
			if i < 0 || !cmp.Equal(before[i], env) {
				t.Errorf("table event at %d changed", env.Position)
			}
		}
	})
}

// TestArchiveKeepsPrefix: when the filter keeps an event, the later events
// of its aggregate stay too, and positions no longer in the table are
// reported.
func TestArchiveKeepsPrefix(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := context.Background()
		s := eventstore.New(db, 100, nil)
		a, b, _ := seedArchive(t, db, s)
		dir := t.TempDir()
		kept := keptLog{}
		filter := func(_ context.Context, tx database.Tx, recs []eventstore.Record) ([]eventstore.Record, error) {
			if tx == nil {
				t.Error("Filter got no transaction")
			}
			return slices.DeleteFunc(recs, func(r eventstore.Record) bool { return r.Position == a.envs[1].Position }), nil
		}
		gone := int64(10_000)
		seg, err := s.Archive(ctx, []int64{a.envs[0].Position, a.envs[1].Position, a.envs[2].Position, b.envs[0].Position, gone},
			eventstore.ArchiveOptions{Dir: dir, Filter: filter, Kept: kept.add})
		if err != nil {
			t.Fatal(err)
		}
		if seg.Count != 2 {
			t.Errorf("archived %d events, want a's v1 and b's v1", seg.Count)
		}
		want := keptLog{a.envs[2].Position: eventstore.KeptGap, gone: eventstore.KeptGone}
		if diff := cmp.Diff(want, kept); diff != "" {
			t.Errorf("kept (-want +got):\n%s", diff)
		}
		// a's v3 cannot go while v2 stays, even when asked for alone.
		kept = keptLog{}
		seg, err = s.Archive(ctx, []int64{a.envs[2].Position}, eventstore.ArchiveOptions{Dir: dir, Kept: kept.add})
		if err != nil || seg.Count != 0 || kept[a.envs[2].Position] != eventstore.KeptGap {
			t.Errorf("archive of a's v3 alone: %+v, %v, kept %v", seg, err, kept)
		}
		if _, err := os.Stat(filepath.Join(dir, eventstore.SegmentName(a.envs[2].Position, a.envs[2].Position))); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("an empty archive wrote a file: %v", err)
		}
		// A filter that makes events up is refused.
		_, err = s.Archive(ctx, []int64{a.envs[1].Position}, eventstore.ArchiveOptions{Dir: dir,
			Filter: func(context.Context, database.Tx, []eventstore.Record) ([]eventstore.Record, error) {
				return []eventstore.Record{{Position: 1}}, nil
			}})
		if !errors.Is(err, eventstore.ErrInvalid) {
			t.Errorf("a filter returning another event: %v", err)
		}
	})
}

// TestArchiveCrash: a failure after the file is written leaves the table
// and event_archive_segments as they were and the file as an orphan, which
// the next run overwrites.
func TestArchiveCrash(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := context.Background()
		s := eventstore.New(db, 100, nil)
		a, _, _ := seedArchive(t, db, s)
		dir := t.TempDir()
		before := tablePositions(t, db)
		positions := []int64{a.envs[0].Position, a.envs[1].Position}
		crash := errors.New("power cut")
		var written eventstore.Segment
		_, err := s.Archive(ctx, positions, eventstore.ArchiveOptions{Dir: dir, AfterWrite: func(seg eventstore.Segment) error {
			written = seg
			if _, err := os.Stat(filepath.Join(dir, seg.File)); err != nil {
				t.Errorf("AfterWrite before the file exists: %v", err)
			}
			return crash
		}})
		if !errors.Is(err, crash) {
			t.Fatalf("Archive = %v, want the crash", err)
		}
		if diff := cmp.Diff(before, tablePositions(t, db)); diff != "" {
			t.Errorf("the table changed (-before +after):\n%s", diff)
		}
		if segs, err := s.Segments(ctx, db, 0); err != nil || len(segs) != 0 {
			t.Errorf("segments after the crash: %v, %v", segs, err)
		}
		if _, err := os.Stat(filepath.Join(dir, written.File)); err != nil {
			t.Errorf("the orphan file: %v", err)
		}
		if got, err := readArchived(t, s, db, dir, 0); err != nil || len(got) != 0 {
			t.Errorf("the orphan is read: %v, %v", positionsOf(got), err)
		}
		seg, err := s.Archive(ctx, positions, eventstore.ArchiveOptions{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if seg.File != written.File || seg.SHA256 != written.SHA256 {
			t.Errorf("the next run wrote %+v, the crashed one %+v", seg, written)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Errorf("archive directory holds %d entries, want the one segment (no temporary files)", len(entries))
		}
	})
}

// TestArchiveTampered: a segment file that was changed, truncated, swapped
// or removed is detected before any of its events is read.
func TestArchiveTampered(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := context.Background()
		s := eventstore.New(db, 100, nil)
		a, b, _ := seedArchive(t, db, s)
		dir := t.TempDir()
		seg, err := s.Archive(ctx, []int64{a.envs[0].Position, a.envs[1].Position, b.envs[0].Position}, eventstore.ArchiveOptions{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, seg.File)
		original, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		content := decompress(t, original)
		for _, tc := range []struct {
			name   string
			tamper func() []byte // the file's new bytes; nil removes it
		}{
			{"one character of the data changed", func() []byte {
				return compress(t, bytes.Replace(content, []byte(`tester`), []byte(`Tester`), 1))
			}},
			{"the last event cut off", func() []byte {
				lines := bytes.SplitAfter(content, []byte("\n"))
				return compress(t, bytes.Join(lines[:len(lines)-2], nil))
			}},
			{"an event added", func() []byte {
				lines := bytes.SplitAfter(content, []byte("\n"))
				return compress(t, append(slices.Clone(content), lines[0]...))
			}},
			{"not zstd", func() []byte { return content }},
			{"truncated", func() []byte { return original[:len(original)/2] }},
			{"removed", func() []byte { return nil }},
		} {
			t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
				bad := tc.tamper()
				if bad == nil {
					if err := os.Remove(path); err != nil {
						t.Fatal(err)
					}
				} else if err := os.WriteFile(path, bad, 0o600); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					if err := os.WriteFile(path, original, 0o600); err != nil {
						t.Fatal(err)
					}
				})
				if err := eventstore.VerifySegment(dir, seg); !errors.Is(err, eventstore.ErrArchiveCorrupt) {
					t.Errorf("VerifySegment = %v, want ErrArchiveCorrupt", err)
				}
				got, err := readArchived(t, s, db, dir, 0)
				if !errors.Is(err, eventstore.ErrArchiveCorrupt) || len(got) != 0 {
					t.Errorf("ReadArchived = %d events, %v; want none and ErrArchiveCorrupt", len(got), err)
				}
				err = s.ReadAllWithArchive(ctx, db, dir, 0, func(event.Envelope) error {
					t.Error("an event was read from a stream with a bad segment")
					return nil
				})
				if !errors.Is(err, eventstore.ErrArchiveCorrupt) {
					t.Errorf("ReadAllWithArchive = %v, want ErrArchiveCorrupt", err)
				}
			})
		}
		// Restored, it reads again.
		if got, err := readArchived(t, s, db, dir, 0); err != nil || len(got) != 3 {
			t.Errorf("after restoring the file: %d events, %v", len(got), err)
		}
	})
}

func decompress(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func compress(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
