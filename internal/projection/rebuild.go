package projection

import (
	"context"
	"errors"
	"fmt"
	"time"

	"insure/internal/database"
)

// RebuildOptions configure Rebuild.
type RebuildOptions struct {
	// BatchSize is how many events one transaction applies (default
	// 5000). On SQLite a batch holds the one writer, so commands wait for
	// it: keep it in the tens of milliseconds.
	BatchSize int
	// Restart drops the shadow tables of an unfinished rebuild and starts
	// again from the first event, instead of resuming from their
	// checkpoint.
	Restart bool
	// Progress, when set, is told after every batch and at the swap.
	Progress func(Progress)
}

// Progress is how far a rebuild is.
type Progress struct {
	Name string
	// Phase is "copy" while the shadow tables catch up, "swap" while they
	// are swapped in, "done" after.
	Phase string
	// Position is the shadow tables' checkpoint; Head the stream head.
	Position, Head int64
	// Applied is how many events this run applied; Resumed the position
	// it resumed an unfinished rebuild from (0 for a new one).
	Applied, Resumed int64
	Elapsed          time.Duration
}

// Rate is the events applied per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Applied) / p.Elapsed.Seconds()
}

// ErrRebuildTaken means another rebuild of the same projection moved the
// shadow tables' checkpoint or finished first.
var ErrRebuildTaken = errors.New("another rebuild of this projection is running or has finished")

// Rebuild rebuilds the projection called name from the first event, into
// shadow tables, and swaps them in once they are caught up, without
// downtime: readers see the live tables, kept up to date inline as usual,
// until the swap commits, and the rebuilt ones after it, never an empty
// or half-built table. Commands keep running during the rebuild.
//
// The copy runs in batches, each in one transaction with the shadow
// tables' own checkpoint ("<name>#rebuild"), so an interrupted rebuild
// resumes where it stopped (unless opts.Restart). When the copy is within
// one batch of the head, one transaction takes the stream head lock (no
// append can commit meanwhile: on PostgreSQL the UPDATE holds the row
// lock, and SQLite's writer is exclusive), applies the remaining events,
// drops the live tables, renames the shadow tables (and their indexes)
// in, and sets the projection's checkpoint to the head. On PostgreSQL a
// reader waits for that transaction's table lock at most lock_timeout
// (10 s; the swap fails and can be run again rather than block readers
// longer); on SQLite readers keep reading their snapshot (WAL).
//
// Events archived by `insure events archive` are read from the archive
// segments (Config.ArchiveDir) merged with the table, during the copy.
//
// Run one rebuild of a projection at a time. Errors: ErrUnknownProjection,
// ErrRebuildTaken, ErrArchived (the archive directory cannot be read),
// those of the archive reader (eventstore.ErrArchiveCorrupt for a segment
// that does not verify), the first failure to decode or apply an event,
// those of the database, and ctx's; the live tables are untouched by all
// of them.
func (s *Subscriptions) Rebuild(ctx context.Context, name string, opts RebuildOptions) (Progress, error) {
	p, err := s.lookup(name)
	if err != nil {
		return Progress{}, err
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	report := func(Progress) {}
	if opts.Progress != nil {
		report = opts.Progress
	}
	if err := s.Ensure(ctx); err != nil {
		return Progress{}, err
	}
	start := time.Now()
	prog := Progress{Name: name, Phase: "copy"}
	cp := rebuildCheckpoint(name)
	d := s.db.Dialect()
	err = s.db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		pos, ok, err := s.checkpoint(ctx, tx, cp)
		if err != nil {
			return err
		}
		exists, err := shadowExists(ctx, tx, d, p.Tables())
		if err != nil {
			return err
		}
		if ok && exists && !opts.Restart {
			prog.Resumed, prog.Position = pos, pos
			return nil
		}
		if err := createShadow(ctx, tx, d, p.Tables(), s.setSQL[s.byName[name]]); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM projection_checkpoints WHERE name = $1`, cp); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, sqlEnsureCheckpoint, cp, s.now())
		return err
	})
	if err != nil {
		return prog, fmt.Errorf("rebuild %s: prepare the shadow tables: %w", name, err)
	}

	// Copy, batch by batch, until within one batch of the head.
	// The archived stretch is copied here too, so that the swap, holding
	// the head lock, reads the table only.
	withinOneBatch := func(b batch) bool { return b.head-b.from <= int64(opts.BatchSize) && b.from >= b.archived }
	_, err = s.catchUp(ctx, p, Shadow, opts.BatchSize, withinOneBatch, func(b batch, n int64) {
		prog.Position, prog.Head, prog.Applied, prog.Elapsed = b.to, b.head, prog.Applied+n, time.Since(start)
		report(prog)
	})
	if errors.Is(err, errMoved) {
		err = ErrRebuildTaken
	}
	if err != nil {
		return prog, fmt.Errorf("rebuild %s: %w", name, err)
	}

	// Swap: the rest of the events and the tables, under the head lock.
	src, err := s.newSource(ctx)
	if err != nil {
		return prog, fmt.Errorf("rebuild %s: %w", name, err)
	}
	defer src.close()
	prog.Phase = "swap"
	prog.Elapsed = time.Since(start)
	report(prog)
	err = s.db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		if d == database.Postgres {
			if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '10s'`); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE event_stream_head SET position = position WHERE id = 1`); err != nil {
			return fmt.Errorf("lock the stream head: %w", err)
		}
		head, err := s.head(ctx, tx)
		if err != nil {
			return err
		}
		pos, ok, err := s.checkpoint(ctx, tx, cp)
		if err != nil {
			return err
		}
		if !ok {
			return ErrRebuildTaken
		}
		rest := batch{from: pos, to: head, head: head}
		archived, err := src.archived(ctx, tx)
		if err != nil {
			return err
		}
		// A range applied in SQL reads the table only: not one that an
		// archive run reached meanwhile.
		if !s.setSQL[s.byName[p.Name()]] || pos < archived {
			if rest.envs, err = s.readRange(ctx, src, tx, p, pos, head); err != nil {
				return err
			}
			if rest.ps, err = s.decode(ctx, tx, rest.envs); err != nil {
				return err
			}
		}
		n, err := tx.Exec(ctx, sqlMoveCheckpoint, head, s.now(), cp, pos)
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrRebuildTaken
		}
		applied, err := s.applyBatch(ctx, tx, p, Shadow, rest)
		if err != nil {
			return err
		}
		if err := swapShadow(ctx, tx, d, p.Tables()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE projection_checkpoints SET position = $1, updated_at = $2, last_error = '' WHERE name = $3`,
			head, s.now(), name); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM projection_checkpoints WHERE name = $1`, cp); err != nil {
			return err
		}
		prog.Position, prog.Head, prog.Applied = head, head, prog.Applied+applied
		return nil
	})
	if err != nil {
		return prog, fmt.Errorf("rebuild %s: swap: %w", name, err)
	}
	prog.Phase, prog.Elapsed = "done", time.Since(start)
	report(prog)
	return prog, nil
}
