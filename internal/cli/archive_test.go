package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/config"
	"insure/internal/customer"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/policy"
	"insure/internal/quotation"
)

// archiveWorld is what the archive tests seed: customers, quotations and
// policies with several events each, and the customers whose events must
// stay whatever their age.
type archiveWorld struct {
	customers, quotations, policies []string
	// pendingJob has listener jobs that never ran; deadLetter has an
	// unresolved dead letter on its first event; erased was erased.
	pendingJob, deadLetter, erased string
}

// seedArchiveWorld fills a new database with cfg through a system with
// queue workers, and closes it.
func seedArchiveWorld(t *testing.T, cfg config.Config) archiveWorld {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, cfg, newLoggerDiscard(), Options{Workers: true, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ec := event.Context{Actor: "test"}
	var w archiveWorld
	register := func(i int) string {
		t.Helper()
		c, err := s.Customers.Register(ctx, ec, customer.Register{Name: fmt.Sprintf("Customer %d", i),
			Email: fmt.Sprintf("customer%d@example.com", i), Phone: fmt.Sprintf("98765432%02d", i)})
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("Customer %d (renamed)", i)
		if _, err := s.Customers.Update(ctx, ec, c.ID, nil, customer.UpdateProfile{Name: &name}); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	today := s.Now()
	for i := range 3 {
		id := register(i)
		phone := fmt.Sprintf("99887766%02d", i)
		if _, err := s.Customers.Update(ctx, ec, id, nil, customer.UpdateProfile{Phone: &phone}); err != nil {
			t.Fatal(err)
		}
		w.customers = append(w.customers, id)
		details, _ := json.Marshal(map[string]int{"age": 30 + i, "members": 1})
		q, err := s.Quotations.Request(ctx, ec, quotation.Request{CustomerID: id, Product: "health", SumInsured: 50_000_000, Details: details})
		if err != nil {
			t.Fatal(err)
		}
		w.quotations = append(w.quotations, q.ID)
		p, err := s.Policies.Create(ctx, ec, policy.Create{CustomerID: id, Insurer: s.Policies.Rates.Insurers()[0], Product: "health",
			Premium: 1_200_000, SumInsured: 50_000_000, StartDate: today.Format("2006-01-02"), EndDate: today.AddDate(1, 0, -1).Format("2006-01-02")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Policies.Renew(ctx, ec, p.ID, policy.Renew{}); err != nil {
			t.Fatal(err)
		}
		w.policies = append(w.policies, p.ID)
	}
	w.erased = register(10)
	if _, err := s.Erasure.Erase(ctx, ec, w.erased); err != nil {
		t.Fatal(err)
	}
	w.deadLetter = register(11)
	envs, err := s.Store.Load(ctx, s.DB, customer.AggregateType, w.deadLetter)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.Exec(ctx, `INSERT INTO dead_letters (job_id, listener, queue, event_id, attempts, error, status, failed_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'dead', $7)`, 1_000_000, "send_welcome_email", "email-normal", envs[0].EventID, 3, "gave up", time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	stop, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Queue.Stop(stop); err != nil {
		t.Fatal(err)
	}
	// With the workers stopped, this customer's jobs stay available.
	w.pendingJob = register(12)
	return w
}

// archiveSnapshot is everything a test compares before and after archiving.
type archiveSnapshot struct {
	stream    []event.Envelope
	versions  map[aggKey]int64
	states    map[aggKey]string
	snapshots []string
}

func takeArchiveSnapshot(t *testing.T, s *System, w archiveWorld) archiveSnapshot {
	t.Helper()
	ctx := context.Background()
	snap := archiveSnapshot{versions: map[aggKey]int64{}, states: map[aggKey]string{}}
	for after := int64(0); ; {
		envs, err := s.Store.ReadAll(ctx, s.DB, after, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(envs) == 0 {
			break
		}
		snap.stream = append(snap.stream, envs...)
		after = envs[len(envs)-1].Position
	}
	for _, env := range snap.stream {
		key := aggKey{env.AggregateType, env.AggregateID}
		if _, ok := snap.versions[key]; ok {
			continue
		}
		v, err := s.Store.Version(ctx, s.DB, key.typ, key.id)
		if err != nil {
			t.Fatal(err)
		}
		snap.versions[key] = v
	}
	state := func(key aggKey, v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("load %s %s: %v", key.typ, key.id, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		snap.states[key] = string(b)
	}
	for _, id := range slices.Concat(w.customers, []string{w.erased, w.deadLetter, w.pendingJob}) {
		c, err := s.Customers.Aggregate(ctx, nil, id)
		state(aggKey{customer.AggregateType, id}, c, err)
	}
	for _, id := range w.quotations {
		q, err := s.Quotations.Aggregate(ctx, nil, id)
		state(aggKey{quotation.AggregateType, id}, q, err)
	}
	for _, id := range w.policies {
		p, err := s.Policies.Aggregate(ctx, nil, id)
		state(aggKey{policy.AggregateType, id}, p, err)
	}
	rows, err := s.DB.Query(ctx, `SELECT aggregate_type, aggregate_id, version, schema_version, state FROM aggregate_snapshots
		ORDER BY aggregate_type, aggregate_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var typ, id, st string
		var v, sv int64
		if err := rows.Scan(&typ, &id, &v, &sv, &st); err != nil {
			t.Fatal(err)
		}
		snap.snapshots = append(snap.snapshots, fmt.Sprintf("%s/%s@%d.%d:%s", typ, id, v, sv, st))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return snap
}

func tableRows(t *testing.T, s *System) []int64 {
	t.Helper()
	rows, err := s.DB.Query(context.Background(), `SELECT position FROM event_store ORDER BY position`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
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

func mergedStream(t *testing.T, s *System) ([]event.Envelope, error) {
	t.Helper()
	var out []event.Envelope
	err := s.Store.ReadAllWithArchive(context.Background(), s.DB, s.Config.ArchiveDir, 0, func(env event.Envelope) error {
		out = append(out, env)
		return nil
	})
	return out, err
}

// TestArchiveEvents seeds a database, then archives it with a clock two
// years ahead (so every event is older than EVENT_RETENTION_DAYS): a dry
// run, a run that fails after writing its file, a real run and a second
// one, on SQLite and PostgreSQL. It checks that only what may go went,
// that everything loads as before and that the archive plus the table is
// the stream as it was.
func TestArchiveEvents(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cfg := testConfig(t, d)
			cfg.ArchiveDir = filepath.Join(t.TempDir(), "archive")
			w := seedArchiveWorld(t, cfg)
			future := time.Now().AddDate(2, 0, 0)
			s, err := Open(ctx, cfg, newLoggerDiscard(), Options{Migrate: true, Now: func() time.Time { return future }})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Every projection has applied every event: none holds the
			// archive back.
			for _, p := range s.Projections.Projections() {
				if _, err := s.Projections.CatchUp(ctx, p.Name()); err != nil {
					t.Fatal(err)
				}
			}
			before := takeArchiveSnapshot(t, s, w)
			positions := tableRows(t, s)
			perType := map[string]int64{}
			for _, env := range before.stream {
				perType[env.AggregateType]++
			}
			opts := retentionOptions{OlderThanDays: 365, SegmentEvents: 7}

			// The dry run plans and changes nothing.
			dry := opts
			dry.DryRun = true
			rep, err := archiveEvents(ctx, s, dry)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			printRetention(&out, rep)
			t.Logf("dry run:\n%s", out.String())
			checkPlan(t, rep, perType, w)
			if diff := cmp.Diff(before, takeArchiveSnapshot(t, s, w), cmp.AllowUnexported(archiveSnapshot{})); diff != "" {
				t.Errorf("the dry run changed something (-before +after):\n%s", diff)
			}
			if _, err := os.Stat(s.Config.ArchiveDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the dry run made the archive directory: %v", err)
			}
			if n := count(t, s.DB, `SELECT COUNT(*) FROM event_archive_segments`); n != 0 {
				t.Errorf("%d segments after the dry run", n)
			}

			// A projection that has not applied every old event stops the
			// run before the first event it has not applied.
			var lagging int64
			if err := s.DB.QueryRow(ctx, `SELECT position FROM projection_checkpoints WHERE name = 'customers'`).Scan(&lagging); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DB.Exec(ctx, `UPDATE projection_checkpoints SET position = 9 WHERE name = 'customers'`); err != nil {
				t.Fatal(err)
			}
			rep, err = archiveEvents(ctx, s, dry)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Horizon != 10 || !strings.Contains(rep.StoppedBy, "projection customers") || rep.Later != int64(len(positions)-9) {
				t.Errorf("with a projection at 9: stopped at %d (%s), %d later; want 10 and %d", rep.Horizon, rep.StoppedBy, rep.Later, len(positions)-9)
			}
			if _, err := s.DB.Exec(ctx, `UPDATE projection_checkpoints SET position = $1 WHERE name = 'customers'`, lagging); err != nil {
				t.Fatal(err)
			}

			// A run that fails after writing its first file, before it
			// commits, leaves the table whole.
			crash := errors.New("simulated crash")
			failing := opts
			failing.afterWrite = func(eventstore.Segment) error { return crash }
			if _, err := archiveEvents(ctx, s, failing); !errors.Is(err, crash) {
				t.Fatalf("archive = %v, want the simulated crash", err)
			}
			if diff := cmp.Diff(positions, tableRows(t, s)); diff != "" {
				t.Errorf("the failed run deleted events (-before +after):\n%s", diff)
			}
			if n := count(t, s.DB, `SELECT COUNT(*) FROM event_archive_segments`); n != 0 {
				t.Errorf("%d segments recorded by the failed run", n)
			}
			if files, _ := filepath.Glob(filepath.Join(s.Config.ArchiveDir, "events-*.jsonl.zst")); len(files) != 1 {
				t.Errorf("after the failed run the archive holds %v, want the one orphan", files)
			}

			// The real run.
			rep, err = archiveEvents(ctx, s, opts)
			if err != nil {
				t.Fatal(err)
			}
			out.Reset()
			printRetention(&out, rep)
			t.Logf("archive:\n%s", out.String())
			checkPlan(t, rep, perType, w)
			if len(rep.Segments) < 2 {
				t.Errorf("%d segments, want several of at most 7 events", len(rep.Segments))
			}
			var inSegments int64
			for _, seg := range rep.Segments {
				if seg.Count > 7 {
					t.Errorf("segment %s holds %d events", seg.File, seg.Count)
				}
				if err := eventstore.VerifySegment(s.Config.ArchiveDir, seg); err != nil {
					t.Errorf("VerifySegment: %v", err)
				}
				inSegments += seg.Count
			}
			if !strings.Contains(out.String(), "segment "+filepath.Join(s.Config.ArchiveDir, rep.Segments[0].File)) {
				t.Errorf("the report does not name the segment files:\n%s", out.String())
			}
			var archived []event.Envelope
			if err := s.Store.ReadArchived(ctx, s.DB, s.Config.ArchiveDir, 0, func(env event.Envelope) error {
				archived = append(archived, env)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if int64(len(archived)) != inSegments || inSegments != rep.Archived() {
				t.Errorf("%d events read from the archive, %d in the segments, %d reported", len(archived), inSegments, rep.Archived())
			}
			gone := map[int64]bool{}
			archivedTypes := map[string]bool{}
			for _, env := range archived {
				gone[env.Position] = true
				archivedTypes[env.AggregateType] = true
				switch env.AggregateID {
				case w.pendingJob, w.deadLetter, w.erased:
					t.Errorf("archived event %d of customer %s, which must stay", env.Position, env.AggregateID)
				}
			}
			if diff := cmp.Diff(map[string]bool{customer.AggregateType: true, policy.AggregateType: true, quotation.AggregateType: true}, archivedTypes); diff != "" {
				t.Errorf("aggregate types archived (-want +got):\n%s", diff)
			}
			want := slices.DeleteFunc(slices.Clone(positions), func(p int64) bool { return gone[p] })
			if diff := cmp.Diff(want, tableRows(t, s)); diff != "" {
				t.Errorf("event_store did not lose exactly the archived rows (-want +got):\n%s", diff)
			}
			after := takeArchiveSnapshot(t, s, w)
			if diff := cmp.Diff(before.versions, after.versions, cmp.AllowUnexported(aggKey{})); diff != "" {
				t.Errorf("versions changed (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(before.states, after.states, cmp.AllowUnexported(aggKey{})); diff != "" {
				t.Errorf("aggregates load differently (-before +after):\n%s", diff)
			}
			merged, err := mergedStream(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before.stream, merged); diff != "" {
				t.Errorf("ReadAllWithArchive is not the stream as it was (-before +merged):\n%s", diff)
			}

			// An archived customer takes new commands at the right version.
			c := w.customers[0]
			name := "Customer 0 (after the archive)"
			if _, err := s.Customers.Update(ctx, event.Context{Actor: "test"}, c, nil, customer.UpdateProfile{Name: &name}); err != nil {
				t.Fatal(err)
			}
			got, err := s.Customers.Aggregate(ctx, nil, c)
			if want := before.versions[aggKey{customer.AggregateType, c}] + 1; err != nil || got.Version != want || got.Name != name {
				t.Errorf("after an update, customer %+v, %v; want version %d", got, err, want)
			}

			// A customer whose first events are archived can still be
			// erased and loaded (the snapshot goes with the key; the load
			// falls back to the archive), and read as of a past moment.
			c1 := w.customers[1]
			var registered time.Time
			for _, env := range before.stream {
				if env.AggregateID == c1 && env.AggregateVersion == 1 {
					registered = env.OccurredAt
				}
			}
			if !gone[positionOf(before.stream, c1, 1)] {
				t.Fatalf("customer %s's registration was not archived; the check below would prove nothing", c1)
			}
			past, err := s.Customers.GetAsOf(ctx, c1, registered)
			if err != nil || past.Version != 1 || past.Name == "" {
				t.Errorf("customer as of its registration = %+v, %v", past, err)
			}
			if _, err := s.Erasure.Erase(ctx, event.Context{Actor: "test"}, c1); err != nil {
				t.Fatalf("erase a customer with archived events: %v", err)
			}
			gotErased, err := s.Customers.Aggregate(ctx, nil, c1)
			if err != nil || !gotErased.Erased || gotErased.Name != event.Erased {
				t.Errorf("erased customer with archived events loads as %+v, %v", gotErased, err)
			}

			// A second run archives what became old enough (the customer's
			// former newest event), in a segment overlapping the others.
			rep, err = archiveEvents(ctx, s, opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Archived() != 1 || len(rep.Segments) != 1 {
				t.Errorf("second run archived %d events in %v, want the customer's former newest", rep.Archived(), rep.Segments)
			}
			now := takeArchiveSnapshot(t, s, w)
			merged, err = mergedStream(t, s)
			if err != nil {
				t.Fatal(err)
			}
			last := before.stream[len(before.stream)-1].Position
			wantStream := slices.Clone(before.stream)
			for _, env := range now.stream {
				if env.Position > last {
					wantStream = append(wantStream, env) // the update and the erasure since
				}
			}
			if diff := cmp.Diff(wantStream, merged); diff != "" {
				t.Errorf("after the second run, the merged stream (-want +got):\n%s", diff)
			}

			// A segment changed on disk is refused before any event is read.
			path := filepath.Join(s.Config.ArchiveDir, rep.Segments[0].File)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			raw[len(raw)-5] ^= 0xff
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			if got, err := mergedStream(t, s); !errors.Is(err, eventstore.ErrArchiveCorrupt) || len(got) != 0 {
				t.Errorf("tampered segment: read %d events, %v; want none and ErrArchiveCorrupt", len(got), err)
			}
		})
	}
}

// checkPlan checks what a retention run moved or would move.
func checkPlan(t *testing.T, rep *retentionReport, perType map[string]int64, w archiveWorld) {
	t.Helper()
	for typ, n := range perType {
		c := rep.Types[typ]
		if c == nil {
			t.Errorf("%s: not in the report", typ)
			continue
		}
		if _, ok := archivables()[typ]; !ok {
			if c.Archived != 0 || !cmp.Equal(c.Kept, map[string]int64{keptNoSnapshots: n}) {
				t.Errorf("%s (no snapshots): %d archived, kept %v; want all %d kept", typ, c.Archived, c.Kept, n)
			}
			continue
		}
		var kept int64
		for _, k := range c.Kept {
			kept += k
		}
		if c.Archived == 0 || c.Archived+kept != n {
			t.Errorf("%s: %d archived, %d kept, of %d", typ, c.Archived, kept, n)
		}
	}
	cust := rep.Types[customer.AggregateType]
	for _, why := range []string{keptOpenJob, keptDeadLetter, keptErased, keptNewest, keptAfterKept} {
		if cust == nil || cust.Kept[why] == 0 {
			t.Errorf("no customer event kept because %q: %v", why, cust)
		}
	}
	if n := rep.Types[policy.AggregateType].Kept[keptNewest]; n != int64(len(w.policies)) {
		t.Errorf("%d policy events kept as newest, want %d", n, len(w.policies))
	}
	if len(rep.Problems) != 0 {
		t.Errorf("problems: %v", rep.Problems)
	}
}

// TestArchiveCommand runs insure events archive itself: nothing is old
// enough by the real clock.
func TestArchiveCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	vars := map[string]string{"DATABASE_URL": filepath.Join(dir, "insure.db"), "ARCHIVE_DIR": filepath.Join(dir, "archive"),
		"LOG_LEVEL": "error"}
	code, stdout, stderr := keysRun(t, vars, "events", "archive", "--dry-run")
	if code != 0 || !strings.Contains(stdout, "events older than 365 days (occurred before ") ||
		!strings.Contains(stdout, "dry run: nothing was changed") {
		t.Errorf("dry run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = keysRun(t, vars, "events", "archive", "--older-than-days", "30")
	if code != 0 || !strings.Contains(stdout, "events older than 30 days") || !strings.Contains(stdout, "nothing was archived") {
		t.Errorf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := keysRun(t, vars, "events", "archive", "--older-than-days", "0"); code != 1 || !strings.Contains(stderr, "--older-than-days 0") {
		t.Errorf("--older-than-days 0: exit %d, %s", code, stderr)
	}
	vars["SNAPSHOT_EVERY"] = "0"
	if code, _, stderr := keysRun(t, vars, "events", "archive", "--dry-run"); code != 1 || !strings.Contains(stderr, "SNAPSHOT_EVERY is 0") {
		t.Errorf("SNAPSHOT_EVERY=0: exit %d, %s", code, stderr)
	}
}

// positionOf is the position of an aggregate's event at a version in
// stream, 0 when there is none.
func positionOf(stream []event.Envelope, aggregateID string, version int64) int64 {
	for _, env := range stream {
		if env.AggregateID == aggregateID && env.AggregateVersion == version {
			return env.Position
		}
	}
	return 0
}
