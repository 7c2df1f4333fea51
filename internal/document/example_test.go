package document_test

import (
	"fmt"

	"insure/internal/document"
)

func ExampleFormatMoney() {
	fmt.Println(document.FormatMoney(85000000, "INR"))
	fmt.Println(document.FormatMoney(8500000000, "INR"))
	fmt.Println(document.FormatMoney(-150, "INR"))
	// Output:
	// INR 8,50,000.00
	// INR 8,50,00,000.00
	// INR -1.50
}
