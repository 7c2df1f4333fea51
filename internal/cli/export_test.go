package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
	"github.com/spf13/cobra"

	"insure/internal/config"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/eventstore"
)

// eventsRun runs one events subcommand, made by newCmd, on the database at
// url with args, MAX_EVENTS_PER_BATCH at 3 so that every export and import
// takes several batches.
func eventsRun(t *testing.T, newCmd func(env, *globals) *cobra.Command, url string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	vars := map[string]string{"MAX_EVENTS_PER_BATCH": "3", "LOG_LEVEL": "error"}
	var out, errs bytes.Buffer
	e := env{lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, stdout: &out, stderr: &errs}
	cmd := newCmd(e, &globals{databaseURL: url})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errs)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	err = cmd.ExecuteContext(ctx)
	return out.Bytes(), errs.Bytes(), err
}

// freshDatabaseURL is the URL of a new, empty database of dialect d.
func freshDatabaseURL(t *testing.T, d database.Dialect) string {
	t.Helper()
	if d == database.Postgres {
		return dbtest.PostgresURL() + "&search_path=" + dbtest.NewSchema(t)
	}
	return filepath.Join(t.TempDir(), "imported.db")
}

// storedEvents returns every event of the database at url, every column
// but the surrogate id, as stored.
func storedEvents(t *testing.T, url string) []eventstore.Record {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	if err := cfg.Set("DATABASE_URL", url); err != nil {
		t.Fatal(err)
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := eventstore.New(db, 1000, nil)
	head, err := store.Head(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	var out []eventstore.Record
	for pos := int64(0); pos < head; {
		recs, err := store.ReadRecords(ctx, db, pos, head, 0)
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

var summaryRE = regexp.MustCompile(`(?m)^(?:ex|im)ported (\d+) events \(positions (\d+) to (\d+)\) .*\nsha256 ([0-9a-f]{64}) \(of the uncompressed JSON Lines\)$`)

// summaryOf reads the summary a command printed on stderr.
func summaryOf(t *testing.T, stderr []byte) (count, first, last, sha string) {
	t.Helper()
	m := summaryRE.FindSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary in %q", stderr)
	}
	return string(m[1]), string(m[2]), string(m[3]), string(m[4])
}

func TestExportImportCommands(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, d)
			s := startSystem(t, cfg)
			srv := httptest.NewServer(s.Handler())
			t.Cleanup(srv.Close)
			c := client{t: t, base: srv.URL}
			for i := range 3 {
				c.expect(201, "POST", "/api/v1/customers", map[string]any{
					"name": fmt.Sprintf("Export Person %d", i), "email": fmt.Sprintf("export%d@example.com", i),
					"phone": fmt.Sprintf("+91 98765 4321%d", i), "channel": "web", "preferences": map[string]bool{"email": true}})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := s.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Queue.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			source := storedEvents(t, cfg.DatabaseURL)
			if len(source) < 6 {
				t.Fatalf("only %d events to export", len(source))
			}
			dir := t.TempDir()

			for _, name := range []string{"events.jsonl.zst", "events.jsonl", "-"} {
				t.Run(name, func(t *testing.T) {
					to := name
					if name != "-" {
						to = filepath.Join(dir, name)
					}
					stdout, stderr, err := eventsRun(t, newEventsExportCmd, cfg.DatabaseURL, "--to", to)
					if err != nil {
						t.Fatalf("export: %v\n%s", err, stderr)
					}
					count, first, last, sha := summaryOf(t, stderr)
					if want := fmt.Sprint(len(source)); count != want || first != "1" || last != want {
						t.Errorf("summary: %s events, %s to %s; want %s, 1 to %s", count, first, last, want, want)
					}
					content := stdout
					if name != "-" {
						raw, err := os.ReadFile(to)
						if err != nil {
							t.Fatal(err)
						}
						content = raw
						if strings.HasSuffix(name, ".zst") {
							if !bytes.HasPrefix(raw, zstdMagic) {
								t.Fatalf("%s is not zstd: % x", name, raw[:8])
							}
							zr, err := zstd.NewReader(bytes.NewReader(raw))
							if err != nil {
								t.Fatal(err)
							}
							content, err = io.ReadAll(zr)
							zr.Close()
							if err != nil {
								t.Fatal(err)
							}
						}
						entries, _ := os.ReadDir(dir)
						for _, e := range entries {
							if strings.HasSuffix(e.Name(), ".tmp") {
								t.Errorf("temporary file %s left behind", e.Name())
							}
						}
					} else if len(stdout) == 0 {
						t.Fatal("nothing on stdout")
					}
					if sum := sha256.Sum256(content); hex.EncodeToString(sum[:]) != sha {
						t.Errorf("printed sha256 %s, the content's is %x", sha, sum)
					}
					if n := bytes.Count(content, []byte("\n")); n != len(source) {
						t.Errorf("%d lines, want %d", n, len(source))
					}
					if bytes.Contains(content, []byte("export1@example.com")) || !bytes.Contains(content, []byte("enc:v1:")) {
						t.Error("personal fields are not sealed in the export")
					}

					from := to
					if name == "-" {
						from = filepath.Join(t.TempDir(), "stdout.jsonl")
						if err := os.WriteFile(from, stdout, 0o600); err != nil {
							t.Fatal(err)
						}
					}
					target := freshDatabaseURL(t, d)
					_, stderr, err = eventsRun(t, newEventsImportCmd, target, "--from", from, "--sha256", sha)
					if err != nil {
						t.Fatalf("import: %v\n%s", err, stderr)
					}
					if c2, _, _, sha2 := summaryOf(t, stderr); c2 != count || sha2 != sha {
						t.Errorf("import summary %s events sha256 %s, want %s and %s", c2, sha2, count, sha)
					}
					if !strings.Contains(string(stderr), "projections rebuild") {
						t.Errorf("import does not say to rebuild the read models: %s", stderr)
					}
					if diff := cmp.Diff(source, storedEvents(t, target)); diff != "" {
						t.Errorf("imported rows differ (-source +imported):\n%s", diff)
					}

					// A second import finds the store not empty.
					_, _, err = eventsRun(t, newEventsImportCmd, target, "--from", from)
					if err == nil || !strings.Contains(err.Error(), "not empty") {
						t.Errorf("import into a non-empty store: %v", err)
					}
				})
			}

			t.Run("refusals", func(t *testing.T) {
				plain, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
				if err != nil {
					t.Skip("the plain export did not run")
				}
				lines := strings.SplitAfter(string(plain), "\n")
				for name, tt := range map[string]struct {
					content string
					want    string
				}{
					"unknown event": {strings.Replace(string(plain), `"event_name":"CustomerRegistered"`, `"event_name":"CustomerAbducted"`, 1), `"CustomerAbducted" is not an event this program knows`},
					"gap":           {strings.Join(append(lines[:2:2], lines[3:]...), ""), "positions must go up by one"},
					"corrupt":       {string(plain[:len(plain)-10]), "not an event as export writes it"},
				} {
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						from := filepath.Join(t.TempDir(), "bad.jsonl")
						if err := os.WriteFile(from, []byte(tt.content), 0o600); err != nil {
							t.Fatal(err)
						}
						target := freshDatabaseURL(t, d)
						_, _, err := eventsRun(t, newEventsImportCmd, target, "--from", from)
						if err == nil || !strings.Contains(err.Error(), tt.want) {
							t.Fatalf("import: %v; want an error saying %q", err, tt.want)
						}
						if got := storedEvents(t, target); len(got) != 0 {
							t.Errorf("a refused import wrote %d events", len(got))
						}
					})
				}
			})
		})
	}

	t.Run("a failed export leaves no file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		// A database without the schema: the export fails at its first read.
		url := filepath.Join(dir, "empty.db")
		to := filepath.Join(dir, "out.jsonl.zst")
		_, _, err := eventsRun(t, newEventsExportCmd, url, "--to", to)
		if err == nil {
			t.Fatal("export of a database without an event store succeeded")
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "out") || strings.HasPrefix(e.Name(), ".out") {
				t.Errorf("%s left behind by a failed export", e.Name())
			}
		}
	})
}
