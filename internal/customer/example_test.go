package customer_test

import (
	"fmt"

	"insure/internal/customer"
)

func ExampleNormalizePhone() {
	for _, in := range []string{"98765 43210", "098765-43210", "+1 (415) 555-0100", "98765.43210"} {
		out, err := customer.NormalizePhone(in)
		fmt.Printf("%q → %q %v\n", in, out, err)
	}
	// Output:
	// "98765 43210" → "+919876543210" <nil>
	// "098765-43210" → "+919876543210" <nil>
	// "+1 (415) 555-0100" → "+14155550100" <nil>
	// "98765.43210" → "" phone: may contain only digits, a leading +, spaces, dashes and parentheses; write it like +91 98765 43210
}
