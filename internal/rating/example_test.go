package rating_test

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"insure/internal/rating"
)

func ncb(p int) *int { return &p }

// workedExamples returns the requests of the worked examples in doc.go, in
// order. TestDocWorkedExamples checks that doc.go shows exactly what the
// examples below print.
func workedExamples() []struct {
	name string
	req  rating.Request
} {
	asOf := time.Date(2025, time.June, 15, 0, 0, 0, 0, time.UTC)
	return []struct {
		name string
		req  rating.Request
	}{
		{"motor with NCB", rating.Request{
			Product:    rating.ProductMotor,
			SumInsured: 65_000_000, // ₹6,50,000
			Currency:   "INR",
			Motor:      &rating.MotorDetails{VehicleMake: "Maruti Suzuki", VehicleModel: "Swift", VehicleYear: 2021, NCBPercent: ncb(25)},
			AsOf:       asOf,
		}},
		{"health family", rating.Request{
			Product:    rating.ProductHealth,
			SumInsured: 100_000_000, // ₹10,00,000
			Health:     &rating.HealthDetails{Age: 42, Members: 4},
		}},
		{"decline", rating.Request{
			Product:    rating.ProductMotor,
			SumInsured: 25_000_000, // ₹2,50,000
			Motor:      &rating.MotorDetails{VehicleMake: "Honda", VehicleModel: "City", VehicleYear: 2012},
			AsOf:       asOf,
		}},
		{"minimum premium", rating.Request{
			Product:    rating.ProductHealth,
			SumInsured: 10_000_000, // ₹1,00,000
			Health:     &rating.HealthDetails{Age: 20, Members: 1},
		}},
	}
}

// printQuotes writes quotes in the layout doc.go uses for worked examples.
func printQuotes(w io.Writer, quotes []rating.Quote) {
	for _, q := range quotes {
		if q.Declined {
			fmt.Fprintf(w, "%s (%s) declined: %s\n", q.Insurer, q.InsurerName, q.DeclineReason)
			continue
		}
		b := q.Breakdown
		fmt.Fprintf(w, "%s (%s) premium %d\n", q.Insurer, q.InsurerName, q.Premium)
		fmt.Fprintf(w, "  base     %9d\n", b.Base)
		fmt.Fprintf(w, "  loading  %9d\n", b.Loading)
		fmt.Fprintf(w, "  discount %9d\n", b.Discount)
		addOns := make([]string, len(q.AddOns))
		for i, a := range q.AddOns {
			addOns[i] = fmt.Sprintf("%s %d", a.Code, a.Premium)
		}
		fmt.Fprintf(w, "  add-ons  %9d  (%s)\n", b.AddOns, strings.Join(addOns, " + "))
		fmt.Fprintf(w, "  net      %9d\n", q.Premium-b.Tax)
		fmt.Fprintf(w, "  tax      %9d\n", b.Tax)
	}
}

func runExample(i int) {
	t, err := rating.DefaultTable()
	if err != nil {
		fmt.Println(err)
		return
	}
	quotes, err := t.Rate(workedExamples()[i].req)
	if err != nil {
		fmt.Println(err)
		return
	}
	printQuotes(os.Stdout, quotes)
}

// Worked example 1 of the package documentation: a motor quote with a 25%
// no-claim bonus.
func Example_motorWithNCB() {
	runExample(0)
	// Output:
	// acme (Acme General) premium 2274008
	//   base       1950000
	//   loading      97500
	//   discount    511875
	//   add-ons     391500  (third_party 341600 + roadside 49900)
	//   net        1927125
	//   tax         346883
	// bharat (Bharat Shield) premium 2172941
	//   base       1820000
	//   loading     136500
	//   discount    489125
	//   add-ons     374100  (third_party 341600 + personal_accident 32500)
	//   net        1841475
	//   tax         331466
	// coastal (Coastal Assurance) premium 2426434
	//   base       2080000
	//   loading     166400
	//   discount    561600
	//   add-ons     371500  (third_party 341600 + roadside 29900)
	//   net        2056300
	//   tax         370134
}

// Worked example 2: a family floater for four, the eldest aged 42.
func Example_healthFamily() {
	runExample(1)
	// Output:
	// acme (Acme General) premium 3658000
	//   base       1500000
	//   loading    1500000
	//   discount         0
	//   add-ons     100000  (restore 100000)
	//   net        3100000
	//   tax         558000
	// bharat (Bharat Shield) premium 4389600
	//   base       1700000
	//   loading    1870000
	//   discount         0
	//   add-ons     150000  (opd 150000)
	//   net        3720000
	//   tax         669600
	// coastal (Coastal Assurance) premium 4578282
	//   base       1400000
	//   loading    2380000
	//   discount         0
	//   add-ons      99900  (daily_cash 99900)
	//   net        3879900
	//   tax         698382
}

// Worked example 3: a 13-year-old car that Coastal Assurance declines.
func Example_decline() {
	runExample(2)
	// Output:
	// acme (Acme General) premium 1523970
	//   base        750000
	//   loading     150000
	//   discount         0
	//   add-ons     391500  (third_party 341600 + roadside 49900)
	//   net        1291500
	//   tax         232470
	// bharat (Bharat Shield) premium 1473938
	//   base        700000
	//   loading     175000
	//   discount         0
	//   add-ons     374100  (third_party 341600 + personal_accident 32500)
	//   net        1249100
	//   tax         224838
	// coastal (Coastal Assurance) declined: vehicle is 13 years old; Coastal Assurance covers vehicles up to 10 years old
}

// Worked example 4: a small health cover raised to each insurer's minimum
// premium.
func Example_minimumPremium() {
	runExample(3)
	// Output:
	// acme (Acme General) premium 354000
	//   base        150000
	//   loading     140000
	//   discount         0
	//   add-ons      10000  (restore 10000)
	//   net         300000
	//   tax          54000
	// bharat (Bharat Shield) premium 413000
	//   base        170000
	//   loading      30000
	//   discount         0
	//   add-ons     150000  (opd 150000)
	//   net         350000
	//   tax          63000
	// coastal (Coastal Assurance) premium 354000
	//   base        140000
	//   loading      60100
	//   discount         0
	//   add-ons      99900  (daily_cash 99900)
	//   net         300000
	//   tax          54000
}
