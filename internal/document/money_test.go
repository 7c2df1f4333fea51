package document

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestFormatMoney(t *testing.T) {
	t.Parallel()
	tests := []struct {
		minor    int64
		currency string
		want     string
	}{
		{0, "INR", "INR 0.00"},
		{5, "INR", "INR 0.05"},
		{100, "INR", "INR 1.00"},
		{99999, "INR", "INR 999.99"},
		{100000, "INR", "INR 1,000.00"},
		{1234567, "INR", "INR 12,345.67"},
		{85000000, "INR", "INR 8,50,000.00"},
		{8500000000, "INR", "INR 8,50,00,000.00"},
		{123456789012, "INR", "INR 1,23,45,67,890.12"},
		{-5, "INR", "INR -0.05"},
		{-150, "INR", "INR -1.50"},
		{-85000000, "INR", "INR -8,50,000.00"},
		{math.MaxInt64, "INR", "INR 92,23,37,20,36,85,47,758.07"},
		{math.MinInt64, "INR", "INR -92,23,37,20,36,85,47,758.08"},
		{8500000000, "USD", "USD 85,000,000.00"},
		{-123456, "EUR", "EUR -1,234.56"},
		{99999, "", "999.99"},
		{100000000, "", "1,000,000.00"},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatInt(tt.minor, 10)+tt.currency, func(t *testing.T) {
			t.Parallel()
			if got := FormatMoney(tt.minor, tt.currency); got != tt.want {
				t.Errorf("FormatMoney(%d, %q) = %q, want %q", tt.minor, tt.currency, got, tt.want)
			}
		})
	}
}

// parseMoney reverses FormatMoney for INR, checking the Indian grouping as it
// goes.
func parseMoney(t *testing.T, s string) int64 {
	t.Helper()
	rest, ok := strings.CutPrefix(s, "INR ")
	if !ok {
		t.Fatalf("%q lacks the INR prefix", s)
	}
	neg := strings.HasPrefix(rest, "-")
	rest = strings.TrimPrefix(rest, "-")
	whole, frac, ok := strings.Cut(rest, ".")
	if !ok || len(frac) != 2 {
		t.Fatalf("%q: want exactly two decimals", s)
	}
	groups := strings.Split(whole, ",")
	for i, g := range groups {
		switch {
		case i == len(groups)-1 && len(groups) > 1 && len(g) != 3:
			t.Fatalf("%q: last group %q is not three digits", s, g)
		case i > 0 && i < len(groups)-1 && len(g) != 2:
			t.Fatalf("%q: middle group %q is not two digits", s, g)
		case i == 0 && (len(g) == 0 || len(g) > 3 || (len(groups) > 1 && len(g) > 2) || (len(g) > 1 && g[0] == '0')):
			t.Fatalf("%q: bad leading group %q", s, g)
		}
	}
	// Parse as unsigned so that math.MinInt64 round-trips.
	u, err := strconv.ParseUint(strings.Join(groups, "")+frac, 10, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	if neg {
		return int64(-u)
	}
	return int64(u)
}

func FuzzFormatMoney(f *testing.F) {
	for _, v := range []int64{0, 5, 100, 99999, 8500000000, -1, -85000000, math.MaxInt64, math.MinInt64} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, minor int64) {
		s := FormatMoney(minor, "INR")
		if got := parseMoney(t, s); got != minor {
			t.Fatalf("FormatMoney(%d) = %q, which reads back as %d", minor, s, got)
		}
		if (minor < 0) != strings.Contains(s, "-") {
			t.Fatalf("FormatMoney(%d) = %q: sign is wrong", minor, s)
		}
	})
}
