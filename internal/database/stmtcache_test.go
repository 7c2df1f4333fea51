package database

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// waitPrepared waits until the cache holds query's statement.
func waitPrepared(t *testing.T, c *stmtCache, query string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.get(query) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("%q was not prepared within 5 s", query)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPreparedStatements: queries run unprepared at first, then through
// their prepared statements, in transactions and outside, with the same
// results and the same errors.
func TestPreparedStatements(t *testing.T) {
	db := openBatchDB(t)
	ctx := t.Context()
	const ins, sel = "INSERT INTO t (k) VALUES ($1)", "SELECT COUNT(*) FROM t WHERE k >= $1"
	for i := range 2 { // the first round unprepared, the second prepared
		err := db.InTx(ctx, func(ctx context.Context, tx Tx) error {
			for j := range 3 {
				if _, err := tx.Exec(ctx, ins, fmt.Sprintf("k%d-%d", i, j)); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRow(ctx, sel, "k").Scan(&n); err != nil {
				return err
			}
			if n != 3*(i+1) {
				t.Errorf("round %d: count in the transaction %d, want %d", i, n, 3*(i+1))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		var n int
		if err := db.QueryRow(ctx, sel, "k").Scan(&n); err != nil || n != 3*(i+1) {
			t.Fatalf("round %d: count %d, %v; want %d", i, n, err, 3*(i+1))
		}
		waitPrepared(t, db.wstmts, ins)
		waitPrepared(t, db.wstmts, sel)
		waitPrepared(t, db.rstmts, sel)
	}
	// A prepared statement's errors are the unprepared one's.
	err := db.InTx(ctx, func(ctx context.Context, tx Tx) error {
		_, err := tx.Exec(ctx, ins, "k0-0")
		return err
	})
	if !IsUniqueViolation(err) {
		t.Fatalf("duplicate key through a prepared statement: %v, want a unique violation", err)
	}
	if _, err := db.Exec(ctx, ins, "k0-1"); !IsUniqueViolation(err) {
		t.Fatalf("duplicate key outside a transaction: %v, want a unique violation", err)
	}
	var none int
	if err := db.QueryRow(ctx, "SELECT 1 FROM t WHERE k = $1", "absent").Scan(&none); err != ErrNoRows {
		t.Fatalf("no row: %v, want ErrNoRows", err)
	}
	waitPrepared(t, db.rstmts, "SELECT 1 FROM t WHERE k = $1")
	if err := db.QueryRow(ctx, "SELECT 1 FROM t WHERE k = $1", "absent").Scan(&none); err != ErrNoRows {
		t.Fatalf("no row, prepared: %v, want ErrNoRows", err)
	}
}

// TestPreparedStatementsBounded: texts past the bound run unprepared.
func TestPreparedStatementsBounded(t *testing.T) {
	db := openBatchDB(t)
	for i := range maxCachedStmts + 40 {
		q := fmt.Sprintf("SELECT %d", i)
		var n int
		if err := db.QueryRow(t.Context(), q).Scan(&n); err != nil || n != i {
			t.Fatalf("%s: %d, %v", q, n, err)
		}
		// Let the preparer keep up, so that the bound, not its queue,
		// decides what is kept.
		if i < maxCachedStmts {
			waitPrepared(t, db.rstmts, q)
		}
	}
	if n := db.rstmts.size(); n != maxCachedStmts {
		t.Fatalf("%d statements prepared, want the bound %d", n, maxCachedStmts)
	}
}

// TestPreparedStatementsCloseWhileWaiting: closing the database ends a
// preparation that waits for the writer's connection.
func TestPreparedStatementsCloseWhileWaiting(t *testing.T) {
	db := openBatchDB(t)
	conn, err := db.writer.Conn(t.Context()) // the writer's only connection
	if err != nil {
		t.Fatal(err)
	}
	if db.wstmts.get("SELECT 42") != nil {
		t.Fatal("prepared before it could be")
	}
	closed := make(chan struct{})
	go func() {
		db.wstmts.close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("close waited for the writer's connection")
	}
	_ = conn.Close()
	if db.wstmts.get("SELECT 42") != nil {
		t.Fatal("a closed cache answered a statement")
	}
}

// TestPreparedStatementNestedInTransaction: a transaction that runs a
// query again while iterating its own results (same text, rows open on
// the one connection) gets both results whole.
func TestPreparedStatementNestedInTransaction(t *testing.T) {
	db := openBatchDB(t)
	ctx := t.Context()
	const sel = "SELECT k FROM t WHERE k >= $1 ORDER BY k"
	for _, k := range []string{"a", "b", "c"} {
		if _, err := db.Exec(ctx, "INSERT INTO t (k) VALUES ($1)", k); err != nil {
			t.Fatal(err)
		}
	}
	collect := func(ctx context.Context, tx Tx, nested bool) ([]string, error) {
		rows, err := tx.Query(ctx, sel, "a")
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return nil, err
			}
			out = append(out, k)
			if nested {
				inner, err := tx.Query(ctx, sel, k)
				if err != nil {
					return nil, err
				}
				n := 0
				for inner.Next() {
					n++
				}
				if err := inner.Close(); err != nil {
					return nil, err
				}
				// The same text as a single row and as a statement, too.
				var first string
				if err := tx.QueryRow(ctx, sel, k).Scan(&first); err != nil || first != k {
					return nil, fmt.Errorf("query row from %s: %q, %v", k, first, err)
				}
				out = append(out, fmt.Sprintf("%s:%d", k, n))
			}
		}
		return out, rows.Err()
	}
	// Run until the statement is prepared, then once more nested.
	err := db.InTx(ctx, func(ctx context.Context, tx Tx) error {
		_, err := collect(ctx, tx, false)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitPrepared(t, db.wstmts, sel)
	var got []string
	err = db.InTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		got, err = collect(ctx, tx, true)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "[a a:3 b b:2 c c:1]"
	if fmt.Sprint(got) != want {
		t.Fatalf("nested results %v, want %s", got, want)
	}
	if db.wstmts.get(sel).busy.Load() {
		t.Fatal("the statement is still marked busy after its rows closed")
	}
}
