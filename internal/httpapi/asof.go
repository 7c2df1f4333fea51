package httpapi

import (
	"strings"
	"time"

	"insure/internal/apperr"
)

// maxAsOfLen caps the as_of parameter: RFC 3339 with nanoseconds and an
// offset is 35 characters.
const maxAsOfLen = 64

// asOf reads the as_of parameter of a read "as it was at that moment": an
// RFC 3339 time, such as 2026-01-31T12:00:00Z. It returns nil when absent.
// A "+" of the offset sent unescaped arrives as a space; it is read back as
// "+". Anything else is apperr.Invalid naming as_of.
func (q query) asOf() (*time.Time, error) {
	s, err := q.single("as_of")
	if err != nil || s == "" {
		return nil, err
	}
	if len(s) <= maxAsOfLen {
		s = strings.Replace(s, " ", "+", 1)
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return &t, nil
		}
	}
	return nil, apperr.Field("as_of", "must be a time in RFC 3339 form, such as 2026-01-31T12:00:00Z (escape the + of an offset as %%2B), got %q", truncate(s, 40))
}
