// Package database opens the store insure keeps everything in — one SQLite
// file by default, or PostgreSQL — applies the embedded, versioned
// migrations, and gives the rest of the code one small interface for queries
// and transactions, whichever engine is underneath.
//
// SQL is written once with $1-style placeholders, which both engines accept.
// Where the dialects differ (types, upserts), the adapters keep their own SQL.
//
// On SQLite every write goes through one connection: transactions that queue
// for it share commits (sqlitebatch.go), and every connection keeps its
// statements prepared per query text (sqlitestmts.go).
package database
