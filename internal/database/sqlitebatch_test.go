package database

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openBatchDB(t *testing.T) *SQLiteDB {
	t.Helper()
	db, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "batch.db"), SQLiteOptions{})
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec(t.Context(), "CREATE TABLE t (k TEXT PRIMARY KEY)"); err != nil {
		t.Fatalf("create: %v", err)
	}
	return db
}

func insertKey(k string) func(ctx context.Context, tx Tx) error {
	return func(ctx context.Context, tx Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO t (k) VALUES ($1)", k)
		return err
	}
}

func keys(t *testing.T, db *SQLiteDB) map[string]bool {
	t.Helper()
	rows, err := db.Query(t.Context(), "SELECT k FROM t")
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatalf("scan: %v", err)
		}
		out[k] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	return out
}

// hold occupies the committer with a transaction that waits for release,
// and returns once it runs.
func hold(t *testing.T, db *SQLiteDB) (release func(), done <-chan error) {
	t.Helper()
	started, rel, errc := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		errc <- db.InTx(context.Background(), func(ctx context.Context, tx Tx) error {
			close(started)
			<-rel
			return insertKey("holder")(ctx, tx)
		})
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the holding transaction did not start")
	}
	return func() { close(rel) }, errc
}

// waitQueued waits until n transactions wait for the committer.
func waitQueued(t *testing.T, db *SQLiteDB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(db.group.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d transactions queued, want %d", len(db.group.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommitIsolatesMembers: transactions that share a commit succeed
// or fail each on its own; a failing or panicking one leaves no trace and
// does not undo the others.
func TestGroupCommitIsolatesMembers(t *testing.T) {
	db := openBatchDB(t)
	release, holderDone := hold(t, db)
	sharedBefore := db.group.shared.Load()

	errBoom := errors.New("boom")
	type outcome struct {
		name  string
		err   error
		panic any
	}
	fns := map[string]func(ctx context.Context, tx Tx) error{
		"a": insertKey("a"),
		"b": insertKey("b"),
		"fails": func(ctx context.Context, tx Tx) error {
			if err := insertKey("fails")(ctx, tx); err != nil {
				return err
			}
			return errBoom
		},
		"panics": func(ctx context.Context, tx Tx) error {
			if err := insertKey("panics")(ctx, tx); err != nil {
				return err
			}
			panic("listener bug")
		},
		"dup": func(ctx context.Context, tx Tx) error {
			if err := insertKey("dup")(ctx, tx); err != nil {
				return err
			}
			return insertKey("dup")(ctx, tx) // unique violation
		},
		"c": insertKey("c"),
	}
	out := make(chan outcome, len(fns))
	var wg sync.WaitGroup
	for name, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					out <- outcome{name: name, panic: p}
				}
			}()
			out <- outcome{name: name, err: db.InTx(context.Background(), fn)}
		}()
	}
	waitQueued(t, db, len(fns))
	release()
	if err := <-holderDone; err != nil {
		t.Fatalf("holder: %v", err)
	}
	wg.Wait()
	close(out)
	got := map[string]outcome{}
	for o := range out {
		got[o.name] = o
	}
	for _, ok := range []string{"a", "b", "c"} {
		if got[ok].err != nil || got[ok].panic != nil {
			t.Errorf("%s: err %v, panic %v; want success", ok, got[ok].err, got[ok].panic)
		}
	}
	if !errors.Is(got["fails"].err, errBoom) {
		t.Errorf("fails: err %v, want boom", got["fails"].err)
	}
	if got["panics"].panic != "listener bug" {
		t.Errorf("panics: panic %v, want the listener's value raised in its caller", got["panics"].panic)
	}
	if !IsUniqueViolation(got["dup"].err) {
		t.Errorf("dup: err %v, want a unique violation", got["dup"].err)
	}
	want := map[string]bool{"holder": true, "a": true, "b": true, "c": true}
	if k := keys(t, db); fmt.Sprint(k) != fmt.Sprint(want) {
		t.Errorf("rows %v, want %v", k, want)
	}
	if db.group.shared.Load() == sharedBefore {
		t.Error("the queued transactions did not share a commit")
	}
}

// TestGroupCommitLostTransaction: when SQLite drops the shared transaction
// under a member (here the member rolls it back itself, as an interrupted
// statement or SQLITE_FULL can), every member is told it failed and none
// of their writes remain.
func TestGroupCommitLostTransaction(t *testing.T) {
	db := openBatchDB(t)
	release, holderDone := hold(t, db)
	errs := make(chan error, 3)
	var wg sync.WaitGroup
	start := func(fn func(ctx context.Context, tx Tx) error) {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- db.InTx(context.Background(), fn) }()
	}
	start(insertKey("first"))
	waitQueued(t, db, 1)
	start(func(ctx context.Context, tx Tx) error {
		if err := insertKey("second")(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "ROLLBACK")
		return err
	})
	waitQueued(t, db, 2)
	start(insertKey("third"))
	waitQueued(t, db, 3)
	release()
	if err := <-holderDone; err != nil {
		t.Fatalf("holder: %v", err)
	}
	wg.Wait()
	close(errs)
	unavailable := 0
	for err := range errs {
		if err == nil {
			t.Error("a member of the lost group was told it committed")
		}
		if errors.Is(err, ErrUnavailable) {
			unavailable++
		}
	}
	// The two members that did nothing wrong are told to try again.
	if unavailable < 2 {
		t.Errorf("%d members got ErrUnavailable, want the 2 innocent ones", unavailable)
	}
	if k := keys(t, db); len(k) != 1 || !k["holder"] {
		t.Errorf("rows %v, want only the holder's", k)
	}
	// The writer works on afterwards.
	if err := db.InTx(t.Context(), insertKey("after")); err != nil {
		t.Fatalf("after the lost group: %v", err)
	}
}

// TestGroupCommitAbandoned: a caller whose context ends while it waits
// gets its context's error, and its function never runs.
func TestGroupCommitAbandoned(t *testing.T) {
	db := openBatchDB(t)
	release, holderDone := hold(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- db.InTx(ctx, insertKey("abandoned")) }()
	waitQueued(t, db, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	release()
	if err := <-holderDone; err != nil {
		t.Fatalf("holder: %v", err)
	}
	if err := db.InTx(t.Context(), insertKey("later")); err != nil {
		t.Fatalf("later: %v", err)
	}
	if k := keys(t, db); k["abandoned"] || !k["later"] {
		t.Errorf("rows %v: the abandoned write must not run, the later one must", k)
	}
}

// TestGroupCommitConcurrent: many writers at once all commit, each once.
func TestGroupCommitConcurrent(t *testing.T) {
	db := openBatchDB(t)
	const n = 400
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.InTx(t.Context(), insertKey(fmt.Sprint(i)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("InTx: %v", err)
		}
	}
	if k := keys(t, db); len(k) != n {
		t.Fatalf("%d rows, want %d", len(k), n)
	}
	if c := db.group.commits.Load(); c > n {
		t.Errorf("%d commits for %d transactions", c, n)
	}
}

// TestGroupCommitClosed: InTx after Close fails clearly instead of hanging.
func TestGroupCommitClosed(t *testing.T) {
	db, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "closed.db"), SQLiteOptions{})
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err = db.InTx(t.Context(), func(context.Context, Tx) error { return nil })
	if !errors.Is(err, errClosed) {
		t.Fatalf("err %v, want %v", err, errClosed)
	}
}
