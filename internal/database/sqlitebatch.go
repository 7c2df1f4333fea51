package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
)

// Group commit for SQLite.
//
// SQLite has one writer, and with synchronous=FULL every commit waits for
// the disk. When many transactions queue for that writer, (*SQLiteDB).InTx
// does not give each its own BEGIN … COMMIT: a single goroutine (the
// committer) takes every transaction waiting at that moment, runs each
// inside a savepoint of one shared transaction and commits them together,
// so one disk flush serves them all. A transaction whose function fails
// (or panics) is rolled back to its savepoint and the others go on; the
// others learn the outcome of the shared COMMIT. When only one transaction
// is waiting it runs alone, without a savepoint, as it would without the
// committer.
//
// Waiting transactions are taken first come, first served, which also
// keeps an API command from being passed over again and again by listener
// transactions: database/sql hands a free connection to a random waiter.
//
// If SQLite rolls the whole transaction back under a function (an
// interrupted statement, SQLITE_FULL or SQLITE_IOERR can), the savepoint
// is gone: the committer notices when it releases or rolls back to it,
// rolls back what is left and answers every member of the group with an
// error, so none is told it committed when it did not.
//
// A panic in a function is raised again in InTx's caller with the same
// value, as without the committer, but the stack it then shows is the
// caller's: the function ran on the committer's goroutine.

// maxGroup caps how many transactions share one commit.
const maxGroup = 64

// errClosed answers transactions submitted after Close.
var errClosed = errors.New("database is closed")

type writeReq struct {
	ctx context.Context
	fn  func(ctx context.Context, tx Tx) error
	// state is queued, then started (by the committer) or abandoned (by
	// a caller whose context ended first).
	state atomic.Int32
	done  chan writeResult
}

const (
	reqQueued int32 = iota
	reqStarted
	reqAbandoned
)

type writeResult struct {
	err      error
	panicked bool
	value    any
}

type committer struct {
	db      *sql.DB
	reqs    chan *writeReq
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
	// commits counts the commits tried, and shared those of groups of
	// more than one transaction.
	commits, shared atomic.Int64
}

func newCommitter(db *sql.DB) *committer {
	c := &committer{db: db, reqs: make(chan *writeReq, maxGroup), stop: make(chan struct{}), stopped: make(chan struct{})}
	go c.run()
	return c
}

// do runs fn in a write transaction, alone or in a group, and returns
// once it has committed or failed. A panic in fn is raised again here.
func (c *committer) do(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-c.stop:
		return fmt.Errorf("begin: %w", errClosed)
	default:
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1)}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return fmt.Errorf("begin: %w", errClosed)
	}
	var res writeResult
	select {
	case res = <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return ctx.Err()
		}
		// It has started: its outcome is on the way, and the caller
		// must learn it (it may have committed).
		res = <-r.done
	case <-c.stopped:
		// Closed after r was queued: r was either answered before the
		// committer stopped or never taken.
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return fmt.Errorf("begin: %w", errClosed)
		}
		res = <-r.done
	}
	if res.panicked {
		panic(res.value)
	}
	return res.err
}

func (c *committer) close() {
	c.once.Do(func() { close(c.stop) })
	<-c.stopped
}

func (c *committer) run() {
	defer close(c.stopped)
	group := make([]*writeReq, 0, maxGroup)
	for {
		group = group[:0]
		select {
		case r := <-c.reqs:
			group = append(group, r)
		case <-c.stop:
			c.drain()
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case r := <-c.reqs:
				group = append(group, r)
			default:
				break more
			}
		}
		c.commit(group)
	}
}

// drain answers whatever was queued when the database closed.
func (c *committer) drain() {
	for {
		select {
		case r := <-c.reqs:
			if r.state.CompareAndSwap(reqQueued, reqStarted) {
				r.done <- writeResult{err: fmt.Errorf("begin: %w", errClosed)}
			}
		default:
			return
		}
	}
}

// commit runs the group's live members in one transaction.
func (c *committer) commit(group []*writeReq) {
	live := group[:0]
	for _, r := range group {
		if !r.state.CompareAndSwap(reqQueued, reqStarted) {
			continue // abandoned: its caller has returned
		}
		if err := r.ctx.Err(); err != nil {
			r.done <- writeResult{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// The shared transaction outlives any one member's context: a member
	// whose context ends stops its own statements, not the others'.
	stx, err := c.db.BeginTx(context.Background(), nil)
	if err != nil {
		for _, r := range live {
			r.done <- writeResult{err: fmt.Errorf("begin: %w", Unavailable(err))}
		}
		return
	}
	c.commits.Add(1)
	if len(live) == 1 {
		r := live[0]
		res := call(r, stx)
		if res.err != nil || res.panicked {
			_ = stx.Rollback()
			r.done <- res
			return
		}
		if err := stx.Commit(); err != nil {
			res.err = fmt.Errorf("commit: %w", Unavailable(err))
		}
		r.done <- res
		return
	}
	c.shared.Add(1)
	ok := make([]*writeReq, 0, len(live))
	for i, r := range live {
		sp := "insure_w" + strconv.Itoa(i)
		if _, err := stx.Exec("SAVEPOINT " + sp); err != nil {
			c.abort(stx, ok, live[i:], err)
			return
		}
		res := call(r, stx)
		if res.err == nil && !res.panicked {
			if _, err := stx.Exec("RELEASE " + sp); err != nil {
				c.abort(stx, ok, live[i:], err)
				return
			}
			ok = append(ok, r)
			continue
		}
		if _, err := stx.Exec("ROLLBACK TO " + sp); err != nil {
			// The whole transaction is gone: r has its own answer,
			// the rest are told the group failed, for r's reason
			// when it is one (a full disk).
			r.done <- res
			c.abort(stx, ok, live[i+1:], lostCause(res, err))
			return
		}
		if _, err := stx.Exec("RELEASE " + sp); err != nil {
			r.done <- res
			c.abort(stx, ok, live[i+1:], lostCause(res, err))
			return
		}
		r.done <- res
	}
	err = stx.Commit()
	if err != nil {
		err = fmt.Errorf("commit: %w", Unavailable(err))
	}
	for _, r := range ok {
		r.done <- writeResult{err: err}
	}
}

// abort rolls the shared transaction back after SQLite lost it, and fails
// the members that ran (done) and those that had not yet run (rest).
func (c *committer) abort(stx *sql.Tx, done, rest []*writeReq, cause error) {
	_ = stx.Rollback()
	// The members did nothing wrong: a retry may well succeed.
	u := Unavailable(cause)
	if !errors.Is(u, ErrUnavailable) {
		u = fmt.Errorf("%w: %w", ErrUnavailable, cause)
	}
	err := fmt.Errorf("write transaction rolled back with the group it shared a commit with: %w", u)
	for _, r := range done {
		r.done <- writeResult{err: err}
	}
	for _, r := range rest {
		r.done <- writeResult{err: err}
	}
}

// lostCause is why a group's transaction was lost under a failed member:
// the member's own error when it is a database one (SQLITE_FULL rolls the
// transaction back), else the error of the statement that found it gone.
func lostCause(res writeResult, stmtErr error) error {
	if res.err != nil && errors.Is(Unavailable(res.err), ErrUnavailable) {
		return res.err
	}
	return stmtErr
}

// call runs one member's function, turning a panic into a result.
func call(r *writeReq, stx *sql.Tx) (res writeResult) {
	defer func() {
		if p := recover(); p != nil {
			res = writeResult{panicked: true, value: p}
		}
	}()
	return writeResult{err: r.fn(r.ctx, sqlTx{stx})}
}
