package projection

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"insure/internal/database"
)

// Shadow tables: a rebuild fills a copy of each of a projection's tables
// ("<table>_rebuild", see Target) with the same columns, constraints and
// indexes, then swaps the copies in. The DDL is the one place where the
// two engines differ enough to need two code paths:
//
//   - PostgreSQL copies a table with CREATE TABLE … (LIKE … INCLUDING ALL)
//     and renames indexes in place, so after the swap every index and
//     constraint has its live name again.
//   - SQLite has no LIKE and cannot rename an index: the copy is created
//     from the live table's DDL in sqlite_master with the names rewritten,
//     and at the swap each index is created again under its live name
//     (from the live DDL) and the shadow's is dropped.
//
// Every identifier here comes from Projection.Tables and the catalogues,
// never from input; they are quoted all the same.

// quoteIdent quotes an SQL identifier for both engines.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// shadowExists reports whether every shadow table of tables exists (and
// none when false is returned with some: a half-made copy is an error).
func shadowExists(ctx context.Context, q database.Querier, d database.Dialect, tables []string) (bool, error) {
	n := 0
	for _, t := range tables {
		ok, err := tableExists(ctx, q, d, Shadow.Table(t))
		if err != nil {
			return false, err
		}
		if ok {
			n++
		}
	}
	return n == len(tables), nil
}

func tableExists(ctx context.Context, q database.Querier, d database.Dialect, table string) (bool, error) {
	var n int
	var err error
	switch d {
	case database.Postgres:
		err = q.QueryRow(ctx, `SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = $1`, table).Scan(&n)
	default:
		err = q.QueryRow(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1`, table).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("look for table %s: %w", table, err)
	}
	return n > 0, nil
}

// createShadow drops any shadow tables of tables left by an earlier
// rebuild and creates empty ones shaped like the live tables. On SQLite,
// where the swap creates every index again under its live name anyway,
// lean leaves out the secondary indexes until then: for insert-only
// projections, which look nothing up while they copy.
func createShadow(ctx context.Context, tx database.Tx, d database.Dialect, tables []string, lean bool) error {
	if err := dropShadow(ctx, tx, d, tables); err != nil {
		return err
	}
	for _, t := range tables {
		var err error
		if d == database.Postgres {
			_, err = tx.Exec(ctx, `CREATE TABLE `+quoteIdent(Shadow.Table(t))+` (LIKE `+quoteIdent(t)+` INCLUDING ALL)`)
		} else {
			err = createSQLiteShadow(ctx, tx, t, lean)
		}
		if err != nil {
			return fmt.Errorf("create the shadow of table %s: %w", t, err)
		}
	}
	return nil
}

// dropShadow drops the shadow tables of tables that exist.
func dropShadow(ctx context.Context, tx database.Tx, d database.Dialect, tables []string) error {
	for _, t := range tables {
		if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS `+quoteIdent(Shadow.Table(t))); err != nil {
			return fmt.Errorf("drop the shadow of table %s: %w", t, err)
		}
	}
	return nil
}

// swapShadow replaces each live table of tables with its shadow, inside tx,
// giving the shadow's indexes and constraints their live names.
func swapShadow(ctx context.Context, tx database.Tx, d database.Dialect, tables []string) error {
	for _, t := range tables {
		var err error
		if d == database.Postgres {
			err = swapPostgres(ctx, tx, t)
		} else {
			err = swapSQLite(ctx, tx, t)
		}
		if err != nil {
			return fmt.Errorf("swap in the rebuilt table %s: %w", t, err)
		}
	}
	return nil
}

// pgIndexes returns the indexes of table by name, with their definitions
// stripped of the index and table names, so that a table's and its copy's
// indexes can be paired.
func pgIndexes(ctx context.Context, tx database.Tx, table string) (map[string]string, error) {
	rows, err := tx.Query(ctx, `SELECT i.relname, pg_catalog.pg_get_indexdef(i.oid) FROM pg_catalog.pg_index x
		JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = $1::regclass ORDER BY i.relname`, quoteIdent(table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return nil, err
		}
		out[name] = indexShape(def)
	}
	return out, rows.Err()
}

// indexShape strips the index and table names from pg_get_indexdef's
// "CREATE [UNIQUE] INDEX name ON [ONLY] schema.table USING method (…)…".
func indexShape(def string) string {
	on := strings.Index(def, " ON ")
	using := strings.Index(def, " USING ")
	if on < 0 || using < on {
		return def
	}
	head := def[:on]
	if sp := strings.LastIndex(head, " "); sp >= 0 {
		head = head[:sp] // drop the index name
	}
	return head + def[using:]
}

func swapPostgres(ctx context.Context, tx database.Tx, table string) error {
	shadow := Shadow.Table(table)
	live, err := pgIndexes(ctx, tx, table)
	if err != nil {
		return err
	}
	copied, err := pgIndexes(ctx, tx, shadow)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DROP TABLE `+quoteIdent(table)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE `+quoteIdent(shadow)+` RENAME TO `+quoteIdent(table)); err != nil {
		return err
	}
	// Pair each copied index with the live one of the same shape and give
	// it the live name (renaming a constraint's index renames the
	// constraint too).
	used := map[string]bool{}
	for _, cname := range slices.Sorted(maps.Keys(copied)) {
		match := ""
		for _, lname := range slices.Sorted(maps.Keys(live)) {
			if !used[lname] && live[lname] == copied[cname] {
				match = lname
				break
			}
		}
		if match == "" {
			return fmt.Errorf("index %s of the rebuilt table has no live counterpart", cname)
		}
		used[match] = true
		if match == cname {
			continue
		}
		if _, err := tx.Exec(ctx, `ALTER INDEX `+quoteIdent(cname)+` RENAME TO `+quoteIdent(match)); err != nil {
			return err
		}
	}
	return nil
}

// sqliteObject is a table or index as sqlite_master describes it.
type sqliteObject struct{ kind, name, sql string }

// sqliteObjects returns table's own DDL and that of its indexes (not the
// automatic ones behind PRIMARY KEY and UNIQUE, which come with the table).
func sqliteObjects(ctx context.Context, tx database.Tx, table string) ([]sqliteObject, error) {
	rows, err := tx.Query(ctx, `SELECT type, name, sql FROM sqlite_master
		WHERE tbl_name = $1 AND type IN ('table', 'index') AND sql IS NOT NULL ORDER BY type DESC, name`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sqliteObject
	for rows.Next() {
		var o sqliteObject
		if err := rows.Scan(&o.kind, &o.name, &o.sql); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 || out[0].kind != "table" {
		return nil, fmt.Errorf("table %s not found", table)
	}
	return out, nil
}

func createSQLiteShadow(ctx context.Context, tx database.Tx, table string, lean bool) error {
	objs, err := sqliteObjects(ctx, tx, table)
	if err != nil {
		return err
	}
	if lean {
		objs = objs[:1]
	}
	shadow := Shadow.Table(table)
	for _, o := range objs {
		var ddl string
		if o.kind == "table" {
			ddl, err = renameTableDDL(o.sql, shadow)
		} else {
			ddl, err = renameIndexDDL(o.sql, o.name+shadowSuffix, shadow)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, ddl); err != nil {
			return fmt.Errorf("%s: %w", ddl, err)
		}
	}
	return nil
}

func swapSQLite(ctx context.Context, tx database.Tx, table string) error {
	shadow := Shadow.Table(table)
	live, err := sqliteObjects(ctx, tx, table)
	if err != nil {
		return err
	}
	copied, err := sqliteObjects(ctx, tx, shadow)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DROP TABLE `+quoteIdent(table)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE `+quoteIdent(shadow)+` RENAME TO `+quoteIdent(table)); err != nil {
		return err
	}
	for _, o := range copied[1:] {
		if _, err := tx.Exec(ctx, `DROP INDEX `+quoteIdent(o.name)); err != nil {
			return err
		}
	}
	for _, o := range live[1:] {
		if _, err := tx.Exec(ctx, o.sql); err != nil {
			return fmt.Errorf("%s: %w", o.sql, err)
		}
	}
	return nil
}

// sqlToken returns the SQL token at the start of s (after spaces): a word,
// a quoted identifier, or one other character, and the rest of s.
func sqlToken(s string) (tok, rest string) {
	s = strings.TrimLeft(s, " \t\r\n")
	if s == "" {
		return "", ""
	}
	switch c := s[0]; c {
	case '"', '`', '[':
		end := map[byte]byte{'"': '"', '`': '`', '[': ']'}[c]
		for i := 1; i < len(s); i++ {
			if s[i] == end {
				if end != ']' && i+1 < len(s) && s[i+1] == end {
					i++ // a doubled quote
					continue
				}
				return s[:i+1], s[i+1:]
			}
		}
		return s, ""
	}
	i := 0
	for i < len(s) && (s[i] == '_' || s[i] == '.' || s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	if i == 0 {
		i = 1
	}
	return s[:i], s[i:]
}

var errDDL = errors.New("unexpected DDL")

// expectWords consumes the given keywords (case-insensitively) from s and
// the optional IF NOT EXISTS; it returns what follows.
func expectWords(s string, words ...string) (string, error) {
	for _, w := range words {
		tok, rest := sqlToken(s)
		if !strings.EqualFold(tok, w) {
			return "", fmt.Errorf("%w: want %s, found %q", errDDL, w, tok)
		}
		s = rest
	}
	tok, rest := sqlToken(s)
	if strings.EqualFold(tok, "IF") {
		return expectWords(rest, "NOT", "EXISTS")
	}
	return s, nil
}

// renameTableDDL rewrites "CREATE TABLE name (…)" to create table instead.
func renameTableDDL(ddl, table string) (string, error) {
	rest, err := expectWords(ddl, "CREATE", "TABLE")
	if err != nil {
		return "", fmt.Errorf("%w in %q", err, ddl)
	}
	_, rest = sqlToken(rest) // the old name
	return "CREATE TABLE " + quoteIdent(table) + rest, nil
}

// renameIndexDDL rewrites "CREATE [UNIQUE] INDEX name ON table (…)" to
// create index on table instead.
func renameIndexDDL(ddl, index, table string) (string, error) {
	head := "CREATE INDEX "
	words := []string{"CREATE", "INDEX"}
	if tok, _ := sqlToken(strings.TrimPrefix(strings.TrimLeft(ddl, " \t\r\n"), "CREATE")); strings.EqualFold(tok, "UNIQUE") {
		head, words = "CREATE UNIQUE INDEX ", []string{"CREATE", "UNIQUE", "INDEX"}
	}
	rest, err := expectWords(ddl, words...)
	if err != nil {
		return "", fmt.Errorf("%w in %q", err, ddl)
	}
	_, rest = sqlToken(rest) // the old index name
	if rest, err = expectWords(rest, "ON"); err != nil {
		return "", fmt.Errorf("%w in %q", err, ddl)
	}
	_, rest = sqlToken(rest) // the old table name
	return head + quoteIdent(index) + " ON " + quoteIdent(table) + rest, nil
}
