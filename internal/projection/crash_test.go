package projection_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/projection"
)

// The crash test's child process reads what to do from these variables.
const (
	envCrashMode    = "INSURE_CRASH_MODE" // catch-up | rebuild
	envCrashSQLite  = "INSURE_CRASH_SQLITE"
	envCrashPostgre = "INSURE_CRASH_POSTGRES_SCHEMA"
)

// slowSeen is seen taking a millisecond per event, so that the parent can
// kill the process running it in the middle of the stream.
type slowSeen struct{ seen }

func (s slowSeen) Apply(ctx context.Context, tx database.Tx, to projection.Target, env event.Envelope, p event.Payload) error {
	time.Sleep(time.Millisecond)
	return s.seen.Apply(ctx, tx, to, env, p)
}

// TestCrashHelperProcess is the child of TestCrashResumesFromTheCheckpoint:
// it runs a catch-up or a rebuild of seen, slowly, in batches of 10, until
// it is killed. It does nothing in a normal test run.
func TestCrashHelperProcess(t *testing.T) {
	mode := os.Getenv(envCrashMode)
	if mode == "" {
		t.Skip("the crash test's child process")
	}
	ctx := context.Background()
	var (
		db  database.DB
		err error
	)
	if path := os.Getenv(envCrashSQLite); path != "" {
		db, err = database.OpenSQLite(ctx, path, database.SQLiteOptions{Synchronous: "NORMAL"})
	} else {
		db, err = database.OpenPostgres(ctx, dbtest.PostgresURL(), database.PostgresOptions{SearchPath: os.Getenv(envCrashPostgre)})
	}
	if err != nil {
		t.Fatal(err)
	}
	subs, err := projection.New(db, projection.Config{Registry: registry(t), BatchSize: 10}, slowSeen{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("child running")
	switch mode {
	case "catch-up":
		_, err = subs.CatchUp(ctx, "seen")
	case "rebuild":
		_, err = subs.Rebuild(ctx, "seen", projection.RebuildOptions{BatchSize: 10})
	}
	t.Fatalf("the child was not killed: it finished (%v)", err)
}

// TestCrashResumesFromTheCheckpoint kills (SIGKILL) a process in the middle
// of a catch-up, and of a rebuild, of seen: at that point the table holds
// exactly the events up to the checkpoint, and the work resumed from there
// applies every other event once.
func TestCrashResumesFromTheCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		for _, mode := range []string{"catch-up", "rebuild"} {
			t.Run(string(d)+"/"+mode, func(t *testing.T) {
				t.Parallel()
				crashAndResume(t, d, mode)
			})
		}
	}
}

func crashAndResume(t *testing.T, d database.Dialect, mode string) {
	ctx := t.Context()
	env := append(os.Environ(), envCrashMode+"="+mode)
	var db database.DB
	if d == database.SQLite {
		path := filepath.Join(t.TempDir(), "insure.db")
		sdb, err := database.OpenSQLite(ctx, path, database.SQLiteOptions{Synchronous: "NORMAL"})
		if err != nil {
			t.Fatal(err)
		}
		db = sdb
		env = append(env, envCrashSQLite+"="+path)
	} else {
		schema := dbtest.NewSchema(t)
		pdb, err := database.OpenPostgres(ctx, dbtest.PostgresURL(), database.PostgresOptions{SearchPath: schema})
		if err != nil {
			t.Fatal(err)
		}
		db = pdb
		env = append(env, envCrashPostgre+"="+schema)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := database.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	exec(t, db, seenDDL)
	const events = 2000
	seed(t, db, nil, actionsLogged(events))
	subs, err := projection.New(db, projection.Config{Registry: registry(t)}, seen{})
	if err != nil {
		t.Fatal(err)
	}
	if err := subs.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	checkpoint, table := "seen", "seen"
	if mode == "rebuild" {
		if _, err := subs.CatchUp(ctx, "seen"); err != nil {
			t.Fatal(err)
		}
		checkpoint, table = "seen#rebuild", "seen_rebuild"
	}
	position := func() int64 {
		var p int64
		err := db.QueryRow(ctx, `SELECT position FROM projection_checkpoints WHERE name = $1`, checkpoint).Scan(&p)
		if err != nil && !errors.Is(err, database.ErrNoRows) {
			t.Fatal(err)
		}
		return p
	}

	child := osexec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.v")
	child.Env = env
	var out strings.Builder
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for position() < 300 {
		if time.Now().After(deadline) {
			_ = child.Process.Kill()
			_ = child.Wait()
			t.Fatalf("the child did not get to position 300 in 15 s:\n%s", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if strings.Contains(out.String(), "was not killed") {
		t.Fatalf("the child finished before it was killed:\n%s", out.String())
	}

	// What the killed process committed: exactly the events up to the
	// checkpoint; its batch in flight rolled back whole. (On PostgreSQL
	// the server ends the dead session's transaction on its own, so wait
	// for the checkpoint's row to be free first.)
	var killedAt int64
	waitFor(t, "the dead session's transaction to end", func() bool {
		err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
			if d == database.Postgres {
				if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '100ms'`); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, `UPDATE projection_checkpoints SET position = position WHERE name = $1`, checkpoint)
			return err
		})
		return err == nil
	})
	killedAt = position()
	if killedAt >= events {
		t.Fatalf("the child got to the end (%d) before it was killed", killedAt)
	}
	rows := count(t, db, `SELECT COUNT(*) FROM `+table)
	beyond := count(t, db, `SELECT COUNT(*) FROM `+table+` WHERE position > $1`, killedAt)
	if rows != killedAt || beyond != 0 {
		t.Fatalf("killed at checkpoint %d: %s holds %d events, %d after the checkpoint; want exactly 1..%d", killedAt, table, rows, beyond, killedAt)
	}
	t.Logf("killed at position %d of %d", killedAt, events)

	// Resume in this process.
	switch mode {
	case "catch-up":
		n, err := subs.CatchUp(ctx, "seen")
		if err != nil {
			t.Fatal(err)
		}
		if n != events-killedAt {
			t.Errorf("resumed catch-up applied %d events, want the %d after the checkpoint", n, events-killedAt)
		}
	case "rebuild":
		p, err := subs.Rebuild(ctx, "seen", projection.RebuildOptions{BatchSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		if p.Resumed != killedAt || p.Applied != events-killedAt {
			t.Errorf("resumed rebuild: from %d, applied %d; want from %d, %d", p.Resumed, p.Applied, killedAt, events-killedAt)
		}
	}
	checkSeen(t, db, "seen")
	waitCaughtUp(t, subs, time.Second)
}

// waitFor waits until cond holds, for at most 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
