package database

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// Prepared statements for SQLite.
//
// SQLite compiles a statement's text each time it runs unless the
// statement is prepared, and under load that compilation was a quarter of
// insure serve's CPU, much of it on the one writer connection every write
// waits for. A stmtCache keeps one prepared statement per distinct query
// text of a connection pool; database/sql prepares it again by itself on
// each connection of the pool that runs it.
//
// A statement is prepared in the background, the first time its text is
// seen: a transaction holds the writer pool's only connection, so it could
// not be prepared on the spot. Until it is, the query runs unprepared, as
// before. The cache is bounded; queries past the bound always run
// unprepared (texts built per call, such as multi-row inserts, should be
// few).
//
// In a transaction one prepared statement must not run again while rows
// it returned are still open on the same connection: SQLite would reset
// the statement under them. database/sql prevents that outside a
// transaction (open rows hold their connection), not inside one, so a
// transaction marks a statement busy while its rows are open, and runs
// the same text unprepared meanwhile (a query in a loop over its own
// results).

// maxCachedStmts bounds each pool's prepared statements.
const maxCachedStmts = 512

type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	stmts   map[string]*cachedStmt
	pending map[string]bool
	closed  bool
	queue   chan string
	// ctx ends when the cache closes, which ends a preparation waiting
	// for a connection.
	ctx  context.Context
	stop context.CancelFunc
	done chan struct{}
}

func newStmtCache(db *sql.DB) *stmtCache {
	c := &stmtCache{
		db: db, stmts: map[string]*cachedStmt{}, pending: map[string]bool{},
		queue: make(chan string, 64), done: make(chan struct{}),
	}
	c.ctx, c.stop = context.WithCancel(context.Background())
	go c.prepareLoop()
	return c
}

// cachedStmt is a prepared statement; busy is set while rows it returned
// in a transaction are open.
type cachedStmt struct {
	st   *sql.Stmt
	busy atomic.Bool
}

// claim marks the statement busy; false when it already is.
func (cs *cachedStmt) claim() bool { return cs.busy.CompareAndSwap(false, true) }

// release ends a claim.
func (cs *cachedStmt) release() { cs.busy.Store(false) }

// get returns query's prepared statement, or nil when it is not prepared
// yet (it is then asked for) or will not be (the cache is full or closed).
func (c *stmtCache) get(query string) *cachedStmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok || c.closed {
		return st
	}
	if c.pending[query] || len(c.stmts)+len(c.pending) >= maxCachedStmts {
		return nil
	}
	select {
	case c.queue <- query:
		c.pending[query] = true
	default: // the preparer is busy: ask again next time
	}
	return nil
}

func (c *stmtCache) prepareLoop() {
	defer close(c.done)
	for {
		select {
		case <-c.ctx.Done():
			return
		case q := <-c.queue:
			ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
			st, err := c.db.PrepareContext(ctx, q)
			cancel()
			c.mu.Lock()
			delete(c.pending, q)
			switch {
			case err != nil:
				// Not kept: the statement itself reports the error when it
				// runs unprepared, and it is asked for again then.
			case c.closed:
				_ = st.Close()
			default:
				c.stmts[q] = &cachedStmt{st: st}
			}
			c.mu.Unlock()
		}
	}
}

// close stops the preparer and closes the statements; get answers nil
// afterwards.
func (c *stmtCache) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	stmts := c.stmts
	c.stmts = map[string]*cachedStmt{}
	c.mu.Unlock()
	c.stop()
	<-c.done
	for _, cs := range stmts {
		_ = cs.st.Close()
	}
}

// size is the number of prepared statements (for tests).
func (c *stmtCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stmts)
}
