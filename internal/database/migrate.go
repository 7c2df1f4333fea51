package database

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations
var migrations embed.FS

// Migration is one applied (or already present) schema version.
type Migration struct {
	Version int64
	Source  string
	Applied bool // false when it was already applied before this run
}

// Migrate applies every pending migration of the dialect and returns all
// versions with whether this run applied them. On PostgreSQL a session
// advisory lock keeps concurrent processes from migrating at once.
func Migrate(ctx context.Context, db DB) ([]Migration, error) {
	p, closeFn, err := provider(db)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", Unavailable(err))
	}
	applied := make(map[int64]bool, len(results))
	for _, r := range results {
		applied[r.Source.Version] = true
	}
	status, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]Migration, 0, len(status))
	for _, s := range status {
		out = append(out, Migration{Version: s.Source.Version, Source: s.Source.Path, Applied: applied[s.Source.Version]})
	}
	return out, nil
}

func provider(db DB) (*goose.Provider, func(), error) {
	var (
		sqlDB   *sql.DB
		dialect goose.Dialect
		dir     string
		opts    = []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
		closeFn = func() {}
	)
	switch d := db.(type) {
	case *SQLiteDB:
		sqlDB, dialect, dir = d.writer, goose.DialectSQLite3, "migrations/sqlite"
	case *PostgresDB:
		sqlDB = stdlib.OpenDBFromPool(d.pool)
		closeFn = func() { _ = sqlDB.Close() }
		dialect, dir = goose.DialectPostgres, "migrations/postgres"
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300)) // retry every second, up to 5 minutes
		if err != nil {
			return nil, nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	default:
		return nil, nil, fmt.Errorf("migrate: unsupported database %T", db)
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("migrations %s: %w", dir, err)
	}
	p, err := goose.NewProvider(dialect, sqlDB, sub, opts...)
	if err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("migrations: %w", err)
	}
	return p, closeFn, nil
}
