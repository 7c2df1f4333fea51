package database

import (
	"context"
	"database/sql/driver"
	"sync/atomic"

	"modernc.org/sqlite"
)

// Prepared statements for SQLite.
//
// SQLite compiles a statement's text each time it runs unless the
// statement is kept prepared, and under load that compilation was a
// quarter of insure serve's CPU, most of it on the one writer connection
// every write waits for: insure's statements and River's alike (River's
// SQLite driver sends its fetch, insert and completion statements as text
// at every call). So every connection insure opens keeps its statements
// prepared, per query text: the first run of a text on a connection
// prepares it, later runs reuse it. The driver runs a text the same way
// either way (it prepares, runs and finalizes a statement for every
// unprepared call), so nothing changes but the compiling.
//
// A statement that returned rows still open must not run again until they
// are closed (SQLite would reset it under them). Outside a transaction
// database/sql never does that, since open rows hold their connection;
// inside one it can (a query in a loop over its own results), so a
// statement is marked busy while its rows are open, and the same text runs
// unprepared meanwhile. A connection keeps at most maxConnStmts texts; past
// that, new texts run unprepared.

// maxConnStmts bounds each connection's prepared statements.
const maxConnStmts = 512

// sqliteConnector returns the connector for sql.OpenDB of a pool on dsn
// whose connections keep their statements prepared.
func sqliteConnector(dsn string) (*driverPool, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return &driverPool{inner: c}, nil
}

// driverPool is a driver.Connector making stmtConns.
type driverPool struct{ inner driver.Connector }

func (p *driverPool) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := p.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ic, ok := c.(sqliteConn)
	if !ok {
		// Another driver version without one of the interfaces: no cache.
		return c, nil
	}
	return &stmtConn{sqliteConn: ic, stmts: map[string]*connStmt{}}, nil
}

func (p *driverPool) Driver() driver.Driver { return p.inner.Driver() }

// sqliteConn is what database/sql uses of the SQLite driver's connection.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// sqliteStmt is what a prepared statement of the driver offers.
type sqliteStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// sqliteRows is what the driver's rows offer.
type sqliteRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// stmtConn is a connection keeping its statements prepared. database/sql
// uses a connection from one goroutine at a time.
type stmtConn struct {
	sqliteConn
	stmts map[string]*connStmt
}

type connStmt struct {
	st   sqliteStmt
	busy atomic.Bool
}

// stmt returns query's prepared statement, claimed (busy), or nil: the
// statement is busy, the connection keeps no more, or it does not prepare
// (the unprepared run then reports the error).
func (c *stmtConn) stmt(ctx context.Context, query string) *connStmt {
	cs, ok := c.stmts[query]
	if !ok {
		if len(c.stmts) >= maxConnStmts {
			return nil
		}
		s, err := c.PrepareContext(ctx, query)
		if err != nil {
			return nil
		}
		st, ok := s.(sqliteStmt)
		if !ok {
			_ = s.Close()
			return nil
		}
		cs = &connStmt{st: st}
		c.stmts[query] = cs
	}
	if !cs.busy.CompareAndSwap(false, true) {
		return nil
	}
	return cs
}

// ExecContext implements driver.ExecerContext.
func (c *stmtConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs := c.stmt(ctx, query)
	if cs == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	defer cs.busy.Store(false)
	return cs.st.ExecContext(ctx, args)
}

// QueryContext implements driver.QueryerContext.
func (c *stmtConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs := c.stmt(ctx, query)
	if cs == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	r, err := cs.st.QueryContext(ctx, args)
	if err != nil {
		cs.busy.Store(false)
		return nil, err
	}
	rows, ok := r.(sqliteRows)
	if !ok {
		_ = r.Close()
		cs.busy.Store(false)
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	return &stmtRows{sqliteRows: rows, cs: cs}, nil
}

// Close finalizes the statements, then closes the connection.
func (c *stmtConn) Close() error {
	for q, cs := range c.stmts {
		_ = cs.st.Close()
		delete(c.stmts, q)
	}
	return c.sqliteConn.Close()
}

// size is the number of prepared statements (for tests).
func (c *stmtConn) size() int { return len(c.stmts) }

// stmtRows are rows of a kept statement: Close leaves the statement
// prepared and ends its claim.
type stmtRows struct {
	sqliteRows
	cs     *connStmt
	closed bool
}

func (r *stmtRows) Close() error {
	err := r.sqliteRows.Close()
	if !r.closed {
		r.closed = true
		r.cs.busy.Store(false)
	}
	return err
}

// has reports whether query is prepared on the connection (for tests).
func (c *stmtConn) has(query string) bool { _, ok := c.stmts[query]; return ok }
