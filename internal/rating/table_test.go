package rating_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"insure/internal/rating"
)

// smallTable is a valid table used as the starting point for the bad-file
// cases: "alpha" writes motor and health, "beta" writes health only.
const smallTable = `{
  "version": "test-1",
  "currency": "INR",
  "insurers": [
    {
      "code": "alpha",
      "name": "Alpha Insurance",
      "products": {
        "motor": {
          "coverage": "Comprehensive",
          "base_rate_bp": 250,
          "max_sum_insured": 400000000,
          "max_vehicle_age": 12,
          "vehicle_age_loadings": [
            {"min": 0, "max": 5, "loading_bp": 0},
            {"min": 6, "max": 12, "loading_bp": 1000}
          ],
          "make_loadings": [{"make": "BMW", "loading_bp": 1500}],
          "add_ons": [
            {"code": "tp", "name": "Third-party liability", "flat": 341600, "included": true},
            {"code": "zero_dep", "name": "Zero depreciation", "rate_bp": 40}
          ],
          "min_premium": 400000,
          "tax_bp": 1800
        },
        "health": {
          "coverage": "Floater",
          "base_rate_bp": 150,
          "max_sum_insured": 500000000,
          "max_entry_age": 60,
          "max_members": 4,
          "age_loadings": [
            {"min": 0, "max": 40, "loading_bp": 0},
            {"min": 41, "max": 60, "loading_bp": 5000}
          ],
          "member_loading_bp": 3000,
          "add_ons": [],
          "min_premium": 300000,
          "tax_bp": 1800
        }
      }
    },
    {
      "code": "beta",
      "name": "Beta Health",
      "products": {
        "health": {
          "coverage": "Individual",
          "base_rate_bp": 200,
          "max_sum_insured": 300000000,
          "max_entry_age": 65,
          "max_members": 1,
          "age_loadings": [{"min": 0, "max": 120, "loading_bp": 0}],
          "member_loading_bp": 0,
          "min_premium": 100000,
          "tax_bp": 0
        }
      }
    }
  ]
}`

// tableJSON returns smallTable after mutate has edited its decoded form.
func tableJSON(t *testing.T, mutate func(m map[string]any)) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(smallTable), &m); err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func insurerAt(m map[string]any, i int) map[string]any {
	return m["insurers"].([]any)[i].(map[string]any)
}

func productOf(m map[string]any, i int, p string) map[string]any {
	return insurerAt(m, i)["products"].(map[string]any)[p].(map[string]any)
}

func listIn(obj map[string]any, key string, i int) map[string]any {
	return obj[key].([]any)[i].(map[string]any)
}

func TestDefaultTable(t *testing.T) {
	t.Parallel()
	table, err := rating.DefaultTable()
	if err != nil {
		t.Fatalf("DefaultTable: %v", err)
	}
	if diff := cmp.Diff([]string{"acme", "bharat", "coastal"}, table.Insurers()); diff != "" {
		t.Errorf("Insurers (-want +got):\n%s", diff)
	}
	if table.Currency() != rating.DefaultCurrency {
		t.Errorf("Currency = %q, want %q", table.Currency(), rating.DefaultCurrency)
	}
	if table.Version() == "" {
		t.Error("Version is empty")
	}

	// The file on disk is the one embedded, and LoadTableFile reads it the same.
	fromFile, err := rating.LoadTableFile(filepath.Join("ratetables", "default.json"))
	if err != nil {
		t.Fatalf("LoadTableFile: %v", err)
	}
	quotes1, err := table.Rate(validMotor())
	if err != nil {
		t.Fatal(err)
	}
	quotes2, err := fromFile.Rate(validMotor())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(quotes1, quotes2); diff != "" {
		t.Errorf("embedded and on-disk tables differ (-embedded +file):\n%s", diff)
	}
}

func TestLoadTableValid(t *testing.T) {
	t.Parallel()
	table, err := rating.LoadTable(strings.NewReader(smallTable))
	if err != nil {
		t.Fatalf("LoadTable: %v", err)
	}
	if diff := cmp.Diff([]string{"alpha", "beta"}, table.Insurers()); diff != "" {
		t.Errorf("Insurers (-want +got):\n%s", diff)
	}
	// Insurers() returns a copy.
	table.Insurers()[0] = "changed"
	if got := table.Insurers()[0]; got != "alpha" {
		t.Errorf("Insurers()[0] = %q after editing a returned slice", got)
	}
}

func TestLoadTableRejects(t *testing.T) {
	t.Parallel()
	type want struct{ Insurer, Field, Contains string }
	tests := []struct {
		name string
		json string
		want []want
	}{
		{"bad JSON", `{"version": "x",`, []want{{"", "", "not valid rate-table JSON"}}},
		{"empty input", ``, []want{{"", "", "not valid rate-table JSON"}}},
		{"not an object", `[1, 2]`, []want{{"", "", "not valid rate-table JSON"}}},
		{"trailing data", smallTable + `{}`, []want{{"", "", "unexpected data after"}}},
		{"float amount", strings.Replace(smallTable, `"base_rate_bp": 250`, `"base_rate_bp": 2.5`, 1),
			[]want{{"alpha", "insurers[0].products.motor", "not a valid motor section"}}},
		{"string amount", strings.Replace(smallTable, `"max_members": 4`, `"max_members": "4"`, 1),
			[]want{{"alpha", "insurers[0].products.health", "not a valid health section"}}},
		{"unknown top-level field", tableJSON(t, func(m map[string]any) { m["insurer"] = []any{} }),
			[]want{{"", "", `unknown field "insurer"`}}},
		{"unknown insurer field", tableJSON(t, func(m map[string]any) { insurerAt(m, 1)["rating"] = "AA" }),
			[]want{{"", "insurers[1]", `unknown field "rating"`}}},
		{"unknown section field", tableJSON(t, func(m map[string]any) { productOf(m, 0, "motor")["base_rate"] = 250 }),
			[]want{{"alpha", "insurers[0].products.motor", `unknown field "base_rate"`}}},
		{"unknown add-on field", tableJSON(t, func(m map[string]any) { listIn(productOf(m, 0, "motor"), "add_ons", 0)["gst"] = 1 }),
			[]want{{"alpha", "insurers[0].products.motor", `unknown field "gst"`}}},
		{"unknown band field", tableJSON(t, func(m map[string]any) { listIn(productOf(m, 1, "health"), "age_loadings", 0)["from"] = 0 }),
			[]want{{"beta", "insurers[1].products.health", `unknown field "from"`}}},
		{"missing insurers", tableJSON(t, func(m map[string]any) { delete(m, "insurers") }),
			[]want{{"", "insurers", "at least one insurer"}}},
		{"empty insurers", tableJSON(t, func(m map[string]any) { m["insurers"] = []any{} }),
			[]want{{"", "insurers", "at least one insurer"}}},
		{"null insurer", tableJSON(t, func(m map[string]any) { m["insurers"].([]any)[1] = nil }),
			[]want{{"", "insurers[1]", "must be an object"}}},
		{"too many insurers", tableJSON(t, func(m map[string]any) {
			var ins []any
			for range 51 {
				ins = append(ins, insurerAt(m, 1))
			}
			m["insurers"] = ins
		}), nil /* checked below: at least the count error */},
		{"missing version", tableJSON(t, func(m map[string]any) { delete(m, "version") }),
			[]want{{"", "version", "is required"}}},
		{"bad currency", tableJSON(t, func(m map[string]any) { m["currency"] = "Rs" }),
			[]want{{"", "currency", "three-letter ISO 4217"}}},
		{"duplicate insurer codes", tableJSON(t, func(m map[string]any) { insurerAt(m, 1)["code"] = "alpha" }),
			[]want{{"alpha", "insurers[1].code", "duplicates insurers[0].code"}}},
		{"missing insurer code", tableJSON(t, func(m map[string]any) { delete(insurerAt(m, 1), "code") }),
			[]want{{"", "insurers[1].code", "must be 1 to 32 characters"}}},
		{"upper-case insurer code", tableJSON(t, func(m map[string]any) { insurerAt(m, 1)["code"] = "Beta" }),
			[]want{{"Beta", "insurers[1].code", "a-z"}}},
		{"blank insurer name", tableJSON(t, func(m map[string]any) { insurerAt(m, 1)["name"] = " " }),
			[]want{{"beta", "insurers[1].name", "is required"}}},
		{"no products", tableJSON(t, func(m map[string]any) { insurerAt(m, 1)["products"] = map[string]any{} }),
			[]want{{"beta", "insurers[1].products", "at least one product"}}},
		{"unknown product", tableJSON(t, func(m map[string]any) {
			insurerAt(m, 1)["products"].(map[string]any)["travel"] = map[string]any{"coverage": "Trip"}
		}), []want{{"beta", "insurers[1].products.travel", `unknown product "travel"`}}},
		{"null product", tableJSON(t, func(m map[string]any) { insurerAt(m, 1)["products"].(map[string]any)["motor"] = nil }),
			[]want{{"beta", "insurers[1].products.motor", "must be an object"}}},
		{"negative base rate", tableJSON(t, func(m map[string]any) { productOf(m, 0, "motor")["base_rate_bp"] = -250 }),
			[]want{{"alpha", "insurers[0].products.motor.base_rate_bp", "must not be negative, got -250"}}},
		{"zero base rate", tableJSON(t, func(m map[string]any) { productOf(m, 0, "health")["base_rate_bp"] = 0 }),
			[]want{{"alpha", "insurers[0].products.health.base_rate_bp", "between 1 and 10000"}}},
		{"base rate above 100%", tableJSON(t, func(m map[string]any) { productOf(m, 0, "health")["base_rate_bp"] = 10001 }),
			[]want{{"alpha", "insurers[0].products.health.base_rate_bp", "between 1 and 10000"}}},
		{"missing coverage", tableJSON(t, func(m map[string]any) { delete(productOf(m, 0, "motor"), "coverage") }),
			[]want{{"alpha", "insurers[0].products.motor.coverage", "is required"}}},
		{"zero max sum insured", tableJSON(t, func(m map[string]any) { productOf(m, 1, "health")["max_sum_insured"] = 0 }),
			[]want{{"beta", "insurers[1].products.health.max_sum_insured", "between 1 and 100000000000"}}},
		{"negative minimum premium", tableJSON(t, func(m map[string]any) { productOf(m, 1, "health")["min_premium"] = -1 }),
			[]want{{"beta", "insurers[1].products.health.min_premium", "must not be negative"}}},
		{"zero minimum premium", tableJSON(t, func(m map[string]any) { productOf(m, 0, "motor")["min_premium"] = 0 }),
			[]want{{"alpha", "insurers[0].products.motor.min_premium", "between 1 and 100000000000"}}},
		{"negative tax", tableJSON(t, func(m map[string]any) { productOf(m, 0, "motor")["tax_bp"] = -1800 }),
			[]want{{"alpha", "insurers[0].products.motor.tax_bp", "must not be negative"}}},
		{"tax above 100%", tableJSON(t, func(m map[string]any) { productOf(m, 0, "motor")["tax_bp"] = 18000 }),
			[]want{{"alpha", "insurers[0].products.motor.tax_bp", "between 0 and 10000"}}},
		{"negative max vehicle age", tableJSON(t, func(m map[string]any) { productOf(m, 0, "motor")["max_vehicle_age"] = -1 }),
			[]want{{"alpha", "insurers[0].products.motor.max_vehicle_age", "must not be negative"}}},
		{"max entry age above 120", tableJSON(t, func(m map[string]any) { productOf(m, 1, "health")["max_entry_age"] = 121 }),
			[]want{
				{"beta", "insurers[1].products.health.max_entry_age", "between 0 and 120"},
				{"beta", "insurers[1].products.health.age_loadings[0].max", "at least 121"},
			}},
		{"zero max members", tableJSON(t, func(m map[string]any) { productOf(m, 1, "health")["max_members"] = 0 }),
			[]want{{"beta", "insurers[1].products.health.max_members", "between 1 and 10"}}},
		{"negative member loading", tableJSON(t, func(m map[string]any) { productOf(m, 0, "health")["member_loading_bp"] = -5 }),
			[]want{{"alpha", "insurers[0].products.health.member_loading_bp", "must not be negative"}}},
		{"no age bands", tableJSON(t, func(m map[string]any) { delete(productOf(m, 0, "health"), "age_loadings") }),
			[]want{{"alpha", "insurers[0].products.health.age_loadings", "at least one band"}}},
		{"first band not at 0", tableJSON(t, func(m map[string]any) { listIn(productOf(m, 0, "motor"), "vehicle_age_loadings", 0)["min"] = 1 }),
			[]want{{"alpha", "insurers[0].products.motor.vehicle_age_loadings[0].min", "must be 0"}}},
		{"overlapping bands", tableJSON(t, func(m map[string]any) { listIn(productOf(m, 0, "health"), "age_loadings", 1)["min"] = 40 }),
			[]want{{"alpha", "insurers[0].products.health.age_loadings[1].min", "must be 41"}}},
		{"gap between bands", tableJSON(t, func(m map[string]any) { listIn(productOf(m, 0, "health"), "age_loadings", 1)["min"] = 45 }),
			[]want{{"alpha", "insurers[0].products.health.age_loadings[1].min", "must be 41"}}},
		{"band max below min", tableJSON(t, func(m map[string]any) {
			listIn(productOf(m, 0, "motor"), "vehicle_age_loadings", 0)["max"] = -1
			listIn(productOf(m, 0, "motor"), "vehicle_age_loadings", 1)["min"] = 0
		}), []want{{"alpha", "insurers[0].products.motor.vehicle_age_loadings[0].max", "must not be less than min 0"}}},
		{"bands stop short of max age", tableJSON(t, func(m map[string]any) { productOf(m, 0, "health")["max_entry_age"] = 65 }),
			[]want{{"alpha", "insurers[0].products.health.age_loadings[1].max", "at least 65"}}},
		{"negative band loading", tableJSON(t, func(m map[string]any) { listIn(productOf(m, 0, "health"), "age_loadings", 1)["loading_bp"] = -100 }),
			[]want{{"alpha", "insurers[0].products.health.age_loadings[1].loading_bp", "must not be negative"}}},
		{"band loading above 500%", tableJSON(t, func(m map[string]any) { listIn(productOf(m, 0, "health"), "age_loadings", 1)["loading_bp"] = 50001 }),
			[]want{{"alpha", "insurers[0].products.health.age_loadings[1].loading_bp", "between 0 and 50000"}}},
		{"duplicate makes", tableJSON(t, func(m map[string]any) {
			mo := productOf(m, 0, "motor")
			mo["make_loadings"] = append(mo["make_loadings"].([]any), map[string]any{"make": " bmw ", "loading_bp": 100})
		}), []want{{"alpha", "insurers[0].products.motor.make_loadings[1].make", "duplicates make_loadings[0].make"}}},
		{"blank make", tableJSON(t, func(m map[string]any) { listIn(productOf(m, 0, "motor"), "make_loadings", 0)["make"] = "" }),
			[]want{{"alpha", "insurers[0].products.motor.make_loadings[0].make", "is required"}}},
		{"negative make loading", tableJSON(t, func(m map[string]any) { listIn(productOf(m, 0, "motor"), "make_loadings", 0)["loading_bp"] = -1 }),
			[]want{{"alpha", "insurers[0].products.motor.make_loadings[0].loading_bp", "must not be negative"}}},
		{"duplicate add-on codes", tableJSON(t, func(m map[string]any) { listIn(productOf(m, 0, "motor"), "add_ons", 1)["code"] = "tp" }),
			[]want{{"alpha", "insurers[0].products.motor.add_ons[1].code", "duplicates add_ons[0].code"}}},
		{"bad add-on code", tableJSON(t, func(m map[string]any) { listIn(productOf(m, 0, "motor"), "add_ons", 1)["code"] = "zero dep" }),
			[]want{{"alpha", "insurers[0].products.motor.add_ons[1].code", "a-z"}}},
		{"add-on without name", tableJSON(t, func(m map[string]any) { delete(listIn(productOf(m, 0, "motor"), "add_ons", 0), "name") }),
			[]want{{"alpha", "insurers[0].products.motor.add_ons[0].name", "is required"}}},
		{"negative add-on rate", tableJSON(t, func(m map[string]any) { listIn(productOf(m, 0, "motor"), "add_ons", 1)["rate_bp"] = -40 }),
			[]want{
				{"alpha", "insurers[0].products.motor.add_ons[1].rate_bp", "must not be negative"},
				{"alpha", "insurers[0].products.motor.add_ons[1]", "exactly one of rate_bp and flat"},
			}},
		{"negative flat add-on", tableJSON(t, func(m map[string]any) { listIn(productOf(m, 0, "motor"), "add_ons", 0)["flat"] = -341600 }),
			[]want{
				{"alpha", "insurers[0].products.motor.add_ons[0].flat", "must not be negative"},
				{"alpha", "insurers[0].products.motor.add_ons[0]", "exactly one of rate_bp and flat"},
			}},
		{"add-on with rate and flat", tableJSON(t, func(m map[string]any) { listIn(productOf(m, 0, "motor"), "add_ons", 0)["rate_bp"] = 10 }),
			[]want{{"alpha", "insurers[0].products.motor.add_ons[0]", "exactly one of rate_bp and flat"}}},
		{"add-on with neither", tableJSON(t, func(m map[string]any) { delete(listIn(productOf(m, 0, "motor"), "add_ons", 1), "rate_bp") }),
			[]want{{"alpha", "insurers[0].products.motor.add_ons[1]", "exactly one of rate_bp and flat"}}},
		{"every problem is reported", tableJSON(t, func(m map[string]any) {
			m["currency"] = ""
			productOf(m, 0, "motor")["base_rate_bp"] = -1
			productOf(m, 1, "health")["tax_bp"] = -1
		}), []want{
			{"", "currency", "ISO 4217"},
			{"alpha", "insurers[0].products.motor.base_rate_bp", "must not be negative"},
			{"beta", "insurers[1].products.health.tax_bp", "must not be negative"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			table, err := rating.LoadTable(strings.NewReader(tt.json))
			if err == nil {
				t.Fatalf("LoadTable accepted the file; Insurers() = %v", table.Insurers())
			}
			if table != nil {
				t.Errorf("LoadTable returned a table with an error")
			}
			if !errors.Is(err, rating.ErrInvalidTable) {
				t.Fatalf("error %v does not match ErrInvalidTable", err)
			}
			got := rating.TableErrors(err)
			if tt.want == nil {
				if len(got) == 0 {
					t.Fatalf("no *TableError in %v", err)
				}
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("errors:\n%v\nwant %d: %v", err, len(tt.want), tt.want)
			}
			for i, te := range got {
				w := tt.want[i]
				if te.Insurer != w.Insurer || te.Field != w.Field || !strings.Contains(te.Message, w.Contains) {
					t.Errorf("error %d = {%q %q %q}, want {%q %q containing %q}", i, te.Insurer, te.Field, te.Message, w.Insurer, w.Field, w.Contains)
				}
				if w.Insurer != "" && !strings.Contains(te.Error(), `insurer "`+w.Insurer+`"`) {
					t.Errorf("message %q does not name insurer %q", te.Error(), w.Insurer)
				}
			}
		})
	}
}

func TestLoadTableTooLarge(t *testing.T) {
	t.Parallel()
	big := smallTable + strings.Repeat(" ", 1<<20)
	_, err := rating.LoadTable(strings.NewReader(big))
	if !errors.Is(err, rating.ErrInvalidTable) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("LoadTable(%d bytes) error = %v, want a size error", len(big), err)
	}
}

func TestLoadTableReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	_, err := rating.LoadTable(iotest.ErrReader(boom))
	if !errors.Is(err, boom) {
		t.Errorf("error = %v, want it to wrap %v", err, boom)
	}
	if errors.Is(err, rating.ErrInvalidTable) {
		t.Errorf("a read failure %v should not claim the table is invalid", err)
	}
}

func TestLoadTableFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(smallTable), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := rating.LoadTableFile(good); err != nil {
		t.Errorf("LoadTableFile(good): %v", err)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"version":"x","currency":"INR","insurers":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := rating.LoadTableFile(bad)
	if !errors.Is(err, rating.ErrInvalidTable) || !strings.Contains(err.Error(), bad) {
		t.Errorf("LoadTableFile(bad) error = %v, want ErrInvalidTable naming the file", err)
	}

	_, err = rating.LoadTableFile(filepath.Join(dir, "missing.json"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadTableFile(missing) error = %v, want os.ErrNotExist", err)
	}
}

// FuzzLoadTable feeds arbitrary bytes to the rate-table decoder. It must
// never panic, must reject with ErrInvalidTable, and any table it accepts
// must price sample requests without errors or negative amounts.
func FuzzLoadTable(f *testing.F) {
	def, err := os.ReadFile(filepath.Join("ratetables", "default.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	f.Add([]byte(smallTable))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"version":"v","currency":"INR","insurers":[null]}`))
	f.Add([]byte(`{"version":"v","currency":"INR","insurers":[{"code":"a","name":"A","products":{"health":null}}]}`))
	f.Add([]byte(strings.Replace(smallTable, `"base_rate_bp": 250`, `"base_rate_bp": -250`, 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		table, err := rating.LoadTable(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, rating.ErrInvalidTable) {
				t.Fatalf("error %v does not match ErrInvalidTable", err)
			}
			if len(rating.TableErrors(err)) == 0 {
				t.Fatalf("error %v holds no *TableError", err)
			}
			return
		}
		if len(table.Insurers()) == 0 {
			t.Fatal("accepted a table without insurers")
		}
		for _, req := range []rating.Request{validMotor(), validHealth(), maxMotor(), maxHealth()} {
			req.Currency = table.Currency()
			quotes, err := table.Rate(req)
			if err != nil {
				t.Fatalf("Rate: %v", err)
			}
			checkQuotes(t, table, req, quotes)
		}
	})
}
