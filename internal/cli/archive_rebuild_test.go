package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/app"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/projection"
)

// TestRebuildThroughArchive seeds a database, catches every projection up,
// archives with a clock two years ahead, and then rebuilds every
// projection and builds every one again from position 0 through the
// archive, on SQLite and PostgreSQL: the read models are what they were
// before the archive. A tampered segment fails the rebuild with
// ErrArchiveCorrupt and leaves the live tables as they were.
func TestRebuildThroughArchive(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cfg := testConfig(t, d)
			cfg.ArchiveDir = filepath.Join(t.TempDir(), "archive")
			seedArchiveWorld(t, cfg)
			future := time.Now().AddDate(2, 0, 0)
			s, err := Open(ctx, cfg, newLoggerDiscard(), Options{Migrate: true, Now: func() time.Time { return future }})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			access := app.NewAccessService(app.Deps{Recorder: s.Recorder, Reader: s.Reader, Now: s.Now, Logger: s.Logger})
			for i := range 3 {
				ec := event.Context{Actor: "auditor", IP: "192.0.2.1", UserAgent: "test", CorrelationID: fmt.Sprintf("req-%d", i)}
				if err := access.Record(ctx, ec, "admin", "read", "customer", fmt.Sprintf("subject-%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			projs := s.Projections.Projections()
			for _, p := range projs {
				if _, err := s.Projections.CatchUp(ctx, p.Name()); err != nil {
					t.Fatal(err)
				}
			}
			before := readModels(t, s)
			for _, table := range []string{"customers", "quotations", "policies", "messages", "documents", "audit_log", "access_log"} {
				if len(before[table]) == 0 {
					t.Errorf("read model %s is empty: the comparisons below would prove little", table)
				}
			}

			rep, err := archiveEvents(ctx, s, retentionOptions{OlderThanDays: 365, SegmentEvents: 7})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Archived() == 0 || len(rep.Segments) < 2 {
				t.Fatalf("archived %d events in %d segments, want several segments", rep.Archived(), len(rep.Segments))
			}
			var oldest int64
			if err := s.DB.QueryRow(ctx, `SELECT MIN(first_position) FROM event_archive_segments`).Scan(&oldest); err != nil || oldest != 1 {
				t.Fatalf("oldest archived position %d, %v; want 1", oldest, err)
			}

			// Rebuild every projection: small batches for half of them, so
			// the copy crosses the archive in several batches; the default
			// for the others, so one batch holds it all.
			for i, p := range projs {
				opts := projection.RebuildOptions{}
				if i%2 == 0 {
					opts.BatchSize = 5
				}
				if err := rebuildProjection(ctx, io.Discard, s.Projections, p.Name(), opts); err != nil {
					t.Fatalf("rebuild %s after the archive: %v", p.Name(), err)
				}
			}
			if diff := cmp.Diff(before, readModels(t, s)); diff != "" {
				t.Errorf("read models after rebuilding through the archive (-before +after):\n%s", diff)
			}

			// A projection reset to 0 (its tables emptied, its checkpoint
			// gone) catches up through the archive.
			for _, p := range projs {
				for _, table := range p.Tables() {
					if _, err := s.DB.Exec(ctx, `DELETE FROM `+table); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := s.DB.Exec(ctx, `DELETE FROM projection_checkpoints WHERE name = $1`, p.Name()); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Projections.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			for _, p := range projs {
				n, err := s.Projections.CatchUp(ctx, p.Name())
				if err != nil {
					t.Fatalf("catch %s up from 0 through the archive: %v", p.Name(), err)
				}
				if n == 0 {
					t.Errorf("catch-up of %s from 0 applied nothing", p.Name())
				}
			}
			if diff := cmp.Diff(before, readModels(t, s)); diff != "" {
				t.Errorf("read models after catching up from 0 through the archive (-before +after):\n%s", diff)
			}

			// A tampered segment fails the rebuild; the live tables stay.
			path := filepath.Join(s.Config.ArchiveDir, rep.Segments[0].File)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			raw[len(raw)-5] ^= 0xff
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{projection.NameCustomers, projection.NameQuotations} {
				err := rebuildProjection(ctx, io.Discard, s.Projections, name, projection.RebuildOptions{Restart: true})
				if !errors.Is(err, eventstore.ErrArchiveCorrupt) {
					t.Errorf("rebuild %s over a tampered segment = %v, want ErrArchiveCorrupt", name, err)
				}
			}
			if diff := cmp.Diff(before, readModels(t, s)); diff != "" {
				t.Errorf("read models after the failed rebuilds (-before +after):\n%s", diff)
			}

			// Without the archive directory, a rebuild says what is missing.
			if err := os.RemoveAll(s.Config.ArchiveDir); err != nil {
				t.Fatal(err)
			}
			err = rebuildProjection(ctx, io.Discard, s.Projections, projection.NameCustomers, projection.RebuildOptions{Restart: true})
			if !errors.Is(err, projection.ErrArchived) || !strings.Contains(err.Error(), s.Config.ArchiveDir) {
				t.Errorf("rebuild without the archive directory = %v, want ErrArchived naming it", err)
			}
		})
	}
}

// readModels returns the rows of every read model, as text, in a stable
// order: the customers opened through the Reader (their sealed columns
// seal again with new nonces) and their other columns raw, the other
// tables raw.
func readModels(t *testing.T, s *System) map[string][]string {
	t.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	for after := ""; ; {
		page, next, err := s.Reader.Customers(ctx, projection.CustomerFilter{}, after, 200)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			out["customers (opened)"] = append(out["customers (opened)"], fmt.Sprintf("%+v", c))
		}
		if next == "" {
			break
		}
		after = next
	}
	for _, p := range s.Projections.Projections() {
		for _, table := range p.Tables() {
			cols := columns(t, s.DB, table)
			if table == "customers" {
				cols = []string{"id", "channel", "pref_email", "pref_whatsapp", "email_verified", "version", "created_at", "updated_at", "erased_at"}
			}
			exprs := make([]string, len(cols))
			for i, c := range cols {
				exprs[i] = "COALESCE(CAST(" + c + " AS TEXT), '<null>')"
			}
			rows, err := s.DB.Query(ctx, `SELECT `+strings.Join(exprs, " || '|' || ")+` FROM `+table+` ORDER BY 1`)
			if err != nil {
				t.Fatalf("read %s: %v", table, err)
			}
			out[table] = []string{}
			for rows.Next() {
				var row string
				if err := rows.Scan(&row); err != nil {
					t.Fatal(err)
				}
				out[table] = append(out[table], row)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			_ = rows.Close()
		}
	}
	return out
}

// columns returns the names of table's columns.
func columns(t *testing.T, db database.DB, table string) []string {
	t.Helper()
	q := `SELECT name FROM pragma_table_info($1) ORDER BY cid`
	if db.Dialect() == database.Postgres {
		q = `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`
	}
	rows, err := db.Query(context.Background(), q, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cols) == 0 {
		t.Fatalf("table %s has no columns", table)
	}
	return cols
}
