package queue

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"insure/internal/database"
)

// client is the part of River's generic client the queue uses, with the
// transaction type hidden behind database.Tx.
type client interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func())
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	insertManyTx(ctx context.Context, tx database.Tx, params []river.InsertManyParams) error
	jobRetryTx(ctx context.Context, tx database.Tx, id int64) (*rivertype.JobRow, error)
	jobGetTx(ctx context.Context, tx database.Tx, id int64) (*rivertype.JobRow, error)
	jobCancelTx(ctx context.Context, tx database.Tx, id int64) (*rivertype.JobRow, error)
}

type clientOf[TTx any] struct {
	*river.Client[TTx]
}

func (c clientOf[TTx]) native(tx database.Tx) (TTx, error) {
	ntx, ok := tx.Native().(TTx)
	if !ok {
		var zero TTx
		return zero, fmt.Errorf("queue: transaction is %T, want %T", tx.Native(), zero)
	}
	return ntx, nil
}

func (c clientOf[TTx]) insertManyTx(ctx context.Context, tx database.Tx, params []river.InsertManyParams) error {
	ntx, err := c.native(tx)
	if err != nil {
		return err
	}
	_, err = c.InsertManyFastTx(ctx, ntx, params)
	return err
}

func (c clientOf[TTx]) jobRetryTx(ctx context.Context, tx database.Tx, id int64) (*rivertype.JobRow, error) {
	ntx, err := c.native(tx)
	if err != nil {
		return nil, err
	}
	return c.JobRetryTx(ctx, ntx, id)
}

func (c clientOf[TTx]) jobGetTx(ctx context.Context, tx database.Tx, id int64) (*rivertype.JobRow, error) {
	ntx, err := c.native(tx)
	if err != nil {
		return nil, err
	}
	return c.JobGetTx(ctx, ntx, id)
}

func (c clientOf[TTx]) jobCancelTx(ctx context.Context, tx database.Tx, id int64) (*rivertype.JobRow, error) {
	ntx, err := c.native(tx)
	if err != nil {
		return nil, err
	}
	return c.JobCancelTx(ctx, ntx, id)
}

func newClient(db database.DB, cfg *river.Config) (client, error) {
	switch d := db.(type) {
	case *database.SQLiteDB:
		c, err := river.NewClient[*sql.Tx](riversqlite.New(d.Writer()), cfg)
		if err != nil {
			return nil, fmt.Errorf("queue client: %w", err)
		}
		return clientOf[*sql.Tx]{c}, nil
	case *database.PostgresDB:
		c, err := river.NewClient[pgx.Tx](riverpgxv5.New(d.Pool()), cfg)
		if err != nil {
			return nil, fmt.Errorf("queue client: %w", err)
		}
		return clientOf[pgx.Tx]{c}, nil
	default:
		return nil, fmt.Errorf("queue: unsupported database %T", db)
	}
}
