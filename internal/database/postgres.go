package database

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresOptions tune a PostgreSQL pool.
type PostgresOptions struct {
	// MaxConns is the pool size (default: pgx's default, max(4, CPUs)).
	MaxConns int32
	// SearchPath, when set, becomes the connections' search_path (tests
	// use it to give each test its own schema).
	SearchPath string
	// ConnectTimeout bounds each new connection's dial and start-up, so a
	// server that accepts connections but never answers (hung, or
	// unreachable behind a firewall that drops packets) fails a request
	// with ErrUnavailable rather than holding it. Default: the URL's
	// connect_timeout, else DefaultConnectTimeout.
	ConnectTimeout time.Duration
}

// DefaultConnectTimeout is the PostgreSQL connect timeout when neither the
// URL (connect_timeout) nor PostgresOptions sets one.
const DefaultConnectTimeout = 5 * time.Second

// PostgresDB is a PostgreSQL database reached through a pgx pool.
type PostgresDB struct {
	pool *pgxpool.Pool
}

var _ DB = (*PostgresDB)(nil)

// OpenPostgres connects to the database at url and checks a round trip.
func OpenPostgres(ctx context.Context, url string, opts PostgresOptions) (*PostgresDB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: parse url: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.SearchPath != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.SearchPath
	}
	switch {
	case opts.ConnectTimeout > 0:
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	case cfg.ConnConfig.ConnectTimeout <= 0:
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, Unavailable(err))
	}
	return &PostgresDB{pool: pool}, nil
}

// Pool is the underlying pgx pool (the queue's driver uses it).
func (d *PostgresDB) Pool() *pgxpool.Pool { return d.pool }

// Dialect implements DB.
func (d *PostgresDB) Dialect() Dialect { return Postgres }

// Exec implements Querier.
func (d *PostgresDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := d.pool.Exec(ctx, query, args...)
	if err != nil {
		return 0, Unavailable(err)
	}
	return tag.RowsAffected(), nil
}

// Query implements Querier.
func (d *PostgresDB) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := d.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, Unavailable(err)
	}
	return pgRows{rows}, nil
}

// QueryRow implements Querier.
func (d *PostgresDB) QueryRow(ctx context.Context, query string, args ...any) Row {
	return pgRow{d.pool.QueryRow(ctx, query, args...)}
}

// InTx implements DB.
func (d *PostgresDB) InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) (err error) {
	ptx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", Unavailable(err))
	}
	defer func() {
		if p := recover(); p != nil {
			_ = ptx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
	}()
	if err := fn(ctx, pgTx{ptx}); err != nil {
		_ = ptx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := ptx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", Unavailable(err))
	}
	return nil
}

// Ping implements DB.
func (d *PostgresDB) Ping(ctx context.Context) error {
	return Unavailable(d.pool.Ping(ctx))
}

// Close implements DB.
func (d *PostgresDB) Close() error {
	d.pool.Close()
	return nil
}

type pgTx struct{ tx pgx.Tx }

func (t pgTx) Native() any { return t.tx }

func (t pgTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, query, args...)
	if err != nil {
		return 0, Unavailable(err)
	}
	return tag.RowsAffected(), nil
}

func (t pgTx) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := t.tx.Query(ctx, query, args...)
	if err != nil {
		return nil, Unavailable(err)
	}
	return pgRows{rows}, nil
}

func (t pgTx) QueryRow(ctx context.Context, query string, args ...any) Row {
	return pgRow{t.tx.QueryRow(ctx, query, args...)}
}

type pgRows struct{ rows pgx.Rows }

func (r pgRows) Next() bool             { return r.rows.Next() }
func (r pgRows) Scan(dest ...any) error { return r.rows.Scan(dest...) }
func (r pgRows) Err() error             { return Unavailable(r.rows.Err()) }
func (r pgRows) Close() error           { r.rows.Close(); return nil }

type pgRow struct{ row pgx.Row }

func (r pgRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNoRows
	}
	return Unavailable(err)
}

func pgCode(err error) (*pgconn.PgError, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe, true
	}
	return nil, false
}

func isPgUnique(err error) bool {
	pe, ok := pgCode(err)
	return ok && pe.Code == "23505"
}

func pgUniqueName(err error) (string, bool) {
	pe, ok := pgCode(err)
	if !ok || pe.Code != "23505" {
		return "", false
	}
	return pe.ConstraintName, true
}

func isPgTransient(err error) bool {
	if pe, ok := pgCode(err); ok {
		// Connection exception, insufficient resources, operator intervention.
		// (A PgError built without a code is none of these.)
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "53") || strings.HasPrefix(pe.Code, "57")
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || pgconn.SafeToRetry(err)
}
