// Package dbtest opens real databases for tests: an SQLite file in a
// temporary directory, or a fresh schema in the PostgreSQL server named by
// TEST_DATABASE_URL (default: the local server's "test" database). Every
// database it returns is migrated and is removed when the test ends.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"insure/internal/database"
)

// DefaultPostgresURL is used when TEST_DATABASE_URL is not set.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns TEST_DATABASE_URL or the default.
func PostgresURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// Dialects lists the engines every storage test runs against.
func Dialects() []database.Dialect {
	return []database.Dialect{database.SQLite, database.Postgres}
}

// Each runs fn as a subtest once per dialect, each with its own database.
func Each(t *testing.T, fn func(t *testing.T, db database.DB)) {
	t.Helper()
	for _, d := range Dialects() {
		t.Run(string(d), func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// Open returns a migrated, empty database of dialect d.
func Open(t testing.TB, d database.Dialect) database.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var db database.DB
	switch d {
	case database.SQLite:
		sdb, err := database.OpenSQLite(ctx, filepath.Join(t.TempDir(), "insure.db"), database.SQLiteOptions{Synchronous: "NORMAL"})
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		db = sdb
	case database.Postgres:
		schema := NewSchema(t)
		pdb, err := database.OpenPostgres(ctx, PostgresURL(), database.PostgresOptions{SearchPath: schema, MaxConns: 8})
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		db = pdb
	default:
		t.Fatalf("unknown dialect %q", d)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := database.Migrate(ctx, db); err != nil {
		t.Fatalf("migrate %s: %v", d, err)
	}
	return db
}

// NewSchema creates an empty PostgreSQL schema for t, dropped when t ends,
// and returns its name. It fails the test (it does not skip) when the server
// cannot be reached: the PostgreSQL tests are part of the suite.
func NewSchema(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		t.Fatalf("connect to PostgreSQL at %s (set TEST_DATABASE_URL, or start the server): %v", PostgresURL(), err)
	}
	defer conn.Close(context.Background())
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, PostgresURL())
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}
