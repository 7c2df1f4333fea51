package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Database drivers reported in DatabaseTarget.Driver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// redactedPassword replaces passwords in logged and echoed values; it is the
// same text net/url's URL.Redacted uses.
const redactedPassword = "xxxxx"

// databaseForms lists the accepted DATABASE_URL forms, for error messages and docs.
const databaseForms = "one of sqlite:///abs/path.db, sqlite://./rel.db, " +
	"a file path such as insure.db, or postgres://user:password@host:5432/dbname"

// DatabaseTarget is a parsed DATABASE_URL: which driver to open and where.
type DatabaseTarget struct {
	// Driver is DriverSQLite or DriverPostgres.
	Driver string
	// Path is the SQLite database file, as given (relative paths are relative
	// to the working directory). Empty for PostgreSQL.
	Path string
	// URL is the PostgreSQL connection URL, as given. It may hold a password:
	// log RedactDatabaseURL(URL), never URL. Empty for SQLite.
	URL string
}

// ParseDatabaseURL parses a DATABASE_URL value. Accepted forms:
//
//	sqlite:///abs/path.db            SQLite, absolute path
//	sqlite://./rel.db                SQLite, path relative to the working directory
//	insure.db, /tmp/x.db             SQLite, a bare file path (no "://")
//	postgres://user:pw@host:5432/db  PostgreSQL (postgresql:// too)
//
// Surrounding whitespace is ignored. The error is an *Error naming
// DATABASE_URL, with any password redacted. It rejects an empty path,
// ":memory:" (the queue needs one file shared by every connection pool),
// SQLite "file:" URIs and "?" options, key=value PostgreSQL strings,
// URLs missing "//", and unsupported schemes such as mysql://.
func ParseDatabaseURL(s string) (DatabaseTarget, error) {
	s = strings.TrimSpace(s)
	fail := func(expected string) (DatabaseTarget, error) {
		return DatabaseTarget{}, &Error{Var: "DATABASE_URL", Value: RedactDatabaseURL(s), Expected: expected}
	}
	if s == "" {
		return fail(databaseForms)
	}

	scheme, rest, isURL := strings.Cut(s, "://")
	if isURL && !isScheme(scheme) {
		return fail(databaseForms)
	}
	if !isURL {
		if i := strings.Index(s, ":"); i >= 2 && isScheme(s[:i]) && !strings.EqualFold(s[:i], "file") {
			return fail(fmt.Sprintf("%s; %q looks like a URL scheme without \"//\" "+
				"(for a file whose name contains a colon, start the path with ./)", databaseForms, s[:i+1]))
		}
		if looksLikeKeywordDSN(s) {
			return fail(databaseForms + "; this looks like a PostgreSQL key=value string: " +
				"write it as postgres://user:password@host:5432/dbname")
		}
		if expected := checkSQLitePath(s); expected != "" {
			return fail(expected)
		}
		return DatabaseTarget{Driver: DriverSQLite, Path: s}, nil
	}

	switch strings.ToLower(scheme) {
	case "sqlite":
		if rest == "" {
			return fail("a file path after sqlite:// (e.g. sqlite://./insure.db or sqlite:///var/lib/insure/insure.db)")
		}
		if expected := checkSQLitePath(rest); expected != "" {
			return fail(expected)
		}
		return DatabaseTarget{Driver: DriverSQLite, Path: rest}, nil
	case "postgres", "postgresql":
		if _, err := url.Parse(s); err != nil {
			expected := "a valid postgres:// URL (percent-encode reserved characters " +
				`in the user name and password, e.g. "@" as %40)`
			// The parser's message may quote part of the password, so it is
			// only shown when there is no password to hide.
			var urlErr *url.Error
			if RedactDatabaseURL(s) == s && errors.As(err, &urlErr) {
				expected += ": " + urlErr.Err.Error()
			}
			return fail(expected)
		}
		return DatabaseTarget{Driver: DriverPostgres, URL: s}, nil
	default:
		return fail(fmt.Sprintf("%s; %q is not supported", databaseForms, scheme+"://"))
	}
}

// checkSQLitePath returns "" if path is usable as a SQLite database file,
// otherwise what was expected instead.
func checkSQLitePath(path string) string {
	lower := strings.ToLower(path)
	if path == ":memory:" || strings.HasPrefix(lower, "file::memory:") || strings.Contains(lower, "mode=memory") {
		return `a database file, not an in-memory database: the queue needs one file shared by every ` +
			`connection pool; for tests use a temporary file (e.g. sqlite:///tmp/insure-test.db)`
	}
	if strings.HasPrefix(lower, "file:") {
		return `a plain file path, not a SQLite "file:" URI (e.g. sqlite://./insure.db); ` +
			`the driver adds its own options`
	}
	if strings.Contains(path, "?") {
		return `a plain file path without "?" options (e.g. sqlite://./insure.db); ` +
			`set the synchronous mode with SQLITE_SYNCHRONOUS`
	}
	return ""
}

// isScheme reports whether s is spelled like a URL scheme (RFC 3986).
func isScheme(s string) bool {
	for i, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && ('0' <= r && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// looksLikeKeywordDSN reports whether s looks like a libpq key=value
// connection string ("host=db user=app dbname=insure") rather than a path.
func looksLikeKeywordDSN(s string) bool {
	for _, field := range strings.Fields(s) {
		key, _, ok := strings.Cut(field, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(key) {
		case "host", "hostaddr", "port", "dbname", "user", "password", "sslmode", "connect_timeout":
			return true
		}
	}
	return false
}

// RedactDatabaseURL returns s with every password replaced by "xxxxx": the
// password in the user info of a URL (postgres://app:xxxxx@db/insure), and
// password parameters in a query string or a key=value connection string.
// It errs on the side of hiding too much and works on values that do not
// parse, so it is safe for error messages and logs.
func RedactDatabaseURL(s string) string {
	scheme, rest, isURL := strings.Cut(s, "://")
	if !isURL || !isScheme(scheme) {
		scheme, rest, isURL = "", s, false
	}
	// The password runs from the first ":" to the last "@". Taking the last
	// "@" hides a password that contains an unescaped "@", "/" or "?".
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if colon := strings.Index(rest[:at], ":"); colon >= 0 {
			rest = rest[:colon+1] + redactedPassword + rest[at:]
		}
	}
	if isURL {
		if q := strings.Index(rest, "?"); q >= 0 {
			query := regexp.MustCompile(`(?i)(password=)[^&#]*`)
			rest = rest[:q+1] + query.ReplaceAllString(rest[q+1:], "${1}"+redactedPassword)
		}
		return scheme + "://" + rest
	}
	// A quoted password may hold escaped quotes; hide up to the last quote.
	keyword := regexp.MustCompile(`(?i)(password\s*=\s*)('.*'|'.*|\S*)`)
	return keyword.ReplaceAllString(rest, "${1}"+redactedPassword)
}
