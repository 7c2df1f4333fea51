package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"insure/internal/database"
)

// Errors of the dead-letter operations.
var (
	ErrDeadLetterNotFound = errors.New("dead letter not found")
	ErrAlreadyResolved    = errors.New("dead letter was already retried or discarded")
	// ErrJobBusy means the dead letter's job is still being finalised by
	// the worker that gave up on it; retry in a moment.
	ErrJobBusy = errors.New("the job is still finishing its last attempt; try again in a moment")
)

// BusyError says how many dead letters a resolution of many left alone
// because their jobs were still finishing. It wraps ErrJobBusy.
type BusyError struct{ Count int }

func (e *BusyError) Error() string {
	return fmt.Sprintf("%d dead letters were left alone: %s", e.Count, ErrJobBusy)
}

func (e *BusyError) Unwrap() error { return ErrJobBusy }

// DeadLetter is a listener job that gave up.
type DeadLetter struct {
	ID         int64      `json:"id"`
	JobID      int64      `json:"job_id"`
	Listener   string     `json:"listener"`
	Queue      string     `json:"queue"`
	EventID    string     `json:"event_id"`
	Attempts   int        `json:"attempts"`
	Error      string     `json:"error"`
	Status     string     `json:"status"`
	FailedAt   time.Time  `json:"failed_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

// recordDeadLetter writes the dead letter and runs the Failed hook in one
// transaction. A dead letter that is already recorded (and still dead) is
// left alone and its hook not run again.
func (q *Queue) recordDeadLetter(ctx context.Context, jobID int64, args ListenerArgs, queueName string, attempts int, cause error) error {
	msg := cause.Error()
	if len(msg) > 16_000 {
		msg = msg[:16_000]
	}
	return q.db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		n, err := tx.Exec(ctx, `INSERT INTO dead_letters (job_id, listener, queue, event_id, attempts, error, status, failed_at)
			VALUES ($1, $2, $3, $4, $5, $6, 'dead', $7)
			ON CONFLICT (job_id) DO UPDATE SET attempts = excluded.attempts, error = excluded.error,
				status = 'dead', failed_at = excluded.failed_at, resolved_at = NULL
			WHERE dead_letters.status <> 'dead'`,
			jobID, args.Listener, queueName, args.EventID, attempts, msg, q.cfg.Now().UTC())
		if err != nil {
			return fmt.Errorf("record dead letter: %w", err)
		}
		if n == 0 {
			return nil
		}
		if err := q.handler.GiveUp(ctx, tx, args.Listener, args.EventID, cause); err != nil {
			return fmt.Errorf("failed hook of %s: %w", args.Listener, err)
		}
		return nil
	})
}

const deadLetterColumns = `id, job_id, listener, queue, event_id, attempts, error, status, failed_at, resolved_at`

// DeadLetters lists dead letters with the given status ("dead" when empty;
// "all" for every status), oldest first, after the given id.
func (q *Queue) DeadLetters(ctx context.Context, status string, after int64, limit int) ([]DeadLetter, error) {
	if status == "" {
		status = "dead"
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	query := `SELECT ` + deadLetterColumns + ` FROM dead_letters WHERE id > $1 AND (status = $2 OR $2 = 'all') ORDER BY id LIMIT $3`
	rows, err := q.db.Query(ctx, query, after, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		d, err := scanDeadLetter(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeadLetter returns one dead letter.
func (q *Queue) DeadLetter(ctx context.Context, id int64) (DeadLetter, error) {
	d, err := scanDeadLetter(q.db.QueryRow(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters WHERE id = $1`, id))
	if errors.Is(err, database.ErrNoRows) {
		return DeadLetter{}, fmt.Errorf("dead letter %d: %w", id, ErrDeadLetterNotFound)
	}
	return d, err
}

// deadInTx reads dead letter id in tx: ErrDeadLetterNotFound when there
// is none, ErrAlreadyResolved when it is no longer dead.
func deadInTx(ctx context.Context, tx database.Tx, id int64) (DeadLetter, error) {
	d, err := scanDeadLetter(tx.QueryRow(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters WHERE id = $1`, id))
	if errors.Is(err, database.ErrNoRows) {
		return d, fmt.Errorf("dead letter %d: %w", id, ErrDeadLetterNotFound)
	}
	if err != nil {
		return d, err
	}
	if d.Status != "dead" {
		return d, fmt.Errorf("dead letter %d is %s: %w", id, d.Status, ErrAlreadyResolved)
	}
	return d, nil
}

// Retry makes a dead letter's job available again (with one more attempt)
// and marks the dead letter retried, in one transaction.
func (q *Queue) Retry(ctx context.Context, id int64) (DeadLetter, error) {
	var d DeadLetter
	err := q.db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		var err error
		if d, err = deadInTx(ctx, tx, id); err != nil {
			return err
		}
		now := q.cfg.Now().UTC()
		// Claim the dead letter first: of two concurrent resolutions only
		// one gets past this update; the other waits for its commit (the
		// row lock) and then finds nothing to update.
		n, err := tx.Exec(ctx, `UPDATE dead_letters SET status = 'retried', resolved_at = $2 WHERE id = $1 AND status = 'dead'`, id, now)
		if err != nil {
			return fmt.Errorf("mark dead letter %d retried: %w", id, err)
		}
		if n == 0 {
			return fmt.Errorf("dead letter %d was resolved meanwhile: %w", id, ErrAlreadyResolved)
		}
		job, err := q.client.jobRetryTx(ctx, tx, d.JobID)
		if err != nil {
			return fmt.Errorf("retry job %d: %w", d.JobID, err)
		}
		if job.State != rivertype.JobStateAvailable {
			return fmt.Errorf("retry dead letter %d (job %d is %s): %w", id, d.JobID, job.State, ErrJobBusy)
		}
		d.Status, d.ResolvedAt = "retried", &now
		return nil
	})
	return d, err
}

// Discard gives up on a dead letter for good: it is marked discarded, with
// resolved_at, and is no longer listed as dead nor retried by RetryAll. Its
// River job is left as River left it (discarded or cancelled when the
// listener gave up, or still finishing that last attempt, which ends the
// same way); PendingEventIDs no longer counts it. It fails with
// ErrDeadLetterNotFound for an unknown id and ErrAlreadyResolved for one
// already retried or discarded.
func (q *Queue) Discard(ctx context.Context, id int64) (DeadLetter, error) {
	var d DeadLetter
	err := q.db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		var err error
		if d, err = deadInTx(ctx, tx, id); err != nil {
			return err
		}
		now := q.cfg.Now().UTC()
		n, err := tx.Exec(ctx, `UPDATE dead_letters SET status = 'discarded', resolved_at = $2 WHERE id = $1 AND status = 'dead'`, id, now)
		if err != nil {
			return fmt.Errorf("mark dead letter %d discarded: %w", id, err)
		}
		if n == 0 {
			return fmt.Errorf("dead letter %d was resolved meanwhile: %w", id, ErrAlreadyResolved)
		}
		// The job must never run again. It normally ended when the listener
		// gave up; but a process that died between recording the dead
		// letter and finishing the job leaves it running, to be rescued
		// and retried. Cancel a job still queued; refuse while it runs.
		job, err := q.client.jobGetTx(ctx, tx, d.JobID)
		if errors.Is(err, river.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("discard dead letter %d: read job %d: %w", id, d.JobID, err)
		}
		switch job.State {
		case rivertype.JobStateRunning:
			return fmt.Errorf("discard dead letter %d (job %d is running): %w", id, d.JobID, ErrJobBusy)
		case rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStatePending:
			if _, err := q.client.jobCancelTx(ctx, tx, d.JobID); err != nil {
				return fmt.Errorf("discard dead letter %d: cancel job %d: %w", id, d.JobID, err)
			}
		}
		d.Status, d.ResolvedAt = "discarded", &now
		return nil
	})
	return d, err
}

// DiscardAll discards every dead letter and returns those it discarded;
// see resolveAll.
func (q *Queue) DiscardAll(ctx context.Context) ([]DeadLetter, error) {
	return q.resolveAll(ctx, 0, q.Discard)
}

// DiscardUpTo discards every dead letter whose id is at most upTo (those an
// operator saw and confirmed), like DiscardAll.
func (q *Queue) DiscardUpTo(ctx context.Context, upTo int64) ([]DeadLetter, error) {
	return q.resolveAll(ctx, max(upTo, 1), q.Discard)
}

// RetryAll retries every dead letter and returns those it retried; see
// resolveAll.
func (q *Queue) RetryAll(ctx context.Context) ([]DeadLetter, error) {
	return q.resolveAll(ctx, 0, q.Retry)
}

// RetryUpTo retries every dead letter whose id is at most upTo, like
// RetryAll.
func (q *Queue) RetryUpTo(ctx context.Context, upTo int64) ([]DeadLetter, error) {
	return q.resolveAll(ctx, max(upTo, 1), q.Retry)
}

// resolveAll runs resolve (Retry or Discard) on every dead letter (with an
// id up to upTo when upTo > 0), skipping those resolved meanwhile, and
// returns those it resolved. Those whose job is still finishing its last
// attempt are skipped too; then, after all the others, it returns an error
// wrapping ErrJobBusy that says how many.
func (q *Queue) resolveAll(ctx context.Context, upTo int64, resolve func(ctx context.Context, id int64) (DeadLetter, error)) ([]DeadLetter, error) {
	var (
		done  []DeadLetter
		after int64
		busy  int
	)
	for {
		batch, err := q.DeadLetters(ctx, "dead", after, 500)
		if err != nil {
			return done, err
		}
		if len(batch) == 0 || (upTo > 0 && batch[0].ID > upTo) {
			break
		}
		for _, d := range batch {
			after = d.ID
			if upTo > 0 && d.ID > upTo {
				break
			}
			r, err := resolve(ctx, d.ID)
			switch {
			case errors.Is(err, ErrAlreadyResolved), errors.Is(err, ErrDeadLetterNotFound):
				continue
			case errors.Is(err, ErrJobBusy):
				busy++
				continue
			case err != nil:
				return done, err
			}
			done = append(done, r)
		}
	}
	if busy > 0 {
		return done, &BusyError{Count: busy}
	}
	return done, nil
}

func scanDeadLetter(row database.Row) (DeadLetter, error) {
	var d DeadLetter
	err := row.Scan(&d.ID, &d.JobID, &d.Listener, &d.Queue, &d.EventID, &d.Attempts, &d.Error, &d.Status, &d.FailedAt, &d.ResolvedAt)
	if err != nil {
		return d, err
	}
	d.FailedAt = d.FailedAt.UTC()
	return d, nil
}

// JSONText spells the River column (args, metadata) as JSON text in SQL:
// River keeps it as jsonb on PostgreSQL and as SQLite's binary JSONB on
// SQLite, which json() turns into text. column is a fixed name, never
// input.
func JSONText(d database.Dialect, column string) string {
	if d == database.SQLite {
		return "json(" + column + ")"
	}
	return column + "::text"
}

// PendingEventIDs returns the ids of the events that listener jobs not yet
// completed refer to (available, scheduled, retryable, running, and
// discarded ones, which can still be retried from their dead letter, unless
// that dead letter was discarded), each once, lower-cased.
func PendingEventIDs(ctx context.Context, q database.Querier, d database.Dialect) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT `+JSONText(d, "args")+` FROM river_job WHERE kind = $1 AND state <> 'completed'
		AND NOT (state IN ('discarded', 'cancelled') AND id IN (SELECT job_id FROM dead_letters WHERE status = 'discarded'))`,
		ListenerArgs{}.Kind())
	if err != nil {
		return nil, fmt.Errorf("listener jobs: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var ids []string
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("listener jobs: %w", err)
		}
		var args ListenerArgs
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			return nil, fmt.Errorf("listener job arguments %q: %w", raw, err)
		}
		if id := strings.ToLower(args.EventID); !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listener jobs: %w", err)
	}
	return ids, nil
}
