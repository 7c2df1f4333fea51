package policy_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/policy"
)

func TestThresholdsAndUrgency(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff([]int{30, 15, 7, 1}, policy.Thresholds()); diff != "" {
		t.Fatal(diff)
	}
	policy.Thresholds()[0] = 99 // callers get their own copy
	if policy.Thresholds()[0] != 30 {
		t.Fatal("Thresholds shares its slice")
	}
	tests := []struct {
		days      int
		urgency   string
		threshold int
		ok        bool
	}{
		{-1, "critical", 0, false},
		{0, "critical", 1, true},
		{1, "critical", 1, true},
		{2, "high", 7, true},
		{7, "high", 7, true},
		{8, "medium", 15, true},
		{10, "medium", 15, true},
		{15, "medium", 15, true},
		{16, "low", 30, true},
		{30, "low", 30, true},
		{31, "", 0, false},
		{365, "", 0, false},
	}
	for _, tt := range tests {
		if got := policy.UrgencyFor(tt.days); got != tt.urgency {
			t.Errorf("UrgencyFor(%d) = %q, want %q", tt.days, got, tt.urgency)
		}
		if th, ok := policy.NearestThreshold(tt.days); th != tt.threshold || ok != tt.ok {
			t.Errorf("NearestThreshold(%d) = %d, %v; want %d, %v", tt.days, th, ok, tt.threshold, tt.ok)
		}
	}
}

func TestNumberFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id, product, start, want string
	}{
		{polID, "motor", "2026-01-10", "MOT-2026-0F3A9C21"},
		{polID, "health", "2027-12-31", "HLT-2027-0F3A9C21"},
		{polID, "travel", "2026-01-10", "POL-2026-0F3A9C21"},
	}
	for _, tt := range tests {
		if got := policy.NumberFor(tt.id, tt.product, day(t, tt.start)); got != tt.want {
			t.Errorf("NumberFor(%s, %s, %s) = %s, want %s", tt.id, tt.product, tt.start, got, tt.want)
		}
	}
	// Time-ordered ids made in the same minute share their first digits but
	// still get different numbers.
	a := policy.NumberFor("0193a5f2-7c1e-7d3a-9b1f-2f4e00000001", "motor", day(t, "2026-01-10"))
	b := policy.NumberFor("0193a5f2-7c1f-7d3a-9b1f-2f4e00000002", "motor", day(t, "2026-01-10"))
	if a == b {
		t.Errorf("two ids gave the same number %s", a)
	}
	if got := policy.NumberFor("legacy-42", "motor", day(t, "2026-01-10")); !strings.HasPrefix(got, "MOT-2026-") || len(got) != len("MOT-2026-0F3A9C21") {
		t.Errorf("NumberFor(non-UUID) = %s", got)
	}
}

func TestCreatePolicy(t *testing.T) {
	t.Parallel()
	ps, err := policy.CreatePolicy(polID, validCreate(), now)
	if err != nil {
		t.Fatal(err)
	}
	want := []event.Payload{&policy.Created{
		PolicyID: polID, PolicyNumber: "MOT-2026-0F3A9C21", CustomerID: custID, QuotationID: quoteID,
		Insurer: "acme", Product: "motor", Premium: 2_274_008, SumInsured: 65_000_000, Currency: "INR",
		StartDate: day(t, "2026-01-10"), EndDate: day(t, "2027-01-09"),
	}}
	if diff := cmp.Diff(want, ps); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}

	cmd := validCreate()
	cmd.QuotationID, cmd.Currency = nil, ""
	ps, err = policy.CreatePolicy(polID, cmd, now)
	if err != nil {
		t.Fatal(err)
	}
	if c := ps[0].(*policy.Created); c.QuotationID != "" || c.Currency != "INR" {
		t.Fatalf("defaults: %+v", c)
	}
	if _, err := policy.CreatePolicy("p-1", validCreate(), now); err == nil {
		t.Fatal("no error for an id that is not a UUID")
	}
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(*policy.Create)
		field string
	}{
		{"no customer", func(c *policy.Create) { c.CustomerID = "" }, "customer_id"},
		{"customer not a UUID", func(c *policy.Create) { c.CustomerID = "c-1" }, "customer_id"},
		{"quotation not a UUID", func(c *policy.Create) { c.QuotationID = ptr("q-1") }, "quotation_id"},
		{"quotation empty", func(c *policy.Create) { c.QuotationID = ptr("") }, "quotation_id"},
		{"no insurer", func(c *policy.Create) { c.Insurer = "" }, "insurer"},
		{"insurer upper case", func(c *policy.Create) { c.Insurer = "Acme" }, "insurer"},
		{"insurer with space", func(c *policy.Create) { c.Insurer = "acme general" }, "insurer"},
		{"insurer too long", func(c *policy.Create) { c.Insurer = strings.Repeat("a", 65) }, "insurer"},
		{"no product", func(c *policy.Create) { c.Product = "" }, "product"},
		{"unknown product", func(c *policy.Create) { c.Product = "life" }, "product"},
		{"zero premium", func(c *policy.Create) { c.Premium = 0 }, "premium"},
		{"negative premium", func(c *policy.Create) { c.Premium = -1 }, "premium"},
		{"huge premium", func(c *policy.Create) { c.Premium = policy.MaxAmount + 1 }, "premium"},
		{"zero sum insured", func(c *policy.Create) { c.SumInsured = 0 }, "sum_insured"},
		{"huge sum insured", func(c *policy.Create) { c.SumInsured = policy.MaxAmount + 1 }, "sum_insured"},
		{"lower-case currency", func(c *policy.Create) { c.Currency = "inr" }, "currency"},
		{"currency too long", func(c *policy.Create) { c.Currency = "INRS" }, "currency"},
		{"no start", func(c *policy.Create) { c.StartDate = "" }, "start_date"},
		{"bad start", func(c *policy.Create) { c.StartDate = "10-01-2026" }, "start_date"},
		{"no end", func(c *policy.Create) { c.EndDate = "" }, "end_date"},
		{"bad end", func(c *policy.Create) { c.EndDate = "2027-02-30" }, "end_date"},
		{"ends when it starts", func(c *policy.Create) { c.EndDate = c.StartDate }, "end_date"},
		{"ends before it starts", func(c *policy.Create) { c.EndDate = "2025-12-31" }, "end_date"},
		{"longer than five years", func(c *policy.Create) { c.EndDate = "2031-01-11" }, "end_date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := validCreate()
			tt.edit(&cmd)
			wantField(t, cmd.Validate(), tt.field)
			ps, err := policy.CreatePolicy(polID, cmd, now)
			wantField(t, err, tt.field)
			if ps != nil {
				t.Fatalf("events on error: %v", ps)
			}
		})
	}
	edge := validCreate()
	edge.EndDate, edge.Premium, edge.SumInsured = "2031-01-10", policy.MaxAmount, policy.MaxAmount
	if err := edge.Validate(); err != nil {
		t.Fatalf("five-year term at the amount limits: %v", err)
	}
	if err := validCreate().Validate(); err != nil {
		t.Fatal(err)
	}
	wantEnd := "the policy must end after it starts"
	cmd := validCreate()
	cmd.EndDate = cmd.StartDate
	if err := cmd.Validate(); !strings.Contains(err.Error(), wantEnd) {
		t.Fatalf("message %q does not say %q", err, wantEnd)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	p := created(t, validCreate()) // 2026-01-10 .. 2027-01-09
	renewed := created(t, validCreate())
	apply(t, renewed, must(t)(renewed.Renew(policy.Renew{}, day(t, "2026-12-20")))) // now 2027-01-09 .. 2028-01-09
	tests := []struct {
		name string
		p    *policy.Policy
		on   string
		want string
	}{
		{"before start", p, "2026-01-09", policy.StatusScheduled},
		{"first day", p, "2026-01-10", policy.StatusActive},
		{"31 days left", p, "2026-12-09", policy.StatusActive},
		{"30 days left", p, "2026-12-10", policy.StatusExpiring},
		{"last day", p, "2027-01-09", policy.StatusExpiring},
		{"day after end", p, "2027-01-10", policy.StatusExpired},
		{"renewed, still on the old term", renewed, "2026-12-21", policy.StatusActive},
		{"renewed, before the old term", renewed, "2026-01-09", policy.StatusScheduled},
		{"renewed, new term", renewed, "2027-06-01", policy.StatusActive},
		{"renewed, end of new term", renewed, "2028-01-01", policy.StatusExpiring},
		{"renewed, after new term", renewed, "2028-01-10", policy.StatusExpired},
	}
	for _, tt := range tests {
		if got := tt.p.Status(day(t, tt.on)); got != tt.want {
			t.Errorf("%s: Status(%s) = %s, want %s", tt.name, tt.on, got, tt.want)
		}
	}
}

func TestRenew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cmd   policy.Renew
		today string
		want  *policy.Renewed // nil: an error
		code  apperr.Code
		field string
	}{
		{"defaults while expiring", policy.Renew{}, "2026-12-20", &policy.Renewed{
			PolicyID: polID, PreviousStartDate: day(t, "2026-01-10"), PreviousEndDate: day(t, "2027-01-09"),
			StartDate: day(t, "2027-01-09"), EndDate: day(t, "2028-01-09"), Premium: 2_274_008, SumInsured: 65_000_000,
			Changes: map[string]policy.Change{
				"start_date": {Old: "2026-01-10", New: "2027-01-09"},
				"end_date":   {Old: "2027-01-09", New: "2028-01-09"},
			},
		}, "", ""},
		{"new terms while active", policy.Renew{Premium: ptr(int64(2_000_000)), SumInsured: ptr(int64(60_000_000)), EndDate: ptr("2027-07-09")}, "2026-06-01", &policy.Renewed{
			PolicyID: polID, PreviousStartDate: day(t, "2026-01-10"), PreviousEndDate: day(t, "2027-01-09"),
			StartDate: day(t, "2027-01-09"), EndDate: day(t, "2027-07-09"), Premium: 2_000_000, SumInsured: 60_000_000,
			Changes: map[string]policy.Change{
				"start_date":  {Old: "2026-01-10", New: "2027-01-09"},
				"end_date":    {Old: "2027-01-09", New: "2027-07-09"},
				"premium":     {Old: int64(2_274_008), New: int64(2_000_000)},
				"sum_insured": {Old: int64(65_000_000), New: int64(60_000_000)},
			},
		}, "", ""},
		{"same premium given", policy.Renew{Premium: ptr(int64(2_274_008))}, "2027-01-09", &policy.Renewed{
			PolicyID: polID, PreviousStartDate: day(t, "2026-01-10"), PreviousEndDate: day(t, "2027-01-09"),
			StartDate: day(t, "2027-01-09"), EndDate: day(t, "2028-01-09"), Premium: 2_274_008, SumInsured: 65_000_000,
			Changes: map[string]policy.Change{
				"start_date": {Old: "2026-01-10", New: "2027-01-09"},
				"end_date":   {Old: "2027-01-09", New: "2028-01-09"},
			},
		}, "", ""},
		{"expired", policy.Renew{}, "2027-01-10", nil, apperr.Conflict, ""},
		{"scheduled", policy.Renew{}, "2026-01-01", nil, apperr.Conflict, ""},
		{"zero premium", policy.Renew{Premium: ptr(int64(0))}, "2026-12-20", nil, apperr.Invalid, "premium"},
		{"huge premium", policy.Renew{Premium: ptr(policy.MaxAmount + 1)}, "2026-12-20", nil, apperr.Invalid, "premium"},
		{"negative sum insured", policy.Renew{SumInsured: ptr(int64(-1))}, "2026-12-20", nil, apperr.Invalid, "sum_insured"},
		{"bad end date", policy.Renew{EndDate: ptr("next year")}, "2026-12-20", nil, apperr.Invalid, "end_date"},
		{"end on the new start", policy.Renew{EndDate: ptr("2027-01-09")}, "2026-12-20", nil, apperr.Invalid, "end_date"},
		{"end before the new start", policy.Renew{EndDate: ptr("2026-12-31")}, "2026-12-20", nil, apperr.Invalid, "end_date"},
		{"term over five years", policy.Renew{EndDate: ptr("2032-01-10")}, "2026-12-20", nil, apperr.Invalid, "end_date"},
		{"expired beats bad input", policy.Renew{Premium: ptr(int64(0))}, "2027-02-01", nil, apperr.Conflict, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := created(t, validCreate())
			ps, err := p.Renew(tt.cmd, day(t, tt.today))
			if tt.want == nil {
				wantCode(t, err, tt.code)
				if tt.code == apperr.Invalid {
					wantField(t, err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]event.Payload{tt.want}, ps); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRenewTwiceAhead(t *testing.T) {
	t.Parallel()
	p := created(t, validCreate())
	apply(t, p, must(t)(p.Renew(policy.Renew{}, day(t, "2026-12-20"))))
	_, err := p.Renew(policy.Renew{}, day(t, "2026-12-21"))
	wantCode(t, err, apperr.Conflict)
	if !strings.Contains(err.Error(), "already renewed") {
		t.Fatalf("message: %v", err)
	}
	// Once the new term has started it can be renewed again.
	if ps, err := p.Renew(policy.Renew{}, day(t, "2027-12-20")); err != nil || len(ps) != 1 {
		t.Fatalf("renew in the new term = %v, %v", ps, err)
	}
}

func TestNotCreated(t *testing.T) {
	t.Parallel()
	var p policy.Policy
	_, err := p.Renew(policy.Renew{}, day(t, "2026-01-01"))
	wantCode(t, err, apperr.NotFound)
	_, err = p.WarnExpiry(day(t, "2026-01-01"))
	wantCode(t, err, apperr.NotFound)
}

// TestWarnExpiry runs daily-ish scans over a policy that ends on 2027-01-09
// and checks which scans warn. Each step applies its own events, so later
// steps see the warnings of earlier ones.
func TestWarnExpiry(t *testing.T) {
	t.Parallel()
	type step struct {
		on        string
		threshold int // 0: no warning
		daysLeft  int
		urgency   string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"every threshold in turn", []step{
			{"2026-12-01", 0, 0, ""}, // 39 days left
			{"2026-12-09", 0, 0, ""}, // 31 days left
			{"2026-12-10", 30, 30, "low"},
			{"2026-12-10", 0, 0, ""}, // second scan the same day
			{"2026-12-20", 0, 0, ""}, // 20 days: 30 already warned
			{"2026-12-25", 15, 15, "medium"},
			{"2026-12-31", 0, 0, ""}, // 9 days
			{"2027-01-02", 7, 7, "high"},
			{"2027-01-08", 1, 1, "critical"},
			{"2027-01-09", 0, 0, ""}, // last day: 1 already warned
			{"2027-01-10", 0, 0, ""}, // expired
		}},
		{"first seen 10 days out", []step{
			{"2026-12-30", 15, 10, "medium"},
			{"2026-12-30", 0, 0, ""},
			{"2026-12-31", 0, 0, ""},
			{"2027-01-02", 7, 7, "high"},
		}},
		{"first seen on the last day", []step{
			{"2027-01-09", 1, 0, "critical"},
			{"2027-01-09", 0, 0, ""},
		}},
		{"missed scans skip thresholds", []step{
			{"2026-12-12", 30, 28, "low"},
			{"2027-01-08", 1, 1, "critical"},
			{"2027-01-08", 0, 0, ""},
		}},
		{"before the policy starts", []step{
			{"2026-01-01", 0, 0, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := created(t, validCreate())
			for i, s := range tt.steps {
				before := p.Warned
				ps, err := p.WarnExpiry(day(t, s.on))
				if err != nil {
					t.Fatalf("step %d (%s): %v", i, s.on, err)
				}
				if diff := cmp.Diff(before, p.Warned); diff != "" {
					t.Fatalf("step %d: WarnExpiry changed the policy", i)
				}
				if s.threshold == 0 {
					if len(ps) != 0 {
						t.Fatalf("step %d (%s): events %+v, want none", i, s.on, ps[0])
					}
					continue
				}
				want := []event.Payload{&policy.ExpiringWarning{
					PolicyID: polID, CustomerID: custID, PolicyNumber: "MOT-2026-0F3A9C21",
					EndDate: day(t, "2027-01-09"), AsOf: day(t, s.on),
					DaysLeft: s.daysLeft, Threshold: s.threshold, Urgency: s.urgency,
				}}
				if diff := cmp.Diff(want, ps); diff != "" {
					t.Fatalf("step %d (%s) (-want +got):\n%s", i, s.on, diff)
				}
				if err := ps[0].(*policy.ExpiringWarning).Validate(); err != nil {
					t.Fatalf("step %d: decided warning does not validate: %v", i, err)
				}
				apply(t, p, ps)
			}
		})
	}
}

func TestRenewalResetsWarnings(t *testing.T) {
	t.Parallel()
	p := created(t, validCreate())
	apply(t, p, must(t)(p.WarnExpiry(day(t, "2027-01-02"))))
	if diff := cmp.Diff([]int{7}, p.Warned); diff != "" {
		t.Fatal(diff)
	}
	apply(t, p, must(t)(p.Renew(policy.Renew{EndDate: ptr("2027-01-20")}, day(t, "2027-01-09"))))
	if p.Warned != nil {
		t.Fatalf("warnings kept after renewal: %v", p.Warned)
	}
	ps, err := p.WarnExpiry(day(t, "2027-01-10"))
	if err != nil || len(ps) != 1 || ps[0].(*policy.ExpiringWarning).Threshold != 15 {
		t.Fatalf("warning in the new term = %v, %v", ps, err)
	}
}
