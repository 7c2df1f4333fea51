package policy_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/policy"
)

func TestParseDate(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"2026-01-10", "2024-02-29", "0001-01-02", "9999-12-31"} {
		d, err := policy.ParseDate(s)
		if err != nil || d.String() != s || d.Location() != time.UTC || d.Hour() != 0 {
			t.Errorf("ParseDate(%q) = %v, %v", s, d, err)
		}
	}
	for _, s := range []string{"", "2026-1-10", "2026-01-10T00:00:00Z", "10/01/2026", "2025-02-29", "2026-13-01", " 2026-01-10", "20260110"} {
		if d, err := policy.ParseDate(s); err == nil {
			t.Errorf("ParseDate(%q) = %v, want an error", s, d)
		}
	}
}

func TestDateArithmetic(t *testing.T) {
	t.Parallel()
	ist := time.FixedZone("IST", 5*3600+1800)
	// 00:30 on 10 January in India is still 9 January in UTC.
	if got := policy.DateOf(time.Date(2026, 1, 10, 0, 30, 0, 0, ist)); got.String() != "2026-01-10" {
		t.Errorf("DateOf(IST) = %s", got)
	}
	if got := policy.DateOf(time.Date(2026, 1, 10, 0, 30, 0, 0, ist).UTC()); got.String() != "2026-01-09" {
		t.Errorf("DateOf(UTC) = %s", got)
	}
	tests := []struct {
		from string
		n    int
		want string
	}{
		{"2026-01-31", 1, "2026-02-01"},
		{"2024-02-28", 1, "2024-02-29"},
		{"2026-03-01", -1, "2026-02-28"},
		{"2026-12-31", 365, "2027-12-31"},
		{"2026-01-10", 0, "2026-01-10"},
	}
	for _, tt := range tests {
		d := day(t, tt.from)
		got := d.AddDays(tt.n)
		if got.String() != tt.want {
			t.Errorf("%s.AddDays(%d) = %s, want %s", tt.from, tt.n, got, tt.want)
		}
		if n := policy.DaysBetween(d, got); n != tt.n {
			t.Errorf("DaysBetween(%s, %s) = %d, want %d", d, got, n, tt.n)
		}
	}
	if got := day(t, "2024-02-29").AddYears(1); got.String() != "2025-03-01" {
		t.Errorf("AddYears over a leap day = %s", got)
	}
	// A Date built by hand off midnight still counts whole days.
	odd := policy.Date{Time: time.Date(2026, 1, 10, 23, 59, 0, 0, time.UTC)}
	if n := policy.DaysBetween(odd, day(t, "2026-01-11")); n != 1 {
		t.Errorf("DaysBetween(off midnight) = %d", n)
	}
	a, b := day(t, "2026-01-10"), day(t, "2026-01-11")
	if !a.Before(b) || a.After(b) || !b.After(a) || a.Equal(b) || !a.Equal(policy.DateOf(a.Time.Add(time.Hour))) {
		t.Error("Before/After/Equal disagree with the calendar")
	}
}

func TestDateJSON(t *testing.T) {
	t.Parallel()
	type doc struct {
		D policy.Date  `json:"d"`
		O *policy.Date `json:"o,omitempty"`
	}
	in := doc{D: day(t, "2026-01-10")}
	b, err := json.Marshal(in)
	if err != nil || string(b) != `{"d":"2026-01-10"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Fatal(diff)
	}
	if err := json.Unmarshal([]byte(`{"d":null}`), &out); err != nil || out.D.String() != "2026-01-10" {
		t.Fatalf("null: %v %v", out.D, err)
	}
	for _, bad := range []string{`{"d":"2026-01-10T00:00:00Z"}`, `{"d":20260110}`, `{"d":"tomorrow"}`, `{"d":{}}`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
	// Dates work as map keys and text too.
	m := map[policy.Date]int{day(t, "2026-01-10"): 1}
	b, err = json.Marshal(m)
	if err != nil || string(b) != `{"2026-01-10":1}` {
		t.Fatalf("map key: %s %v", b, err)
	}
}
