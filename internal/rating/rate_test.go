package rating_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/rating"
)

func maxMotor() rating.Request {
	return rating.Request{
		Product:    rating.ProductMotor,
		SumInsured: rating.MaxSumInsured,
		Motor:      &rating.MotorDetails{VehicleMake: "BMW", VehicleModel: "X7", VehicleYear: rating.MinVehicleYear, NCBPercent: ncb(0)},
		AsOf:       time.Date(2025, time.December, 31, 23, 59, 59, 0, time.UTC),
	}
}

func maxHealth() rating.Request {
	return rating.Request{
		Product:    rating.ProductHealth,
		SumInsured: rating.MaxSumInsured,
		Health:     &rating.HealthDetails{Age: rating.MaxAge, Members: rating.MaxMembers},
	}
}

func loadTable(t *testing.T, js string) *rating.Table {
	t.Helper()
	table, err := rating.LoadTable(strings.NewReader(js))
	if err != nil {
		t.Fatalf("LoadTable: %v", err)
	}
	return table
}

func defaultTable(t *testing.T) *rating.Table {
	t.Helper()
	table, err := rating.DefaultTable()
	if err != nil {
		t.Fatalf("DefaultTable: %v", err)
	}
	return table
}

// checkQuotes asserts the invariants every result of Rate must satisfy.
func checkQuotes(t *testing.T, table *rating.Table, req rating.Request, quotes []rating.Quote) {
	t.Helper()
	codes := table.Insurers()
	if len(quotes) != len(codes) {
		t.Fatalf("%d quotes for %d insurers", len(quotes), len(codes))
	}
	for i, q := range quotes {
		where := fmt.Sprintf("%s quote for %+v", q.Insurer, req)
		if q.Insurer != codes[i] {
			t.Errorf("quote %d is from %q, want %q (table order)", i, q.Insurer, codes[i])
		}
		if q.SumInsured != req.SumInsured || q.Currency != table.Currency() || q.InsurerName == "" {
			t.Errorf("%s: sum insured %d, currency %q, name %q", where, q.SumInsured, q.Currency, q.InsurerName)
		}
		if q.AddOns == nil {
			t.Errorf("%s: AddOns is nil; want an empty list so JSON shows []", where)
		}
		if q.Declined {
			if q.Premium != 0 || q.Breakdown != nil || len(q.AddOns) != 0 || q.DeclineReason == "" {
				t.Errorf("%s: declined quote with premium %d, breakdown %v, add-ons %v, reason %q", where, q.Premium, q.Breakdown, q.AddOns, q.DeclineReason)
			}
			continue
		}
		b := q.Breakdown
		if b == nil {
			t.Fatalf("%s: no breakdown", where)
		}
		if q.DeclineReason != "" || q.Coverage == "" {
			t.Errorf("%s: reason %q, coverage %q", where, q.DeclineReason, q.Coverage)
		}
		if q.Premium <= 0 || b.Base < 0 || b.Loading < 0 || b.Discount < 0 || b.AddOns < 0 || b.Tax < 0 {
			t.Errorf("%s: negative or zero figure: premium %d, %+v", where, q.Premium, *b)
		}
		if b.Discount > b.Base+b.Loading {
			t.Errorf("%s: discount %d exceeds own-damage premium %d", where, b.Discount, b.Base+b.Loading)
		}
		if sum := b.Base + b.Loading - b.Discount + b.AddOns + b.Tax; sum != q.Premium {
			t.Errorf("%s: breakdown %+v sums to %d, premium is %d", where, *b, sum, q.Premium)
		}
		var addOns int64
		for _, a := range q.AddOns {
			if a.Premium < 0 || a.Code == "" || a.Name == "" {
				t.Errorf("%s: add-on %+v", where, a)
			}
			addOns += a.Premium
		}
		if addOns != b.AddOns {
			t.Errorf("%s: add-ons sum to %d, breakdown says %d", where, addOns, b.AddOns)
		}
	}
}

// requestGrid returns a grid of valid requests spanning every band edge of
// the default table and the extremes ValidateRequest allows.
func requestGrid() []rating.Request {
	asOf := time.Date(2025, time.March, 31, 18, 30, 0, 0, time.FixedZone("IST", 5*3600+1800))
	sums := []int64{1, 99, 5_000, 12_345_677, 85_000_000, 300_000_001, 750_000_001, rating.MaxSumInsured}
	var reqs []rating.Request
	for _, si := range sums {
		for _, year := range []int{1950, 2004, 2005, 2010, 2013, 2015, 2016, 2020, 2021, 2023, 2024, 2025} {
			for _, n := range []*int{nil, ncb(0), ncb(20), ncb(25), ncb(35), ncb(45), ncb(50)} {
				for _, mk := range []string{"BMW", "  land   ROVER ", "Maruti Suzuki", "Jeep"} {
					reqs = append(reqs, rating.Request{
						Product:    rating.ProductMotor,
						SumInsured: si,
						Motor:      &rating.MotorDetails{VehicleMake: mk, VehicleModel: "M", VehicleYear: year, NCBPercent: n},
						AsOf:       asOf,
					})
				}
			}
		}
		for _, age := range []int{0, 18, 25, 26, 30, 31, 35, 36, 40, 41, 45, 46, 55, 56, 60, 61, 65, 66, 70, 71, 120} {
			for members := 1; members <= rating.MaxMembers; members++ {
				reqs = append(reqs, rating.Request{
					Product:    rating.ProductHealth,
					SumInsured: si,
					Currency:   "INR",
					Health:     &rating.HealthDetails{Age: age, Members: members},
				})
			}
		}
	}
	return reqs
}

// TestRateProperties checks, over a grid of inputs, that Rate is
// deterministic (the same request twice, and on two separately loaded
// tables, gives identical quotes) and never gives a negative premium or a
// breakdown that does not add up.
func TestRateProperties(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		load  func(t *testing.T) *rating.Table
		mixed bool // some quotes declined and some priced
	}{
		{"default", defaultTable, true},
		{"small", func(t *testing.T) *rating.Table { return loadTable(t, smallTable) }, true},
		{"largest rates", func(t *testing.T) *rating.Table { return loadTable(t, largestTable(t)) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			table, again := tc.load(t), tc.load(t)
			declined, priced := 0, 0
			for _, req := range requestGrid() {
				first, err := table.Rate(req)
				if err != nil {
					t.Fatalf("Rate(%+v): %v", req, err)
				}
				second, err := table.Rate(req)
				if err != nil {
					t.Fatal(err)
				}
				third, err := again.Rate(req)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(first, second); diff != "" {
					t.Fatalf("Rate(%+v) not deterministic (-first +second):\n%s", req, diff)
				}
				if diff := cmp.Diff(first, third); diff != "" {
					t.Fatalf("Rate(%+v) differs between loads (-first +other):\n%s", req, diff)
				}
				checkQuotes(t, table, req, first)
				for _, q := range first {
					if q.Declined {
						declined++
					} else {
						priced++
					}
				}
			}
			if tc.mixed && (declined == 0 || priced == 0) {
				t.Errorf("grid gave %d declined and %d priced quotes; want some of each", declined, priced)
			}
		})
	}
}

// largestTable returns a table with every rate at the largest value
// LoadTable allows, to show the arithmetic cannot overflow.
func largestTable(t *testing.T) string {
	t.Helper()
	var addOns []any
	for i := range 20 {
		addOns = append(addOns, map[string]any{"code": fmt.Sprintf("a%d", i), "name": "A", "rate_bp": 10000, "included": true})
	}
	common := func() map[string]any {
		return map[string]any{
			"coverage": "Everything", "base_rate_bp": 10000, "max_sum_insured": rating.MaxSumInsured,
			"add_ons": addOns, "min_premium": rating.MaxSumInsured, "tax_bp": 10000,
		}
	}
	motor := common()
	motor["max_vehicle_age"] = 100
	motor["vehicle_age_loadings"] = []any{map[string]any{"min": 0, "max": 100, "loading_bp": 50000}}
	motor["make_loadings"] = []any{map[string]any{"make": "BMW", "loading_bp": 50000}}
	health := common()
	health["max_entry_age"] = 120
	health["max_members"] = 10
	health["member_loading_bp"] = 10000
	health["age_loadings"] = []any{map[string]any{"min": 0, "max": 120, "loading_bp": 50000}}
	b, err := json.Marshal(map[string]any{
		"version": "max", "currency": "INR",
		"insurers": []any{map[string]any{"code": "max", "name": "Max", "products": map[string]any{"motor": motor, "health": health}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRateLargestFigures(t *testing.T) {
	t.Parallel()
	table := loadTable(t, largestTable(t))
	const si = rating.MaxSumInsured
	tests := []struct {
		req  rating.Request
		want rating.Breakdown
	}{
		// Loading: 500% age + 500% make; add-ons: 20 × 100%.
		{maxMotor(), rating.Breakdown{Base: si, Loading: 10 * si, AddOns: 20 * si, Tax: 31 * si}},
		// Loading: 500% age + 9 × 100% members.
		{maxHealth(), rating.Breakdown{Base: si, Loading: 14 * si, AddOns: 20 * si, Tax: 35 * si}},
	}
	for _, tt := range tests {
		quotes, err := table.Rate(tt.req)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&tt.want, quotes[0].Breakdown); diff != "" {
			t.Errorf("%s breakdown (-want +got):\n%s", tt.req.Product, diff)
		}
		if want := 2 * tt.want.Tax; quotes[0].Premium != want {
			t.Errorf("%s premium = %d, want %d", tt.req.Product, quotes[0].Premium, want)
		}
	}
}

// TestRounding checks the single rounding rule, half up to the minor unit,
// on the base premium (rate 2500 bp = 25%) and on tax (1800 bp).
func TestRounding(t *testing.T) {
	t.Parallel()
	js := tableJSON(t, func(m map[string]any) {
		h := productOf(m, 1, "health")
		h["base_rate_bp"] = 2500
		h["tax_bp"] = 1800
		h["min_premium"] = 1
	})
	table := loadTable(t, js)
	tests := []struct {
		si        int64
		base, tax int64
	}{
		{1, 0, 0},    // 0.25 → 0; tax on 0 is 0
		{2, 1, 0},    // 0.5 → 1; 0.18 → 0
		{3, 1, 0},    // 0.75 → 1
		{10, 3, 1},   // 2.5 → 3; 3 × 0.18 = 0.54 → 1
		{13, 3, 1},   // 3.25 → 3; 0.54 → 1
		{100, 25, 5}, // 25; 4.5 → 5
		{101, 25, 5}, // 25.25 → 25; 4.5 → 5
		{110, 28, 5}, // 27.5 → 28; 5.04 → 5
	}
	for _, tt := range tests {
		req := validHealth()
		req.SumInsured = tt.si
		req.Health.Members = 1
		quotes, err := table.Rate(req)
		if err != nil {
			t.Fatal(err)
		}
		got := quotes[1].Breakdown
		if got.Base != tt.base || got.Tax != tt.tax {
			t.Errorf("sum insured %d: base %d tax %d, want base %d tax %d", tt.si, got.Base, got.Tax, tt.base, tt.tax)
		}
	}
}

func TestRateDeclines(t *testing.T) {
	t.Parallel()
	table := defaultTable(t)
	health := func(age, members int) rating.Request {
		r := validHealth()
		r.Health.Age, r.Health.Members = age, members
		return r
	}
	motor := func(si int64, year int) rating.Request {
		r := validMotor()
		r.SumInsured, r.Motor.VehicleYear = si, year
		return r
	}
	tests := []struct {
		name string
		req  rating.Request
		want map[string]string // insurer → decline reason; others must be priced
	}{
		{"a young family is priced by everyone", health(30, 4), map[string]string{}},
		{"eldest 60 is past Coastal's entry age", health(60, 2), map[string]string{
			"coastal": "eldest member is 60; Coastal Assurance accepts new members up to age 55",
		}},
		{"eldest 71 is past everyone's entry age", health(71, 1), map[string]string{
			"acme":    "eldest member is 71; Acme General accepts new members up to age 65",
			"bharat":  "eldest member is 71; Bharat Shield accepts new members up to age 70",
			"coastal": "eldest member is 71; Coastal Assurance accepts new members up to age 55",
		}},
		{"seven members", health(40, 7), map[string]string{
			"acme":    "7 members; Acme General covers at most 6 on one policy",
			"coastal": "7 members; Coastal Assurance covers at most 5 on one policy",
		}},
		{"₹40 lakh car is above Coastal's limit", motor(400_000_000, 2024), map[string]string{
			"coastal": "sum insured 400000000 exceeds Coastal Assurance's maximum of 300000000 (INR minor units)",
		}},
		{"sum insured is the reason given first", motor(800_000_000, 1990), map[string]string{
			"acme":    "sum insured 800000000 exceeds Acme General's maximum of 500000000 (INR minor units)",
			"bharat":  "sum insured 800000000 exceeds Bharat Shield's maximum of 750000000 (INR minor units)",
			"coastal": "sum insured 800000000 exceeds Coastal Assurance's maximum of 300000000 (INR minor units)",
		}},
		{"a 16-year-old car", motor(20_000_000, 2009), map[string]string{
			"acme":    "vehicle is 16 years old; Acme General covers vehicles up to 15 years old",
			"coastal": "vehicle is 16 years old; Coastal Assurance covers vehicles up to 10 years old",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			quotes, err := table.Rate(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			checkQuotes(t, table, tt.req, quotes)
			got := map[string]string{}
			for _, q := range quotes {
				if q.Declined {
					got[q.Insurer] = q.DeclineReason
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("declines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRateProductNotWritten(t *testing.T) {
	t.Parallel()
	table := loadTable(t, smallTable)
	quotes, err := table.Rate(validMotor())
	if err != nil {
		t.Fatal(err)
	}
	checkQuotes(t, table, validMotor(), quotes)
	if quotes[0].Declined {
		t.Errorf("alpha declined: %s", quotes[0].DeclineReason)
	}
	want := rating.Quote{
		Insurer:       "beta",
		InsurerName:   "Beta Health",
		SumInsured:    validMotor().SumInsured,
		Currency:      "INR",
		AddOns:        []rating.AddOn{},
		Declined:      true,
		DeclineReason: "Beta Health does not write motor cover",
	}
	if diff := cmp.Diff(want, quotes[1]); diff != "" {
		t.Errorf("beta quote (-want +got):\n%s", diff)
	}
}

func TestRateMakeLoading(t *testing.T) {
	t.Parallel()
	table := defaultTable(t)
	loadingOf := func(mk string) int64 {
		req := validMotor() // 2022 car rated in 2025: Acme's 2–4 band, 500 bp
		req.Motor.VehicleMake = mk
		quotes, err := table.Rate(req)
		if err != nil {
			t.Fatal(err)
		}
		return quotes[0].Breakdown.Loading
	}
	// Base is 85000000 × 300 bp = 2550000.
	tests := map[string]int64{
		"Hyundai":       127500, // 500 bp
		"BMW":           510000, // 500 + 1500 bp
		"  bmw ":        510000,
		"mercedes-benz": 510000,
		"Mercedes Benz": 127500, // not the listed make
	}
	for mk, want := range tests {
		if got := loadingOf(mk); got != want {
			t.Errorf("make %q: Acme loading %d, want %d", mk, got, want)
		}
	}
}

func TestInsurersPriceDifferently(t *testing.T) {
	t.Parallel()
	table := defaultTable(t)
	for _, req := range []rating.Request{validMotor(), validHealth()} {
		quotes, err := table.Rate(req)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]string{}
		for _, q := range quotes {
			if q.Declined {
				t.Fatalf("%s declined %+v: %s", q.Insurer, req, q.DeclineReason)
			}
			if other, dup := seen[q.Premium]; dup {
				t.Errorf("%s and %s both quote %d for %s", other, q.Insurer, q.Premium, req.Product)
			}
			seen[q.Premium] = q.Insurer
		}
	}
}

func TestQuoteJSON(t *testing.T) {
	t.Parallel()
	table := defaultTable(t)
	req := validHealth()
	req.Health.Age = 60
	quotes, err := table.Rate(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(quotes)
	if err != nil {
		t.Fatal(err)
	}
	var decoded []map[string]any
	if err := json.Unmarshal(got, &decoded); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{
			"insurer": "acme", "insurer_name": "Acme General", "premium": float64(2227250),
			"sum_insured": float64(50_000_000), "currency": "INR", "coverage": "Family floater hospitalisation",
			"add_ons": []any{map[string]any{"code": "restore", "name": "Sum insured restoration", "premium": float64(50000)}},
			"breakdown": map[string]any{
				"base": float64(750000), "loading": float64(1087500), "discount": float64(0),
				"add_ons": float64(50000), "tax": float64(339750),
			},
		},
		{
			"insurer": "bharat", "insurer_name": "Bharat Shield", "premium": float64(2183000),
			"sum_insured": float64(50_000_000), "currency": "INR", "coverage": "Family floater hospitalisation with outpatient cover",
			"add_ons": []any{map[string]any{"code": "opd", "name": "Outpatient consultations", "premium": float64(150000)}},
			"breakdown": map[string]any{
				"base": float64(850000), "loading": float64(850000), "discount": float64(0),
				"add_ons": float64(150000), "tax": float64(333000),
			},
		},
		{
			"insurer": "coastal", "insurer_name": "Coastal Assurance", "premium": float64(0),
			"sum_insured": float64(50_000_000), "currency": "INR", "coverage": "Family floater hospitalisation",
			"add_ons": []any{}, "declined": true,
			"decline_reason": "eldest member is 60; Coastal Assurance accepts new members up to age 55",
		},
	}
	if diff := cmp.Diff(want, decoded); diff != "" {
		t.Errorf("quote JSON (-want +got):\n%s", diff)
	}
}
