package database

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the engine behind a DB.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Querier runs statements. Both a DB and a Tx are Queriers.
type Querier interface {
	// Exec runs a statement and returns the number of rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows is a result set. Close it; check Err after the loop.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// Row is a single-row result. Scan returns ErrNoRows when there is none.
type Row interface {
	Scan(dest ...any) error
}

// Tx is a database transaction. Native returns the driver's own transaction
// (*sql.Tx for SQLite, pgx.Tx for PostgreSQL) for the queue, which enqueues
// jobs in the same transaction.
type Tx interface {
	Querier
	Native() any
}

// DB is an open database.
type DB interface {
	Querier
	Dialect() Dialect
	// InTx runs fn in a read-write transaction. It commits when fn returns
	// nil and rolls back otherwise (also when fn panics).
	InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Ping checks a round trip to the database.
	Ping(ctx context.Context) error
	Close() error
}

// Errors returned by this package and its adapters.
var (
	// ErrNoRows is returned by Row.Scan when the query matched nothing.
	ErrNoRows = errors.New("no rows")
	// ErrUnavailable wraps errors that mean the database cannot be reached
	// or cannot take writes right now (connection refused, disk full); the
	// operation may succeed later.
	ErrUnavailable = errors.New("database unavailable")
	// ErrStorageFull wraps errors that mean the database's disk is full
	// (SQLITE_FULL, ENOSPC, PostgreSQL's disk_full). Such an error is also
	// ErrUnavailable: the write was not made, and succeeds again once an
	// operator frees space.
	ErrStorageFull = errors.New("database storage is full")
)

// IsUniqueViolation reports whether err is a unique or primary-key
// constraint failure, in either dialect.
func IsUniqueViolation(err error) bool {
	return isPgUnique(err) || isSQLiteUnique(err)
}

// UniqueConstraint returns the name of the violated unique constraint or
// index where the engine reports it (PostgreSQL), or the column list that
// SQLite reports ("table.column"), and whether err is a unique violation.
func UniqueConstraint(err error) (string, bool) {
	if name, ok := pgUniqueName(err); ok {
		return name, true
	}
	return sqliteUniqueName(err)
}

// Unavailable wraps err in ErrUnavailable when it is a connectivity or
// capacity error, so callers can answer "try again" rather than "bug".
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	if isStorageFull(err) {
		return fmt.Errorf("%w: %w: %w", ErrUnavailable, ErrStorageFull, err)
	}
	if isTransient(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// isStorageFull reports whether err says the disk under the database is
// full, in either dialect.
func isStorageFull(err error) bool {
	if code, ok := sqliteCode(err); ok && code&0xff == sqlite3.SQLITE_FULL {
		return true
	}
	if pe, ok := pgCode(err); ok && pe.Code == "53100" {
		return true
	}
	return errors.Is(err, syscall.ENOSPC)
}
