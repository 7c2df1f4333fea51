package eventstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/eventstore"
)

// nanoClock has more precision than PostgreSQL keeps, so that SQLite's
// round trip shows it keeps every digit.
var nanoClock = time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC)

// seedExport appends 9 events to db, in five appends interleaved across
// three aggregates, and returns the store.
func seedExport(t *testing.T, db database.DB) *eventstore.Store {
	t.Helper()
	ctx := context.Background()
	reg := registry(t)
	s := eventstore.New(db, 3, func() time.Time { return nanoClock })
	a, b, c := event.NewID(), event.NewID(), event.NewID()
	version := map[string]int64{}
	for i, step := range []struct {
		id string
		n  int
	}{{a, 1}, {b, 1}, {c, 1}, {a, 2}, {b, 2}, {a, 1}, {c, 1}} {
		ps := []event.Payload{thingHappened{N: i}, otherHappened{S: `é "quoted" <tag> ` + step.id[:4]}}[:step.n]
		if _, err := appendTx(ctx, db, s, step.id, version[step.id], pending(t, reg, ps...)); err != nil {
			t.Fatal(err)
		}
		version[step.id] += int64(step.n)
	}
	return s
}

// knownThings knows the test registry's events.
func knownThings(name string) bool { return name == "ThingHappened" || name == "OtherHappened" }

func allRecords(t *testing.T, s *eventstore.Store, db database.DB) []eventstore.Record {
	t.Helper()
	head, err := s.Head(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	var out []eventstore.Record
	for pos := int64(0); pos < head; {
		recs, err := s.ReadRecords(context.Background(), db, pos, head, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			t.Fatalf("no event after %d, head %d", pos, head)
		}
		out = append(out, recs...)
		pos = recs[len(recs)-1].Position
	}
	return out
}

// wantEmpty fails unless db's event store is empty, head included.
func wantEmpty(t *testing.T, db database.DB) {
	t.Helper()
	var n, head int64
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM event_store`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(context.Background(), `SELECT position FROM event_stream_head WHERE id = 1`).Scan(&head); err != nil {
		t.Fatal(err)
	}
	if n != 0 || head != 0 {
		t.Fatalf("the store holds %d events, head %d; want nothing written", n, head)
	}
}

func TestExportImport(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		src := seedExport(t, db)
		var buf bytes.Buffer
		sum, err := src.Export(ctx, db, 0, &buf)
		if err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256(buf.Bytes())
		want := eventstore.Summary{Count: 9, First: 1, Last: 9, SHA256: hex.EncodeToString(digest[:])}
		if diff := cmp.Diff(want, sum); diff != "" {
			t.Fatalf("export summary (-want +got):\n%s", diff)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if len(lines) != 9 {
			t.Fatalf("%d lines, want 9:\n%s", len(lines), buf.String())
		}
		var first map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"position", "event_id", "event_name", "aggregate_type", "aggregate_id", "aggregate_version",
			"schema_version", "data", "metadata", "occurred_at", "created_at"} {
			if _, ok := first[k]; !ok {
				t.Errorf("line 1 has no %q: %s", k, lines[0])
			}
		}
		if len(first) != 11 {
			t.Errorf("line 1 has %d fields, want 11: %s", len(first), lines[0])
		}

		t.Run("round trip keeps every column", func(t *testing.T) {
			dst := dbtest.Open(t, db.Dialect())
			to := eventstore.New(dst, 2, nil)
			got, err := to.Import(ctx, bytes.NewReader(buf.Bytes()), eventstore.ImportOptions{Known: knownThings, SHA256: sum.SHA256})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(sum, got); diff != "" {
				t.Errorf("import summary (-export +import):\n%s", diff)
			}
			if diff := cmp.Diff(allRecords(t, src, db), allRecords(t, to, dst)); diff != "" {
				t.Errorf("rows differ (-source +imported):\n%s", diff)
			}
			if h, _ := to.Head(ctx, dst); h != 9 {
				t.Errorf("head %d, want 9", h)
			}
			if r := allRecords(t, to, dst); db.Dialect() == database.SQLite && !r[0].CreatedAt.Equal(nanoClock) {
				t.Errorf("created_at %v, want %v to the nanosecond", r[0].CreatedAt, nanoClock)
			}
			// The imported store goes on where the source stopped.
			reg := registry(t)
			envs, err := appendTx(ctx, dst, to, event.NewID(), 0, pending(t, reg, thingHappened{N: 9}))
			if err != nil || envs[0].Position != 10 {
				t.Fatalf("append after import: %+v, %v", envs, err)
			}
			// And it exports to the same bytes, up to the import's end.
			var again bytes.Buffer
			if _, err := to.Export(ctx, dst, 0, &again); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(again.String(), buf.String()) {
				t.Errorf("re-export differs:\n%s\nwant prefix\n%s", again.String(), buf.String())
			}
		})

		t.Run("after a position", func(t *testing.T) {
			var part bytes.Buffer
			sum, err := src.Export(ctx, db, 4, &part)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Count != 5 || sum.First != 5 || sum.Last != 9 {
				t.Fatalf("summary %+v, want 5 events from 5 to 9", sum)
			}
			dst := dbtest.Open(t, db.Dialect())
			to := eventstore.New(dst, 100, nil)
			if _, err := to.Import(ctx, &part, eventstore.ImportOptions{Known: knownThings}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(allRecords(t, src, db)[4:], allRecords(t, to, dst)); diff != "" {
				t.Errorf("rows differ (-source +imported):\n%s", diff)
			}
			if h, _ := to.Head(ctx, dst); h != 9 {
				t.Errorf("head %d, want 9", h)
			}
		})

		t.Run("empty export", func(t *testing.T) {
			var none bytes.Buffer
			sum, err := src.Export(ctx, db, 9, &none)
			if err != nil || sum.Count != 0 || none.Len() != 0 {
				t.Fatalf("export after the head: %+v, %q, %v", sum, none.String(), err)
			}
		})

		t.Run("refusals write nothing", func(t *testing.T) {
			if _, err := src.Import(ctx, bytes.NewReader(buf.Bytes()), eventstore.ImportOptions{Known: knownThings}); !errors.Is(err, eventstore.ErrNotEmpty) {
				t.Errorf("import into the source: %v, want ErrNotEmpty", err)
			}
			edit := func(i int, f func(m map[string]any)) func([]string) []string {
				return func(ls []string) []string {
					var m map[string]any
					if err := json.Unmarshal([]byte(ls[i]), &m); err != nil {
						t.Fatal(err)
					}
					f(m)
					b, err := json.Marshal(m)
					if err != nil {
						t.Fatal(err)
					}
					ls[i] = string(b)
					return ls
				}
			}
			tests := []struct {
				name  string
				lines func([]string) []string
				known func(string) bool
				sha   string
				want  string
			}{
				{name: "gap", lines: func(ls []string) []string { return append(ls[:4:4], ls[5:]...) }, want: "position 6 follows 4"},
				{name: "duplicate line", lines: func(ls []string) []string { return append(ls[:5:5], ls[4:]...) }, want: "position 5 appears twice"},
				{name: "duplicate event id", lines: func(ls []string) []string {
					// A copy of the last event, renumbered to fit: only the
					// database's uniqueness catches it, after two batches.
					ls = append(ls, ls[8])
					return edit(9, func(m map[string]any) {
						m["position"] = 10
						m["aggregate_version"] = m["aggregate_version"].(float64) + 1
					})(ls)
				}, want: "appears twice in the file"},
				{name: "corrupt line", lines: func(ls []string) []string { ls[6] = ls[6][:len(ls[6])/2]; return ls }, want: "line 7: not an event"},
				{name: "not JSON", lines: func(ls []string) []string { ls[0] = "hello"; return ls }, want: "line 1: not an event"},
				{name: "empty line", lines: func(ls []string) []string { ls[3] = ""; return ls }, want: "line 4: the line is empty"},
				{name: "unknown field", lines: edit(2, func(m map[string]any) { m["extra"] = 1 }), want: `unknown field "extra"`},
				{name: "missing field", lines: edit(2, func(m map[string]any) { delete(m, "occurred_at") }), want: "occurred_at and created_at are required"},
				{name: "data not an object", lines: edit(2, func(m map[string]any) { m["data"] = "x" }), want: "data is not a JSON object"},
				{name: "metadata of another event", lines: edit(2, func(m map[string]any) { m["metadata"].(map[string]any)["event_id"] = event.NewID() }), want: "metadata.event_id"},
				{name: "unknown event", known: func(n string) bool { return n == "ThingHappened" }, want: `event_name "OtherHappened" is not an event this program knows`},
				{name: "version gap", lines: edit(5, func(m map[string]any) { m["aggregate_version"] = m["aggregate_version"].(float64) + 1 }), want: "an aggregate's versions must go up by one"},
				{name: "version not from 1", lines: func(ls []string) []string {
					return edit(0, func(m map[string]any) { m["aggregate_version"] = 2 })(ls)
				}, want: "every aggregate starts at version 1"},
				{name: "checksum", sha: strings.Repeat("0", 64), want: "SHA-256"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					ls := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
					if tt.lines != nil {
						ls = tt.lines(ls)
					}
					known := knownThings
					if tt.known != nil {
						known = tt.known
					}
					dst := dbtest.Open(t, db.Dialect())
					to := eventstore.New(dst, 2, nil)
					_, err := to.Import(ctx, strings.NewReader(strings.Join(ls, "\n")+"\n"), eventstore.ImportOptions{Known: known, SHA256: tt.sha})
					if !errors.Is(err, eventstore.ErrBadExport) || !strings.Contains(err.Error(), tt.want) {
						t.Errorf("import: %v; want ErrBadExport saying %q", err, tt.want)
					}
					wantEmpty(t, dst)
				})
			}
		})
	})
}

// TestImportAcrossEngines moves an SQLite store to PostgreSQL: the import
// checks the rows it reads back in a form both engines give alike (jsonb
// respaces and reorders JSON, and keeps times to the microsecond).
func TestImportAcrossEngines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.Open(t, database.SQLite)
	src := seedExport(t, db)
	var buf bytes.Buffer
	if _, err := src.Export(ctx, db, 0, &buf); err != nil {
		t.Fatal(err)
	}
	dst := dbtest.Open(t, database.Postgres)
	to := eventstore.New(dst, 4, nil)
	if _, err := to.Import(ctx, &buf, eventstore.ImportOptions{Known: knownThings}); err != nil {
		t.Fatal(err)
	}
	want, got := allRecords(t, src, db), allRecords(t, to, dst)
	semantic := cmp.Options{
		cmp.Comparer(func(a, b json.RawMessage) bool {
			var x, y any
			return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
		}),
		cmp.Comparer(func(a, b time.Time) bool { return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond)) }),
	}
	if diff := cmp.Diff(want, got, semantic); diff != "" {
		t.Errorf("rows differ (-sqlite +postgres):\n%s", diff)
	}
}
