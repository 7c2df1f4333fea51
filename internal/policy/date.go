package policy

import (
	"encoding/json"
	"fmt"
	"time"
)

// DateLayout is the form of a Date in JSON and text: YYYY-MM-DD.
const DateLayout = "2006-01-02"

// Date is a calendar day, held as midnight UTC. In JSON and text it is
// "YYYY-MM-DD". Construct it with ParseDate or DateOf, so that the time is
// always midnight UTC.
type Date struct{ time.Time }

// ParseDate parses s in the form YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date in the form YYYY-MM-DD", s)
	}
	return Date{t}, nil
}

// DateOf returns the calendar day of t in t's own location. Pass
// now.In(loc) to get "today" in the business's time zone.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// AddDays returns the day n days after d (before, for negative n).
func (d Date) AddDays(n int) Date { return DateOf(d.Time).addDate(0, 0, n) }

// AddYears returns the day n years after d, normalised like time.AddDate
// (29 February plus one year is 1 March).
func (d Date) AddYears(n int) Date { return DateOf(d.Time).addDate(n, 0, 0) }

func (d Date) addDate(y, m, n int) Date { return Date{d.Time.AddDate(y, m, n)} }

// DaysBetween returns the number of days from a to b: positive when b is
// after a, 0 on the same day.
func DaysBetween(a, b Date) int {
	return int((DateOf(b.Time).Unix() - DateOf(a.Time).Unix()) / 86400)
}

// String returns d as YYYY-MM-DD.
func (d Date) String() string { return d.Format(DateLayout) }

// Before reports whether d is an earlier day than e.
func (d Date) Before(e Date) bool { return DaysBetween(d, e) > 0 }

// After reports whether d is a later day than e.
func (d Date) After(e Date) bool { return DaysBetween(d, e) < 0 }

// Equal reports whether d and e are the same day.
func (d Date) Equal(e Date) bool { return DaysBetween(d, e) == 0 }

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON encodes d as "YYYY-MM-DD".
func (d Date) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// UnmarshalJSON decodes "YYYY-MM-DD". null leaves d unchanged.
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a date must be a string in the form YYYY-MM-DD: %w", err)
	}
	return d.UnmarshalText([]byte(s))
}
