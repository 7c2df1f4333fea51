package database

import (
	"context"
	"fmt"
	"testing"
)

// writerConn runs fn on the writer's one connection.
func writerConn(t *testing.T, db *SQLiteDB, fn func(c *stmtConn)) {
	t.Helper()
	conn, err := db.writer.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stmtConn)
		if !ok {
			return fmt.Errorf("the writer's connection is a %T, not a *stmtConn", dc)
		}
		fn(c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPreparedStatements: a text runs prepared from its second run on a
// connection, in transactions and outside, with the results and the
// errors of an unprepared run.
func TestPreparedStatements(t *testing.T) {
	db := openBatchDB(t)
	ctx := t.Context()
	const ins, sel = "INSERT INTO t (k) VALUES ($1)", "SELECT COUNT(*) FROM t WHERE k >= $1"
	for i := range 3 {
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
	}
	writerConn(t, db, func(c *stmtConn) {
		if !c.has(ins) || !c.has(sel) {
			t.Errorf("the writer keeps %d statements, not the insert and the count", c.size())
		}
	})
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
	for range 3 {
		var none int
		if err := db.QueryRow(ctx, "SELECT 1 FROM t WHERE k = $1", "absent").Scan(&none); err != ErrNoRows {
			t.Fatalf("no row: %v, want ErrNoRows", err)
		}
	}
	// A statement prepared before a schema change runs against the new
	// schema (a read model's tables are swapped by a rebuild).
	const cnt = "SELECT COUNT(*) FROM t2"
	for _, step := range []string{
		"CREATE TABLE t2 (x INTEGER)", cnt, "DROP TABLE t2",
		"CREATE TABLE t2 (y TEXT, x INTEGER)", "INSERT INTO t2 (y, x) VALUES ('a', 1), ('b', 2)",
	} {
		if _, err := db.Exec(ctx, step); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	var n int
	if err := db.InTx(ctx, func(ctx context.Context, tx Tx) error { return tx.QueryRow(ctx, cnt).Scan(&n) }); err != nil || n != 2 {
		t.Fatalf("count after the table was replaced: %d, %v; want 2", n, err)
	}
}

// TestPreparedStatementsBounded: texts past the bound run unprepared.
func TestPreparedStatementsBounded(t *testing.T) {
	db := openBatchDB(t)
	for i := range maxConnStmts + 40 {
		if _, err := db.Exec(t.Context(), fmt.Sprintf("SELECT %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	writerConn(t, db, func(c *stmtConn) {
		if c.size() != maxConnStmts {
			t.Errorf("%d statements kept, want the bound %d", c.size(), maxConnStmts)
		}
	})
	var n int
	if err := db.InTx(t.Context(), func(ctx context.Context, tx Tx) error {
		return tx.QueryRow(ctx, fmt.Sprintf("SELECT %d", maxConnStmts+39)).Scan(&n)
	}); err != nil || n != maxConnStmts+39 {
		t.Fatalf("a text past the bound: %d, %v", n, err)
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
				var first string
				if err := tx.QueryRow(ctx, sel, k).Scan(&first); err != nil || first != k {
					return nil, fmt.Errorf("query row from %s: %q, %v", k, first, err)
				}
				out = append(out, fmt.Sprintf("%s:%d", k, n))
			}
		}
		return out, rows.Err()
	}
	// The first run prepares the text; the second nests it.
	if err := db.InTx(ctx, func(ctx context.Context, tx Tx) error { _, err := collect(ctx, tx, false); return err }); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := db.InTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		got, err = collect(ctx, tx, true)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "[a a:3 b b:2 c c:1]"; fmt.Sprint(got) != want {
		t.Fatalf("nested results %v, want %s", got, want)
	}
	writerConn(t, db, func(c *stmtConn) {
		if !c.has(sel) {
			t.Fatal("the query was not kept prepared")
		}
		if c.stmts[sel].busy.Load() {
			t.Fatal("the statement is still marked busy after its rows closed")
		}
	})
}
