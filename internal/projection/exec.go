package projection

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"

	"insure/internal/database"
)

// batchTx runs a catch-up batch's statements faster than one round trip
// each, behind the database.Tx that Apply takes:
//
//   - on PostgreSQL it pipelines them: Exec queues the statement and
//     returns at once; the queue is sent in one round trip (pgx.Batch)
//     when it is long, before any Query or QueryRow (so reads see every
//     write queued before them, in order), and at flush;
//   - on SQLite it prepares each distinct statement once per batch and
//     runs it from the prepared form (SQLite has no round trip to save,
//     but parsing every statement again costs as much as running it).
//
// So that the result is the same as statement by statement, Exec returns
// 0 rows affected on PostgreSQL (the count is not known yet) and the error
// of a queued statement comes out of the next flush: Apply must not rely
// on the count, and the whole batch fails, as it would anyway. The inline
// path does not use it. Dialect-specific, like internal/database; it could
// move there if another package needs it.
type batchTx struct {
	database.Tx
	pg     pgx.Tx
	queued *pgx.Batch
	// labels says which event queued each statement, for errors; label is
	// the event being applied.
	labels []string
	label  string
	sqlite *sql.Tx
	stmts  map[string]*sql.Stmt
}

// pipelineFlushAt is how many statements batchTx queues before it sends
// them (on PostgreSQL).
const pipelineFlushAt = 2000

// newBatchTx wraps tx; close it with flush and release.
func newBatchTx(tx database.Tx) *batchTx {
	b := &batchTx{Tx: tx}
	switch n := tx.Native().(type) {
	case pgx.Tx:
		b.pg, b.queued = n, &pgx.Batch{}
	case *sql.Tx:
		b.sqlite, b.stmts = n, map[string]*sql.Stmt{}
	}
	return b
}

// Exec queues (PostgreSQL) or runs prepared (SQLite) one statement.
func (b *batchTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	switch {
	case b.pg != nil:
		b.queued.Queue(query, args...)
		b.labels = append(b.labels, b.label)
		if b.queued.Len() >= pipelineFlushAt {
			return 0, b.flush(ctx)
		}
		return 0, nil
	case b.sqlite != nil:
		st, ok := b.stmts[query]
		if !ok {
			var err error
			if st, err = b.sqlite.PrepareContext(ctx, query); err != nil {
				return 0, database.Unavailable(err)
			}
			b.stmts[query] = st
		}
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return 0, database.Unavailable(err)
		}
		return res.RowsAffected()
	}
	return b.Tx.Exec(ctx, query, args...)
}

// Query sends what is queued, then runs the query.
func (b *batchTx) Query(ctx context.Context, query string, args ...any) (database.Rows, error) {
	if err := b.flush(ctx); err != nil {
		return nil, err
	}
	return b.Tx.Query(ctx, query, args...)
}

// QueryRow sends what is queued, then runs the query.
func (b *batchTx) QueryRow(ctx context.Context, query string, args ...any) database.Row {
	if err := b.flush(ctx); err != nil {
		return errRow{err}
	}
	return b.Tx.QueryRow(ctx, query, args...)
}

// Native sends what is queued and returns the driver's transaction.
func (b *batchTx) Native() any {
	if err := b.flush(context.Background()); err != nil {
		// The next statement on the transaction fails the same way.
		return b.Tx.Native()
	}
	return b.Tx.Native()
}

// flush sends the queued statements (PostgreSQL) and returns the first
// error among them.
func (b *batchTx) flush(ctx context.Context) error {
	if b.pg == nil || b.queued.Len() == 0 {
		return nil
	}
	queued, labels := b.queued, b.labels
	b.queued, b.labels = &pgx.Batch{}, nil
	br := b.pg.SendBatch(ctx, queued)
	for i := range queued.Len() {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return fmt.Errorf("%s: %s: %w", labels[i], firstLine(queued.QueuedQueries[i].SQL), database.Unavailable(err))
		}
	}
	return database.Unavailable(br.Close())
}

// release closes the prepared statements (SQLite).
func (b *batchTx) release() {
	for _, st := range b.stmts {
		_ = st.Close()
	}
	b.stmts = nil
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func firstLine(s string) string {
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i] + " …"
		}
	}
	return s
}
