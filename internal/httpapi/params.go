package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"insure/internal/apperr"
	"insure/internal/event"
)

// Paging limits.
const (
	defaultPageSize  = 50
	maxPageSize      = 200
	defaultLogSize   = 100 // events and dead letters
	maxLogSize       = 1000
	maxCursorLen     = 200
	maxExpiringDays  = 3650
	maxEventTypes    = 50
	maxEventTypeLen  = 100
	maxIfMatchDigits = 18
)

// pathID returns the {id} path value. An id that is not a UUID names
// nothing, so it is apperr.NotFound (with what, such as "customer").
func pathID(r *http.Request, what string) (string, error) {
	id := r.PathValue("id")
	if !event.ValidID(id) {
		return "", apperr.New(apperr.NotFound, "there is no %s with id %q; ids are UUIDs", what, truncate(id, 64))
	}
	return strings.ToLower(id), nil
}

// pathSerial returns the {id} path value of a resource with integer ids.
func pathSerial(r *http.Request, what string) (int64, error) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 || strconv.FormatInt(id, 10) != raw {
		return 0, apperr.New(apperr.NotFound, "there is no %s with id %q; ids are positive integers", what, truncate(raw, 64))
	}
	return id, nil
}

// query reads the query parameters of one request. Each parameter may be
// given at most once unless read with list.
type query struct{ v url.Values }

func queryOf(r *http.Request) query { return query{r.URL.Query()} }

// single returns the parameter's value, "" when absent or empty.
func (q query) single(name string) (string, error) {
	vs := q.v[name]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return strings.TrimSpace(vs[0]), nil
	}
	return "", apperr.Field(name, "give this parameter at most once")
}

// integer returns the parameter as an integer in [min, max], or def when
// absent.
func (q query) integer(name string, def, lo, hi int64) (int64, error) {
	s, err := q.single(name)
	if err != nil || s == "" {
		return def, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, apperr.Field(name, "must be an integer from %d to %d, got %q", lo, hi, truncate(s, 32))
	}
	return n, nil
}

// optionalInt returns the parameter as an int in [lo, hi], or nil when
// absent.
func (q query) optionalInt(name string, lo, hi int) (*int, error) {
	if s, err := q.single(name); err != nil || s == "" {
		return nil, err
	}
	n, err := q.integer(name, 0, int64(lo), int64(hi))
	if err != nil {
		return nil, err
	}
	v := int(n)
	return &v, nil
}

// limit returns the page size: def when absent, else 1..hi.
func (q query) limit(def, hi int) (int, error) {
	n, err := q.integer("limit", int64(def), 1, int64(hi))
	return int(n), err
}

// cursor returns the opaque "after" cursor, "" when absent.
func (q query) cursor() (string, error) {
	s, err := q.single("after")
	if err != nil {
		return "", err
	}
	if len(s) > maxCursorLen {
		return "", apperr.Field("after", "is not a cursor this server gave out; pass the previous page's next as it was")
	}
	return s, nil
}

// list returns every value of a repeatable parameter, also split at commas,
// without empty items.
func (q query) list(name string) []string {
	var out []string
	for _, v := range q.v[name] {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// ifMatch returns the version in the If-Match header: nil when absent or
// "*", the version for `"3"` or `3`.
func ifMatch(r *http.Request) (*int64, error) {
	raw := strings.TrimSpace(r.Header.Get("If-Match"))
	if raw == "" || raw == "*" {
		return nil, nil
	}
	s := raw
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || len(s) > maxIfMatchDigits || strings.HasPrefix(s, "+") {
		return nil, apperr.Field("If-Match", "must be a version such as \"3\" (the ETag of the last response), got %q", truncate(raw, 32))
	}
	return &v, nil
}

// etag is the ETag of a resource at a version.
func etag(version int64) string {
	return `"` + strconv.FormatInt(version, 10) + `"`
}
