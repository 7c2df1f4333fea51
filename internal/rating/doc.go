// Package rating prices motor and health insurance with every insurer in a
// rate table. It is pure: no database, no HTTP, no clock (the rating date
// comes in the Request) and no mutable package state, so the same Request
// and Table always give the same quotes.
//
// # Money and rounding
//
// Money is never a float. Every amount is an int64 in the minor unit of the
// table's currency (paise for the default INR table, so 85000000 is
// ₹8,50,000.00). Rates are whole basis points (bp): 1 bp = 0.01%, so
// 10000 bp = 100% and GST of 18% is 1800 bp.
//
// There is one rounding rule, applied in one place. Applying a rate of r bp
// to an amount a gives
//
//	a × r / 10000, rounded half up to the nearest minor unit
//	= (a×r + 5000) / 10000 in integer division
//
// In the steps and examples below, "a × r bp" always means this rounded
// result. Amounts and rates are never negative, so half up is also half
// away from zero. The rule is applied exactly once for each of: the base premium, the
// loading, the discount, each rate-based add-on, and the tax. Sums and
// differences of those rounded figures are exact. LoadTable's limits (rates
// at most 10000 bp, one loading at most 50000 bp, at most 20 add-ons) and
// MaxSumInsured keep every intermediate product below 10^17, far inside
// int64.
//
// # Algorithm
//
// Table.Rate first runs ValidateRequest and checks that the request's
// currency, if given, is the table's (every quote is in the table's
// currency). Then, for each insurer in table order:
//
//  1. Product section. An insurer without a section for the product
//     declines ("… does not write motor cover").
//  2. Rating age. Motor: vehicle age = AsOf.Year() − vehicle_year.
//     Health: the eldest member's age.
//  3. Decline rules, first match wins: sum insured above the section's
//     max_sum_insured; motor vehicle age above max_vehicle_age; health age
//     above max_entry_age; health members above max_members. A declined
//     quote has Premium 0, no add-ons, no Breakdown, and a DeclineReason.
//  4. Base = SumInsured × base_rate_bp.
//  5. Loading bp = the loading_bp of the band containing the rating age,
//     plus, for motor, the make loading (make_loadings entry whose make
//     equals vehicle_make ignoring case and spacing; 0 if none), or, for
//     health, member_loading_bp × (members − 1).
//     Loading = Base × loading bp.
//  6. Discount (motor only) = (Base + Loading) × (ncb_percent × 100) bp:
//     the no-claim bonus applies to the whole own-damage premium after
//     loadings. Health has no discount.
//  7. Add-ons: each add-on marked "included" is priced (flat, or
//     SumInsured × rate_bp), listed in Quote.AddOns in table order, and
//     summed into AddOns. Optional add-ons (included false) are not priced.
//  8. Net = Base + Loading − Discount + AddOns. If Net is below
//     min_premium, the shortfall is added to Loading and Net becomes
//     min_premium, so the breakdown still adds up.
//  9. Tax = Net × tax_bp. Premium = Net + Tax.
//
// So for every quote that is not declined:
//
//	Premium = Base + Loading − Discount + AddOns + Tax
//
// # Rate-table file
//
// DefaultTable parses ratetables/default.json, embedded in the binary;
// LoadTable and LoadTableFile parse an operator's file in the same schema.
// Amounts are minor units, rates are basis points, ages are whole years.
//
//	{
//	  "version":  "2025-06-01",        required label, recorded with quotes
//	  "currency": "INR",               ISO 4217 code of every amount
//	  "insurers": [                    1..50, quoted in this order
//	    {
//	      "code": "acme",              unique; a-z first, then a-z 0-9 _ -
//	      "name": "Acme General",
//	      "products": {                at least one of "motor", "health"
//	        "motor": {
//	          "coverage":        "Comprehensive private car …",
//	          "base_rate_bp":    300,            1..10000, of the sum insured
//	          "max_sum_insured": 500000000,      above it: decline
//	          "max_vehicle_age": 15,             0..100; above it: decline
//	          "vehicle_age_loadings": [          bands, see below
//	            {"min": 0, "max": 1, "loading_bp": 0}, …],
//	          "make_loadings": [                 optional; makes unique
//	            {"make": "BMW", "loading_bp": 1500}],
//	          "add_ons": [                       optional, at most 20
//	            {"code": "third_party", "name": "Third-party liability",
//	             "flat": 341600, "included": true},
//	            {"code": "zero_dep", "name": "Zero depreciation",
//	             "rate_bp": 50, "included": false}],
//	          "min_premium": 500000,             1..; floor for the net premium
//	          "tax_bp":      1800                0..10000
//	        },
//	        "health": {
//	          "coverage", "base_rate_bp", "max_sum_insured", "add_ons",
//	          "min_premium", "tax_bp":           as for motor
//	          "max_entry_age":     65,           0..120; above it: decline
//	          "max_members":       6,            1..10; above it: decline
//	          "age_loadings":      [bands by the eldest member's age],
//	          "member_loading_bp": 2500          0..10000, per extra member
//	        }
//	      }
//	    }
//	  ]
//	}
//
// Validation is strict and reports every problem, each as a *TableError
// naming the insurer and the JSON path: unknown fields at any level, unknown
// products, null sections, trailing data, negative or out-of-range numbers,
// duplicate insurer, add-on or make codes, an add-on that does not set
// exactly one of rate_bp and flat (both are whole numbers), and bands that
// do not start at 0, overlap, leave a gap, have max < min, or stop short of
// max_vehicle_age or max_entry_age. A band loading is 0..50000 bp.
//
// # Worked examples
//
// All four use the default table; the rating date is 15 June 2025. The
// figure blocks below are exactly what the Example functions in
// example_test.go print, and TestDocWorkedExamples fails if this text and
// the code disagree. In each block "net" is Premium − Tax.
//
// Example 1, motor with no-claim bonus: a 2021 Maruti Suzuki Swift, insured
// declared value ₹6,50,000 (65000000), NCB 25%. Working for Acme General:
// vehicle age 2025 − 2021 = 4 falls in the 2–4 band (500 bp); Acme has no
// loading for Maruti Suzuki (0 bp).
//
//	Base     = 65000000 × 300 bp                      = 1950000
//	Loading  = 1950000 × (500 + 0) bp                 =   97500
//	Discount = (1950000 + 97500) × 2500 bp            =  511875
//	AddOns   = third_party 341600 + roadside 49900    =  391500
//	           (zero_dep is optional and not priced)
//	Net      = 1950000 + 97500 − 511875 + 391500      = 1927125  (≥ min 500000)
//	Tax      = 1927125 × 1800 bp = 346882.5, half up  =  346883
//	Premium  = 1927125 + 346883                       = 2274008  (₹22,740.08)
//
// Bharat Shield (280 bp; age band 3–5 at 750 bp) and Coastal Assurance
// (320 bp; band 4–7 at 800 bp) work the same way:
//
//	acme (Acme General) premium 2274008
//	  base       1950000
//	  loading      97500
//	  discount    511875
//	  add-ons     391500  (third_party 341600 + roadside 49900)
//	  net        1927125
//	  tax         346883
//	bharat (Bharat Shield) premium 2172941
//	  base       1820000
//	  loading     136500
//	  discount    489125
//	  add-ons     374100  (third_party 341600 + personal_accident 32500)
//	  net        1841475
//	  tax         331466
//	coastal (Coastal Assurance) premium 2426434
//	  base       2080000
//	  loading     166400
//	  discount    561600
//	  add-ons     371500  (third_party 341600 + roadside 29900)
//	  net        2056300
//	  tax         370134
//
// Example 2, health family floater: four members, the eldest 42, sum
// insured ₹10,00,000 (100000000). Working for Acme General: age 42 falls in
// the 36–45 band (2500 bp); three extra members at 2500 bp each add 7500 bp.
//
//	Base     = 100000000 × 150 bp                     = 1500000
//	Loading  = 1500000 × (2500 + 3 × 2500) bp         = 1500000
//	Discount = 0 (health has no no-claim discount)
//	AddOns   = restore: 100000000 × 10 bp             =  100000
//	Net      = 1500000 + 1500000 − 0 + 100000         = 3100000  (≥ min 300000)
//	Tax      = 3100000 × 1800 bp                      =  558000
//	Premium  = 3100000 + 558000                       = 3658000  (₹36,580.00)
//
// Coastal Assurance: Loading = 1400000 × (5000 + 3 × 4000) bp = 2380000 and
// Tax = 3879900 × 1800 bp = 698382.
//
//	acme (Acme General) premium 3658000
//	  base       1500000
//	  loading    1500000
//	  discount         0
//	  add-ons     100000  (restore 100000)
//	  net        3100000
//	  tax         558000
//	bharat (Bharat Shield) premium 4389600
//	  base       1700000
//	  loading    1870000
//	  discount         0
//	  add-ons     150000  (opd 150000)
//	  net        3720000
//	  tax         669600
//	coastal (Coastal Assurance) premium 4578282
//	  base       1400000
//	  loading    2380000
//	  discount         0
//	  add-ons      99900  (daily_cash 99900)
//	  net        3879900
//	  tax         698382
//
// Example 3, a decline: a 2012 Honda City, insured declared value
// ₹2,50,000 (25000000), no NCB. The vehicle is 2025 − 2012 = 13 years old.
// Coastal Assurance's max_vehicle_age is 10, so it declines. Acme General
// (max 15) rates it in the 10–15 band (2000 bp):
//
//	Base     = 25000000 × 300 bp                      =  750000
//	Loading  = 750000 × 2000 bp                       =  150000
//	Discount = (750000 + 150000) × 0 bp               =       0
//	AddOns   = third_party 341600 + roadside 49900    =  391500
//	Net      = 750000 + 150000 − 0 + 391500           = 1291500
//	Tax      = 1291500 × 1800 bp                      =  232470
//	Premium  = 1291500 + 232470                       = 1523970  (₹15,239.70)
//
//	acme (Acme General) premium 1523970
//	  base        750000
//	  loading     150000
//	  discount         0
//	  add-ons     391500  (third_party 341600 + roadside 49900)
//	  net        1291500
//	  tax         232470
//	bharat (Bharat Shield) premium 1473938
//	  base        700000
//	  loading     175000
//	  discount         0
//	  add-ons     374100  (third_party 341600 + personal_accident 32500)
//	  net        1249100
//	  tax         224838
//	coastal (Coastal Assurance) declined: vehicle is 13 years old; Coastal Assurance covers vehicles up to 10 years old
//
// Example 4, the minimum premium: one person aged 20, sum insured ₹1,00,000
// (10000000). Working for Acme General: age 20 is in the 0–35 band (0 bp)
// and there are no extra members.
//
//	Base     = 10000000 × 150 bp                      =  150000
//	Loading  = 150000 × 0 bp                          =       0
//	AddOns   = restore: 10000000 × 10 bp              =   10000
//	Net      = 150000 + 0 − 0 + 10000                 =  160000  (< min 300000)
//	Loading  = 0 + (300000 − 160000)                  =  140000
//	Net      = min_premium                            =  300000
//	Tax      = 300000 × 1800 bp                       =   54000
//	Premium  = 300000 + 54000                         =  354000  (₹3,540.00)
//
//	acme (Acme General) premium 354000
//	  base        150000
//	  loading     140000
//	  discount         0
//	  add-ons      10000  (restore 10000)
//	  net         300000
//	  tax          54000
//	bharat (Bharat Shield) premium 413000
//	  base        170000
//	  loading      30000
//	  discount         0
//	  add-ons     150000  (opd 150000)
//	  net         350000
//	  tax          63000
//	coastal (Coastal Assurance) premium 354000
//	  base        140000
//	  loading      60100
//	  discount         0
//	  add-ons      99900  (daily_cash 99900)
//	  net         300000
//	  tax          54000
//
// # Errors
//
// Bad requests give errors matching ErrInvalidRequest that hold *FieldError
// values (FieldErrors lists them); bad tables give errors matching
// ErrInvalidTable that hold *TableError values (TableErrors lists them).
// A declined risk is not an error.
package rating
