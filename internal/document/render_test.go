package document

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pdfcpu/pdfcpu/pkg/api"
)

func TestMain(m *testing.M) {
	// Keep pdfcpu from writing a configuration directory into $HOME.
	api.DisableConfigDir()
	os.Exit(m.Run())
}

func setupRenderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := NewRenderer()
	if err != nil {
		t.Fatalf("NewRenderer: %v", err)
	}
	return r
}

var ist = time.FixedZone("IST", 5*3600+1800)

func sampleQuotation() QuotationDoc {
	return QuotationDoc{
		QuotationID:   "Q-2026-000123",
		CustomerName:  "Asha Verma",
		CustomerEmail: "asha.verma@example.com",
		Product:       "Private car package",
		SumInsured:    85000000,
		Currency:      "INR",
		Details: []KV{
			{"Vehicle", "Maruti Suzuki Swift VXi 1.2"},
			{"Registration", "KA-01-AB-1234"},
			{"City", "Bengaluru"},
			{"Previous claims", "None in the last 3 years"},
		},
		Quotes: []QuoteLine{
			{Insurer: "acme", InsurerName: "Acme General Insurance", Premium: 1854000, SumInsured: 85000000, Coverage: "Comprehensive",
				AddOns: []AddOnLine{{"Zero depreciation", 350000}, {"Roadside assistance", 49900}}},
			{Insurer: "bharat", InsurerName: "Bharat Assurance", Premium: 1599950, Coverage: "Comprehensive"},
			{Insurer: "coastal", InsurerName: "Coastal Insurance Co", Declined: true, DeclineReason: "Vehicle older than our underwriting limit"},
			{Insurer: "deccan", InsurerName: "Deccan Mutual", Premium: 2100000, Coverage: "Comprehensive with engine protect"},
		},
		GeneratedAt: time.Date(2026, 4, 1, 10, 30, 0, 0, ist),
	}
}

func samplePolicy() PolicyScheduleDoc {
	return PolicyScheduleDoc{
		PolicyID:      "7d8c8d6e-4bbf-4f0e-9a55-0b1f5d0f8e21",
		PolicyNumber:  "BA/MOT/2026/0004567",
		CustomerName:  "Asha Verma",
		CustomerEmail: "asha.verma@example.com",
		Insurer:       "Bharat Assurance",
		Product:       "Private car package",
		Premium:       1599950,
		SumInsured:    85000000,
		Currency:      "INR",
		StartDate:     time.Date(2026, 4, 2, 0, 0, 0, 0, ist),
		EndDate:       time.Date(2027, 4, 1, 0, 0, 0, 0, ist),
		IssuedAt:      time.Date(2026, 4, 1, 11, 0, 0, 0, ist),
	}
}

// checkPDFFrame checks the file header and trailer.
func checkPDFFrame(t *testing.T, data []byte) {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		t.Errorf("output starts with %q, want %%PDF-", data[:min(len(data), 8)])
	}
	if !bytes.HasSuffix(bytes.TrimRight(data, "\r\n"), []byte("%%EOF")) {
		t.Errorf("output does not end with %%%%EOF")
	}
}

func checkContains(t *testing.T, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("PDF text does not contain %q; text:\n%s", w, text)
		}
	}
}

func TestQuotation(t *testing.T) {
	t.Parallel()
	r := setupRenderer(t)
	doc := sampleQuotation()

	data, err := r.Quotation(doc)
	if err != nil {
		t.Fatalf("Quotation: %v", err)
	}
	checkPDFFrame(t, data)
	got := parsePDF(t, data)
	if got.pages != 1 {
		t.Errorf("pages = %d, want 1", got.pages)
	}
	text := got.text()
	checkContains(t, text,
		"Asha Verma",
		"asha.verma@example.com",
		"Q-2026-000123",
		"Acme General Insurance", "Bharat Assurance", "Coastal Insurance Co", "Deccan Mutual",
		"INR 8,50,000.00",   // sum insured
		"INR 15,999.50",     // cheapest premium
		"INR 18,540.00",     // another premium
		"INR 3,500.00",      // add-on premium
		"Zero depreciation", // add-on name
		"Vehicle older than our underwriting limit",
		"Maruti Suzuki Swift VXi 1.2",
		"01 Apr 2026, 10:30 IST",
		"Page 1 of 1",
	)

	// The cheapest offer is marked, comes first, and declines come last.
	want := []string{"Bharat Assurance", "Acme General Insurance", "Deccan Mutual", "Coastal Insurance Co"}
	var order []string
	for _, run := range got.runs[0] {
		for _, name := range want {
			if run == name {
				order = append(order, name)
			}
		}
	}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("insurer order in table (-want +got):\n%s", diff)
	}
	idx := func(s string) int { return strings.Index(text, s) }
	if !(idx("Bharat Assurance\n") < idx("Cheapest") && idx("Cheapest") < idx("Acme General Insurance\n")) {
		t.Errorf("Cheapest is not marked on the Bharat Assurance row; text:\n%s", text)
	}
	if strings.Count(text, "Cheapest") != 1 {
		t.Errorf("Cheapest appears %d times, want 1", strings.Count(text, "Cheapest"))
	}
	checkContains(t, text, "Declined: Vehicle older than our underwriting limit",
		"The cheapest premium is INR 15,999.50 from Bharat Assurance.")
}

func TestQuotationManyQuotesSpansPages(t *testing.T) {
	t.Parallel()
	r := setupRenderer(t)
	doc := sampleQuotation()
	doc.Quotes = nil
	for i := range 60 {
		q := QuoteLine{InsurerName: fmt.Sprintf("Insurer %02d", i), Premium: int64(1000000 + i*1000), Coverage: "Comprehensive"}
		if i%7 == 3 {
			q = QuoteLine{InsurerName: fmt.Sprintf("Insurer %02d", i), Declined: true,
				DeclineReason: strings.Repeat("A long reason that wraps onto several lines. ", 6)}
		}
		doc.Quotes = append(doc.Quotes, q)
	}

	data, err := r.Quotation(doc)
	if err != nil {
		t.Fatalf("Quotation: %v", err)
	}
	got := parsePDF(t, data)
	if got.pages < 2 {
		t.Fatalf("pages = %d, want the table to continue on a second page", got.pages)
	}
	text := got.text()
	for i := range 60 {
		checkContains(t, text, fmt.Sprintf("Insurer %02d", i))
	}
	checkContains(t, text, fmt.Sprintf("Page %d of %d", got.pages, got.pages))
	// The table header is repeated on every page that the table spans.
	for n, page := range got.runs[1:] {
		found := false
		for _, run := range page {
			found = found || run == "Premium"
		}
		if !found {
			t.Errorf("page %d has no table header", n+2)
		}
	}
}

func TestQuotationAllDeclined(t *testing.T) {
	t.Parallel()
	r := setupRenderer(t)
	doc := sampleQuotation()
	doc.Quotes = []QuoteLine{
		{Insurer: "coastal", Declined: true, DeclineReason: "Outside our service area"},
		{InsurerName: "Deccan Mutual", Declined: true},
	}
	data, err := r.Quotation(doc)
	if err != nil {
		t.Fatalf("Quotation: %v", err)
	}
	text := parsePDF(t, data).text()
	checkContains(t, text, "coastal", "Outside our service area", "Deccan Mutual", "no reason given", "None of the 2 insurers")
	if strings.Contains(text, "Cheapest") {
		t.Errorf("a quotation with no offers marks something as cheapest")
	}
}

func TestQuotationUnsupportedCharacters(t *testing.T) {
	t.Parallel()
	r := setupRenderer(t)
	doc := sampleQuotation()
	doc.CustomerName = "José Müller आशा" // the Go fonts cover Latin but not Devanagari
	data, err := r.Quotation(doc)
	if err != nil {
		t.Fatalf("Quotation: %v", err)
	}
	checkContains(t, parsePDF(t, data).text(), "José Müller ???")
}

func TestPolicySchedule(t *testing.T) {
	t.Parallel()
	r := setupRenderer(t)
	data, err := r.PolicySchedule(samplePolicy())
	if err != nil {
		t.Fatalf("PolicySchedule: %v", err)
	}
	checkPDFFrame(t, data)
	got := parsePDF(t, data)
	if got.pages != 1 {
		t.Errorf("pages = %d, want 1", got.pages)
	}
	checkContains(t, got.text(),
		"Policy schedule",
		"Asha Verma",
		"asha.verma@example.com",
		"BA/MOT/2026/0004567",
		"Bharat Assurance",
		"Private car package",
		"02 Apr 2026 to 01 Apr 2027",
		"INR 15,999.50",
		"INR 8,50,000.00",
		"7d8c8d6e-4bbf-4f0e-9a55-0b1f5d0f8e21",
		"Page 1 of 1",
	)
}

func TestRenderIsDeterministic(t *testing.T) {
	t.Parallel()
	r := setupRenderer(t)
	a, err := r.Quotation(sampleQuotation())
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Quotation(sampleQuotation())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("rendering the same quotation twice gave different bytes")
	}
}

func TestRenderConcurrently(t *testing.T) {
	t.Parallel()
	r := setupRenderer(t)
	want, err := r.PolicySchedule(samplePolicy())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Go(func() {
			if _, err := r.Quotation(sampleQuotation()); err != nil {
				errs <- err
			}
			got, err := r.PolicySchedule(samplePolicy())
			if err != nil {
				errs <- err
			} else if !bytes.Equal(got, want) {
				errs <- errors.New("concurrent render differs from a sequential one")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestQuotationInvalid(t *testing.T) {
	t.Parallel()
	r := setupRenderer(t)
	tests := []struct {
		name   string
		modify func(*QuotationDoc)
		want   string
	}{
		{"empty id", func(d *QuotationDoc) { d.QuotationID = " " }, "quotation id is empty"},
		{"no customer", func(d *QuotationDoc) { d.CustomerName = "" }, "customer name is empty"},
		{"no product", func(d *QuotationDoc) { d.Product = "" }, "product is empty"},
		{"no quotes", func(d *QuotationDoc) { d.Quotes = nil }, "no quotes"},
		{"too many quotes", func(d *QuotationDoc) { d.Quotes = make([]QuoteLine, maxQuotes+1) }, "at most 100 are allowed"},
		{"zero time", func(d *QuotationDoc) { d.GeneratedAt = time.Time{} }, "generated-at time is not set"},
		{"currency", func(d *QuotationDoc) { d.Currency = "USD" }, `currency "USD" is not supported`},
		{"sum insured", func(d *QuotationDoc) { d.SumInsured = 0 }, "sum insured must be positive"},
		{"no insurer", func(d *QuotationDoc) { d.Quotes[0].Insurer, d.Quotes[0].InsurerName = "", "" }, "quotes[0] insurer is empty"},
		{"zero premium", func(d *QuotationDoc) { d.Quotes[1].Premium = 0 }, "quotes[1] premium must be positive"},
		{"negative add-on", func(d *QuotationDoc) { d.Quotes[0].AddOns[1].Premium = -1 }, "quotes[0] add-ons[1] premium is negative"},
		{"bad utf8", func(d *QuotationDoc) { d.CustomerName = "A\xffB" }, "customer name is not valid UTF-8"},
		{"too long", func(d *QuotationDoc) { d.Product = strings.Repeat("x", maxFieldRunes+1) }, "product is 301 characters long"},
		{"detail label", func(d *QuotationDoc) { d.Details[0].Label = "" }, "details[0] label is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := sampleQuotation()
			tt.modify(&doc)
			_, err := r.Quotation(doc)
			if !errors.Is(err, ErrInvalidDocument) {
				t.Fatalf("err = %v, want ErrInvalidDocument", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestPolicyScheduleInvalid(t *testing.T) {
	t.Parallel()
	r := setupRenderer(t)
	tests := []struct {
		name   string
		modify func(*PolicyScheduleDoc)
		want   string
	}{
		{"empty policy id", func(d *PolicyScheduleDoc) { d.PolicyID = "" }, "policy id is empty"},
		{"empty number", func(d *PolicyScheduleDoc) { d.PolicyNumber = "" }, "policy number is empty"},
		{"empty insurer", func(d *PolicyScheduleDoc) { d.Insurer = "" }, "insurer is empty"},
		{"negative premium", func(d *PolicyScheduleDoc) { d.Premium = -5 }, "premium must be positive"},
		{"dates reversed", func(d *PolicyScheduleDoc) { d.StartDate, d.EndDate = d.EndDate, d.StartDate }, "is not after start date"},
		{"no end", func(d *PolicyScheduleDoc) { d.EndDate = time.Time{} }, "end date is not set"},
		{"no issue time", func(d *PolicyScheduleDoc) { d.IssuedAt = time.Time{} }, "issued-at time is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := samplePolicy()
			tt.modify(&doc)
			_, err := r.PolicySchedule(doc)
			if !errors.Is(err, ErrInvalidDocument) {
				t.Fatalf("err = %v, want ErrInvalidDocument", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestInvalidListsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := setupRenderer(t).Quotation(QuotationDoc{})
	if err == nil {
		t.Fatal("empty quotation rendered")
	}
	for _, want := range []string{"quotation id is empty", "customer name is empty", "product is empty", "no quotes", "generated-at"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to mention %q", err, want)
		}
	}
}

func TestRankQuotes(t *testing.T) {
	t.Parallel()
	quotes := []QuoteLine{
		{InsurerName: "D", Declined: true},
		{InsurerName: "C", Premium: 300},
		{InsurerName: "B", Premium: 100},
		{InsurerName: "A", Premium: 100},
		{InsurerName: "E", Declined: true},
	}
	ranked, offered := rankQuotes(quotes)
	type summary struct {
		Name     string
		Cheapest bool
	}
	var got []summary
	for _, q := range ranked {
		got = append(got, summary{q.InsurerName, q.cheapest})
	}
	want := []summary{{"A", true}, {"B", true}, {"C", false}, {"D", false}, {"E", false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rankQuotes (-want +got):\n%s", diff)
	}
	if offered != 3 {
		t.Errorf("offered = %d, want 3", offered)
	}
}

func TestRenderRecoversFromPanic(t *testing.T) {
	t.Parallel()
	r := setupRenderer(t)
	out, err := r.render("test", time.Now(), func(*pdf) error { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "panicked: boom") {
		t.Errorf("err = %v, want the panic reported as an error", err)
	}
	if out != nil {
		t.Errorf("got %d bytes of output after a panic", len(out))
	}
}
