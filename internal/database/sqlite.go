package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLiteOptions tune an SQLite database.
type SQLiteOptions struct {
	// Synchronous is FULL (the default: an acknowledged commit survives a
	// power loss) or NORMAL (faster; in WAL mode a power loss may lose the
	// last commits, never corrupt the file).
	Synchronous string
	// Readers is the size of the read-only pool (default 4).
	Readers int
}

// SQLiteDB is an SQLite database in WAL mode. All writes go through one
// connection, which is what SQLite allows anyway and what the queue's SQLite
// driver requires; reads use a separate pool of read-only connections.
type SQLiteDB struct {
	path   string
	writer *sql.DB
	reader *sql.DB
	// group runs InTx's transactions, several to a commit when they queue
	// (sqlitebatch.go).
	group *committer
}

var _ DB = (*SQLiteDB)(nil)

// OpenSQLite opens (creating if needed) the SQLite database at path.
func OpenSQLite(ctx context.Context, path string, opts SQLiteOptions) (*SQLiteDB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file::memory:") {
		return nil, fmt.Errorf("open sqlite: %q is not a file path; give a file (a temporary one for tests)", path)
	}
	sync := strings.ToUpper(opts.Synchronous)
	if sync == "" {
		sync = "FULL"
	}
	if sync != "FULL" && sync != "NORMAL" {
		return nil, fmt.Errorf("open sqlite: synchronous %q: expected FULL or NORMAL", opts.Synchronous)
	}
	if opts.Readers <= 0 {
		opts.Readers = 4
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open sqlite: create directory for %s: %w", path, err)
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	base := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	common := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_time_format=sqlite"
	wpool, err := sqliteConnector(base + "?" + common +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync + ")&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	writer := sql.OpenDB(wpool)
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	// Touch the writer first so the file exists in WAL mode before readers open it.
	var mode string
	if err := writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, Unavailable(err))
	}
	if !strings.EqualFold(mode, "wal") {
		writer.Close()
		return nil, fmt.Errorf("open sqlite %s: journal mode is %q, WAL is required (is the file on a network filesystem?)", path, mode)
	}
	rpool, err := sqliteConnector(base + "?" + common + "&_pragma=query_only(1)")
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	reader := sql.OpenDB(rpool)
	reader.SetMaxOpenConns(opts.Readers)
	reader.SetMaxIdleConns(opts.Readers)
	return &SQLiteDB{path: path, writer: writer, reader: reader, group: newCommitter(writer)}, nil
}

// Path is the database file.
func (d *SQLiteDB) Path() string { return d.path }

// Writer is the single-connection pool all writes go through.
func (d *SQLiteDB) Writer() *sql.DB { return d.writer }

// Dialect implements DB.
func (d *SQLiteDB) Dialect() Dialect { return SQLite }

// Exec implements Querier; it writes, so it uses the writer.
func (d *SQLiteDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return execResult(d.writer.ExecContext(ctx, query, args...))
}

// Query implements Querier; it reads through the read-only pool.
func (d *SQLiteDB) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return queryResult(d.reader.QueryContext(ctx, query, args...))
}

// QueryRow implements Querier; it reads through the read-only pool.
func (d *SQLiteDB) QueryRow(ctx context.Context, query string, args ...any) Row {
	return sqlRow{d.reader.QueryRowContext(ctx, query, args...)}
}

// InTx implements DB. Transactions begin IMMEDIATE, so a transaction that
// will write holds the write lock from its start and never fails to upgrade.
// Transactions that queue for the writer share commits (group commit, see
// sqlitebatch.go); each still commits or rolls back as a whole, and InTx
// returns only once its outcome is known.
func (d *SQLiteDB) InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	return d.group.do(ctx, fn)
}

// Ping implements DB.
func (d *SQLiteDB) Ping(ctx context.Context) error {
	var one int
	if err := d.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return Unavailable(err)
	}
	return nil
}

// Close implements DB.
func (d *SQLiteDB) Close() error {
	d.group.close()
	return errors.Join(d.reader.Close(), d.writer.Close())
}

// sqlTx is a transaction on the writer.
type sqlTx struct{ tx *sql.Tx }

func (t sqlTx) Native() any { return t.tx }

func (t sqlTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return execResult(t.tx.ExecContext(ctx, query, args...))
}

func (t sqlTx) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return queryResult(t.tx.QueryContext(ctx, query, args...))
}

func (t sqlTx) QueryRow(ctx context.Context, query string, args ...any) Row {
	return sqlRow{t.tx.QueryRowContext(ctx, query, args...)}
}

type sqlRow struct{ row *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNoRows
	}
	return Unavailable(err)
}

func execResult(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, Unavailable(err)
	}
	return res.RowsAffected()
}

func queryResult(rows *sql.Rows, err error) (Rows, error) {
	if err != nil {
		return nil, Unavailable(err)
	}
	return rows, nil
}

func sqliteCode(err error) (int, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code(), true
	}
	return 0, false
}

func isSQLiteUnique(err error) bool {
	code, ok := sqliteCode(err)
	return ok && (code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

func sqliteUniqueName(err error) (string, bool) {
	if !isSQLiteUnique(err) {
		return "", false
	}
	// "constraint failed: UNIQUE constraint failed: customers.email (2067)"
	msg := err.Error()
	if i := strings.Index(msg, "constraint failed: "); i >= 0 {
		msg = msg[i+len("constraint failed: "):]
		if j := strings.LastIndex(msg, "constraint failed: "); j >= 0 {
			msg = msg[j+len("constraint failed: "):]
		}
	}
	if k := strings.Index(msg, " ("); k >= 0 {
		msg = msg[:k]
	}
	return msg, true
}

func isSQLiteTransient(err error) bool {
	code, ok := sqliteCode(err)
	if !ok {
		return false
	}
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
		return true
	}
	return false
}

func isTransient(err error) bool {
	if isSQLiteTransient(err) || isPgTransient(err) {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EPIPE)
}
