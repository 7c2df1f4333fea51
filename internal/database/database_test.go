package database_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"insure/internal/database"
	"insure/internal/database/dbtest"
)

// openSQLite opens an unmigrated SQLite database in a temporary directory.
func openSQLite(t *testing.T, opts database.SQLiteOptions) *database.SQLiteDB {
	t.Helper()
	db, err := database.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "insure.db"), opts)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// openFresh opens an unmigrated, empty database of dialect d.
func openFresh(t *testing.T, d database.Dialect) database.DB {
	t.Helper()
	switch d {
	case database.SQLite:
		return openSQLite(t, database.SQLiteOptions{})
	case database.Postgres:
		schema := dbtest.NewSchema(t)
		db, err := database.OpenPostgres(t.Context(), dbtest.PostgresURL(), database.PostgresOptions{SearchPath: schema, MaxConns: 4})
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	t.Fatalf("unknown dialect %q", d)
	return nil
}

func countEmails(t *testing.T, q database.Querier, email string) int {
	t.Helper()
	var n int
	if err := q.QueryRow(t.Context(), "SELECT COUNT(*) FROM customer_emails WHERE email_index = $1", email).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", email, err)
	}
	return n
}

func claim(ctx context.Context, q database.Querier, email, customerID string) error {
	n, err := q.Exec(ctx, "INSERT INTO customer_emails (email_index, customer_id) VALUES ($1, $2)", email, customerID)
	if err == nil && n != 1 {
		return fmt.Errorf("insert %s affected %d rows, want 1", email, n)
	}
	return err
}

func TestOpenSQLiteRejects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		opts    database.SQLiteOptions
		wantMsg string
	}{
		{"empty path", "", database.SQLiteOptions{}, "not a file path"},
		{"memory", ":memory:", database.SQLiteOptions{}, "not a file path"},
		{"memory URI", "file::memory:?cache=shared", database.SQLiteOptions{}, "not a file path"},
		{"synchronous OFF", filepath.Join(dir, "off.db"), database.SQLiteOptions{Synchronous: "OFF"}, `synchronous "OFF"`},
		{"synchronous EXTRA", filepath.Join(dir, "extra.db"), database.SQLiteOptions{Synchronous: "extra"}, `synchronous "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, err := database.OpenSQLite(t.Context(), tt.path, tt.opts)
			if err == nil {
				_ = db.Close()
				t.Fatalf("OpenSQLite(%q, %+v) succeeded, want an error", tt.path, tt.opts)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("OpenSQLite(%q) err = %q, want it to contain %q", tt.path, err, tt.wantMsg)
			}
		})
	}
}

// TestOpenSQLiteDurability proves the durability settings: WAL, and
// synchronous FULL unless NORMAL is asked for.
func TestOpenSQLiteDurability(t *testing.T) {
	t.Parallel()
	tests := []struct {
		synchronous string
		want        int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{
		{"", 2},
		{"FULL", 2},
		{"full", 2},
		{"NORMAL", 1},
		{"normal", 1},
	}
	for _, tt := range tests {
		t.Run("synchronous="+tt.synchronous, func(t *testing.T) {
			t.Parallel()
			db := openSQLite(t, database.SQLiteOptions{Synchronous: tt.synchronous})
			ctx := t.Context()
			var mode string
			if err := db.Writer().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if mode != "wal" {
				t.Errorf("journal_mode = %q, want wal", mode)
			}
			var sync int
			if err := db.Writer().QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
				t.Fatal(err)
			}
			if sync != tt.want {
				t.Errorf("synchronous = %d, want %d", sync, tt.want)
			}
			// Transactions run on the same connection with the same settings.
			err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				var inTx int
				if err := tx.QueryRow(ctx, "PRAGMA synchronous").Scan(&inTx); err != nil {
					return err
				}
				if inTx != tt.want {
					return fmt.Errorf("synchronous in a transaction = %d, want %d", inTx, tt.want)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
}

// TestOpenSQLitePath checks that a path with characters that mean something
// in a URI still names that very file.
func TestOpenSQLitePath(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a b#c?d=e%41&f", "insure data.db")
	db, err := database.OpenSQLite(t.Context(), path, database.SQLiteOptions{})
	if err != nil {
		t.Fatalf("OpenSQLite(%q): %v", path, err)
	}
	defer db.Close()
	if _, err := db.Exec(t.Context(), "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(t.Context(), "SELECT COUNT(*) FROM t").Scan(&n); err != nil {
		t.Fatalf("reader does not see the writer's table: %v", err)
	}
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not at %q: %v", path, err)
	}
}

func TestSQLiteReadersAreReadOnly(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.SQLite)
	ctx := t.Context()
	const insert = "INSERT INTO customer_emails (email_index, customer_id) VALUES ($1, 'c-1') RETURNING email_index"

	var email string
	if err := db.QueryRow(ctx, insert, "row@example.com").Scan(&email); err == nil {
		t.Errorf("INSERT through QueryRow succeeded (returned %q), want the read pool to refuse", email)
	}

	rows, err := db.Query(ctx, insert, "rows@example.com")
	if err == nil {
		for rows.Next() {
			t.Error("INSERT through Query returned a row")
		}
		err = rows.Err()
		_ = rows.Close()
	}
	if err == nil {
		t.Errorf("INSERT through Query succeeded, want the read pool to refuse")
	}

	for _, e := range []string{"row@example.com", "rows@example.com"} {
		if n := countEmails(t, db, e); n != 0 {
			t.Errorf("%s was written through the read pool (%d rows)", e, n)
		}
	}

	// The same statement works through the writer, and readers see it.
	if _, err := db.Exec(ctx, strings.TrimSuffix(insert, " RETURNING email_index"), "row@example.com"); err != nil {
		t.Fatalf("INSERT through Exec: %v", err)
	}
	if n := countEmails(t, db, "row@example.com"); n != 1 {
		t.Errorf("after a write through Exec, readers count %d rows, want 1", n)
	}
}

func TestUniqueViolation(t *testing.T) {
	t.Parallel()
	want := map[database.Dialect]string{
		database.SQLite:   "customer_emails.email_index",
		database.Postgres: "customer_emails_pkey",
	}
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		if err := claim(ctx, db, "dup@example.com", "c-1"); err != nil {
			t.Fatalf("first insert: %v", err)
		}

		check := func(t *testing.T, err error) {
			t.Helper()
			if err == nil {
				t.Fatal("duplicate insert succeeded")
			}
			if !database.IsUniqueViolation(err) {
				t.Errorf("IsUniqueViolation(%v) = false", err)
			}
			if !database.IsUniqueViolation(fmt.Errorf("claim: %w", err)) {
				t.Errorf("IsUniqueViolation(wrapped %v) = false", err)
			}
			name, ok := database.UniqueConstraint(err)
			if !ok || name != want[db.Dialect()] {
				t.Errorf("UniqueConstraint(%v) = %q, %v; want %q, true", err, name, ok, want[db.Dialect()])
			}
			if errors.Is(err, database.ErrUnavailable) {
				t.Errorf("unique violation %v is reported as ErrUnavailable", err)
			}
		}
		t.Run("db", func(t *testing.T) {
			check(t, claim(ctx, db, "dup@example.com", "c-2"))
		})
		t.Run("tx", func(t *testing.T) {
			err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				return claim(ctx, tx, "dup@example.com", "c-3")
			})
			check(t, err)
		})

		// Other constraint failures are not unique violations.
		_, err := db.Exec(ctx, "INSERT INTO customer_emails (email_index, customer_id) VALUES ($1, NULL)", "null@example.com")
		if err == nil {
			t.Fatal("insert of a NULL customer_id succeeded")
		}
		if database.IsUniqueViolation(err) {
			t.Errorf("IsUniqueViolation(NOT NULL failure %v) = true", err)
		}
		if name, ok := database.UniqueConstraint(err); ok {
			t.Errorf("UniqueConstraint(NOT NULL failure %v) = %q, true", err, name)
		}
		if n := countEmails(t, db, "dup@example.com"); n != 1 {
			t.Errorf("dup@example.com has %d rows, want 1", n)
		}
	})

	for _, err := range []error{nil, errors.New("UNIQUE constraint failed: customer_emails.email"), database.ErrNoRows} {
		if database.IsUniqueViolation(err) {
			t.Errorf("IsUniqueViolation(%v) = true", err)
		}
		if name, ok := database.UniqueConstraint(err); ok || name != "" {
			t.Errorf("UniqueConstraint(%v) = %q, %v; want \"\", false", err, name, ok)
		}
	}
}

func TestErrNoRows(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		const q = "SELECT customer_id FROM customer_emails WHERE email_index = $1"
		var id string
		err := db.QueryRow(ctx, q, "nobody@example.com").Scan(&id)
		if !errors.Is(err, database.ErrNoRows) {
			t.Errorf("db QueryRow.Scan err = %v, want ErrNoRows", err)
		}
		if errors.Is(err, database.ErrUnavailable) {
			t.Errorf("no rows is reported as ErrUnavailable: %v", err)
		}
		err = db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
			return tx.QueryRow(ctx, q, "nobody@example.com").Scan(&id)
		})
		if !errors.Is(err, database.ErrNoRows) {
			t.Errorf("tx QueryRow.Scan err = %v, want ErrNoRows", err)
		}

		// A row that exists scans.
		if err := claim(ctx, db, "some@example.com", "c-9"); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, q, "some@example.com").Scan(&id); err != nil || id != "c-9" {
			t.Errorf("QueryRow.Scan = %q, %v; want c-9, nil", id, err)
		}
	})
}

func TestInTx(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()

		t.Run("native transaction", func(t *testing.T) {
			err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				var ok bool
				switch db.Dialect() {
				case database.SQLite:
					_, ok = tx.Native().(*sql.Tx)
				case database.Postgres:
					_, ok = tx.Native().(pgx.Tx)
				}
				if !ok {
					return fmt.Errorf("Native() is %T", tx.Native())
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})

		t.Run("commits on nil", func(t *testing.T) {
			err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				if err := claim(ctx, tx, "commit@example.com", "c-1"); err != nil {
					return err
				}
				if n := countEmails(t, tx, "commit@example.com"); n != 1 {
					return fmt.Errorf("the transaction sees %d rows of its own write", n)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("InTx: %v", err)
			}
			if n := countEmails(t, db, "commit@example.com"); n != 1 {
				t.Errorf("after commit: %d rows, want 1", n)
			}
		})

		t.Run("rolls back on error", func(t *testing.T) {
			errStop := errors.New("stop")
			err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				if err := claim(ctx, tx, "error@example.com", "c-1"); err != nil {
					return err
				}
				return fmt.Errorf("decided against it: %w", errStop)
			})
			if !errors.Is(err, errStop) {
				t.Fatalf("InTx err = %v, want the callback's error", err)
			}
			if n := countEmails(t, db, "error@example.com"); n != 0 {
				t.Errorf("after an error: %d rows, want 0", n)
			}
		})

		t.Run("rolls back on panic", func(t *testing.T) {
			type boom struct{ msg string }
			recovered := func() (r any) {
				defer func() { r = recover() }()
				_ = db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
					if err := claim(ctx, tx, "panic@example.com", "c-1"); err != nil {
						t.Errorf("insert before panic: %v", err)
					}
					panic(boom{"in the callback"})
				})
				return nil
			}()
			if diff := cmp.Diff(boom{"in the callback"}, recovered, cmp.AllowUnexported(boom{})); diff != "" {
				t.Fatalf("InTx did not re-panic with the callback's value (-want +got):\n%s", diff)
			}
			if n := countEmails(t, db, "panic@example.com"); n != 0 {
				t.Errorf("after a panic: %d rows, want 0", n)
			}
			// The connection went back rolled back: the next transaction
			// works (and does not wait for a lock that is never released).
			next, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			err := db.InTx(next, func(ctx context.Context, tx database.Tx) error {
				return claim(ctx, tx, "after-panic@example.com", "c-1")
			})
			if err != nil {
				t.Fatalf("InTx after a panic: %v", err)
			}
			if n := countEmails(t, db, "after-panic@example.com"); n != 1 {
				t.Errorf("after-panic write: %d rows, want 1", n)
			}
		})
	})
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	versions := map[database.Dialect][]int64{}
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			db := openFresh(t, d)
			ctx := t.Context()

			first, err := database.Migrate(ctx, db)
			if err != nil {
				t.Fatalf("first Migrate: %v", err)
			}
			if len(first) == 0 {
				t.Fatal("first Migrate returned no migrations")
			}
			var vs []int64
			for _, m := range first {
				if !m.Applied {
					t.Errorf("first Migrate: version %d (%s) not applied", m.Version, m.Source)
				}
				vs = append(vs, m.Version)
			}
			versions[d] = vs

			// The schema is there.
			if n := countEmails(t, db, "x@example.com"); n != 0 {
				t.Errorf("fresh schema has %d rows", n)
			}

			second, err := database.Migrate(ctx, db)
			if err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
			want := make([]database.Migration, len(first))
			for i, m := range first {
				m.Applied = false
				want[i] = m
			}
			if diff := cmp.Diff(want, second); diff != "" {
				t.Errorf("second Migrate (-want +got):\n%s", diff)
			}
		})
	}
	// Both dialects have the same numbered migrations.
	if diff := cmp.Diff(versions[database.SQLite], versions[database.Postgres]); diff != "" {
		t.Errorf("migration versions differ between SQLite and PostgreSQL (-sqlite +postgres):\n%s", diff)
	}
}

func TestOpenPostgres(t *testing.T) {
	t.Parallel()

	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		db, err := database.OpenPostgres(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5", database.PostgresOptions{})
		if err == nil {
			_ = db.Close()
			t.Fatal("OpenPostgres to 127.0.0.1:1 succeeded")
		}
		if !errors.Is(err, database.ErrUnavailable) {
			t.Errorf("OpenPostgres err = %v, want ErrUnavailable", err)
		}
	})

	// A server that accepts the connection but never answers (hung, or
	// its packets dropped) fails within the connect timeout, as
	// unavailable, rather than holding the caller.
	t.Run("silent server", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close() // never accepted: the kernel completes the handshake, nothing answers
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		start := time.Now()
		db, err := database.OpenPostgres(ctx, "postgres://postgres@"+l.Addr().String()+"/test?sslmode=disable",
			database.PostgresOptions{ConnectTimeout: 300 * time.Millisecond})
		took := time.Since(start)
		if err == nil {
			_ = db.Close()
			t.Fatal("OpenPostgres to a silent server succeeded")
		}
		if !errors.Is(err, database.ErrUnavailable) {
			t.Errorf("OpenPostgres err = %v, want ErrUnavailable", err)
		}
		if took > 5*time.Second {
			t.Errorf("OpenPostgres to a silent server took %s with a 300ms connect timeout", took)
		}
	})

	t.Run("bad URL", func(t *testing.T) {
		t.Parallel()
		db, err := database.OpenPostgres(t.Context(), "postgres://%zz", database.PostgresOptions{})
		if err == nil {
			_ = db.Close()
			t.Fatal("OpenPostgres with a bad URL succeeded")
		}
		if errors.Is(err, database.ErrUnavailable) {
			t.Errorf("bad URL err = %v is reported as ErrUnavailable", err)
		}
	})

	t.Run("search path", func(t *testing.T) {
		t.Parallel()
		schema := dbtest.NewSchema(t)
		db, err := database.OpenPostgres(t.Context(), dbtest.PostgresURL(), database.PostgresOptions{SearchPath: schema})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
		var got string
		if err := db.QueryRow(t.Context(), "SELECT current_schema()").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != schema {
			t.Errorf("current_schema() = %q, want %q", got, schema)
		}
	})
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	plain := errors.New("syntax error")
	already := fmt.Errorf("%w: earlier", database.ErrUnavailable)
	tests := []struct {
		name string
		err  error
		// wantSame: Unavailable returns err itself; otherwise it must wrap
		// err in ErrUnavailable and keep err reachable.
		wantSame bool
	}{
		{"plain", plain, true},
		{"no rows", database.ErrNoRows, true},
		{"already unavailable", already, true},
		{"unique violation", &pgconn.PgError{Code: "23505", ConstraintName: "x"}, true},
		{"undefined table", &pgconn.PgError{Code: "42P01"}, true},
		{"PgError without a code", &pgconn.PgError{Message: "no code"}, true},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), false},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), false},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), false},
		{"disk full", fmt.Errorf("write: %w", syscall.ENOSPC), false},
		{"connection failure", &pgconn.PgError{Code: "08006"}, false},
		{"disk full on the server", &pgconn.PgError{Code: "53100"}, false},
		{"too many connections", &pgconn.PgError{Code: "53300"}, false},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, false},
	}
	if got := database.Unavailable(nil); got != nil {
		t.Errorf("Unavailable(nil) = %v, want nil", got)
	}
	for _, tt := range tests {
		got := database.Unavailable(tt.err)
		if tt.wantSame {
			if got != tt.err {
				t.Errorf("%s: Unavailable(%v) = %v, want the error unchanged", tt.name, tt.err, got)
			}
			if tt.err != already && errors.Is(got, database.ErrUnavailable) {
				t.Errorf("%s: Unavailable(%v) is ErrUnavailable", tt.name, tt.err)
			}
			continue
		}
		if !errors.Is(got, database.ErrUnavailable) {
			t.Errorf("%s: Unavailable(%v) = %v, want ErrUnavailable", tt.name, tt.err, got)
		}
		if !errors.Is(got, tt.err) {
			t.Errorf("%s: Unavailable(%v) = %v, lost the cause", tt.name, tt.err, got)
		}
		if again := database.Unavailable(got); again != got {
			t.Errorf("%s: Unavailable wraps twice: %v", tt.name, again)
		}
		if full := strings.HasPrefix(tt.name, "disk full"); errors.Is(got, database.ErrStorageFull) != full {
			t.Errorf("%s: Unavailable(%v) = %v: ErrStorageFull %v, want %v", tt.name, tt.err, got, !full, full)
		}
	}
}

// TestSQLiteStorageFull fills the disk under an SQLite database (a
// database limited by max_page_count fails the same way, with SQLITE_FULL)
// and checks that a write fails with ErrStorageFull, leaves nothing
// behind, and that the single writer connection works again once there
// is room.
func TestSQLiteStorageFull(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openSQLite(t, database.SQLiteOptions{})
	if _, err := db.Exec(ctx, `CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	var pages int64
	if err := db.Writer().QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer().ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+2)); err != nil {
		t.Fatal(err)
	}
	insert := func(ctx context.Context, tx database.Tx, id int) error {
		_, err := tx.Exec(ctx, `INSERT INTO blobs (id, data) VALUES (?, randomblob(16000))`, id)
		return err
	}
	err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		if err := insert(ctx, tx, 1); err != nil {
			return err
		}
		return insert(ctx, tx, 2)
	})
	if !errors.Is(err, database.ErrStorageFull) || !errors.Is(err, database.ErrUnavailable) {
		t.Fatalf("a write past the database's limit: %v, want ErrStorageFull and ErrUnavailable", err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM blobs`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after the failed transaction: %d rows (%v), want 0: the transaction must roll back whole", n, err)
	}
	if _, err := db.Writer().ExecContext(ctx, `PRAGMA max_page_count = 1000000`); err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error { return insert(ctx, tx, 3) }); err != nil {
		t.Fatalf("a write once there is room again: %v", err)
	}
	var check string
	if err := db.QueryRow(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q (%v), want ok", check, err)
	}
}
