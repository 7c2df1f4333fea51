package document

import (
	"strconv"
	"strings"
)

// FormatMoney formats an amount given in minor units (1/100 of the currency
// unit, e.g. paise) as text, e.g. FormatMoney(85000000, "INR") is
// "INR 8,50,000.00" and FormatMoney(-150, "INR") is "INR -1.50".
//
// INR amounts use Indian digit grouping (the last three digits, then groups of
// two); any other currency uses groups of three. Every currency is assumed to
// have two decimal places. An empty currency prints the number alone. The whole
// int64 range is handled, including math.MinInt64, without floating point.
func FormatMoney(minor int64, currency string) string {
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = -u // two's complement: correct for math.MinInt64 as well
	}
	major, cents := u/100, u%100

	digits := strconv.FormatUint(major, 10)
	var grouped string
	if currency == "INR" {
		grouped = groupIndian(digits)
	} else {
		grouped = groupThousands(digits)
	}

	var b strings.Builder
	b.Grow(len(currency) + len(grouped) + 6)
	if currency != "" {
		b.WriteString(currency)
		b.WriteByte(' ')
	}
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(grouped)
	b.WriteByte('.')
	b.WriteByte(byte('0' + cents/10))
	b.WriteByte(byte('0' + cents%10))
	return b.String()
}

// groupIndian inserts commas into a run of decimal digits the Indian way:
// "85000000" becomes "8,50,00,000".
func groupIndian(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	head, tail := digits[:len(digits)-3], digits[len(digits)-3:]
	var parts []string
	for len(head) > 2 {
		parts = append(parts, head[len(head)-2:])
		head = head[:len(head)-2]
	}
	parts = append(parts, head)

	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
		b.WriteByte(',')
	}
	b.WriteString(tail)
	return b.String()
}

// groupThousands inserts commas every three digits: "1234567" becomes
// "1,234,567".
func groupThousands(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	first := len(digits) % 3
	if first == 0 {
		first = 3
	}
	b.WriteString(digits[:first])
	for i := first; i < len(digits); i += 3 {
		b.WriteByte(',')
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}
