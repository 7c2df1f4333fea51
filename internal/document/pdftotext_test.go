package document

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pdftotext extracts a PDF's text with poppler's pdftotext, the tool a
// person would use to check what the document says.
func pdftotext(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatalf("pdftotext not found: install Debian's poppler-utils (apt-get install -y poppler-utils; .ci/run does)")
	}
	cmd := exec.Command(bin, "-layout", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("pdftotext: %v: %s", err, errOut.String())
	}
	// Collapse runs of spaces from the layout mode so phrases can be matched.
	return regexp.MustCompile(`[ \t]+`).ReplaceAllString(out.String(), " ")
}

func TestPDFTextQuotation(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	doc := sampleQuotation()
	doc.ValidUntil = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	pdf, err := r.Quotation(doc)
	if err != nil {
		t.Fatal(err)
	}
	text := pdftotext(t, pdf)
	for _, want := range []string{
		"Asha Verma",             // the customer
		"Q-2026-000123",          // the quotation number
		"Acme General Insurance", // one row per insurer
		"Bharat Assurance",
		"Coastal Insurance Co",
		"Deccan Mutual",
		"INR 18,540.00", // premiums
		"INR 15,999.50",
		"INR 21,000.00",
		"INR 8,50,000.00",                           // sum insured
		"Zero depreciation INR 3,500.00",            // add-ons with their premiums
		"Vehicle older than our underwriting limit", // the decline reason
		"Valid until 1 May 2026",                    // validity
		"Cheapest",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the quotation PDF's text lacks %q:\n%s", want, text)
		}
	}
	// The cheapest offer comes first.
	if strings.Index(text, "Bharat Assurance") > strings.Index(text, "Acme General Insurance") {
		t.Errorf("quotes are not ordered cheapest first:\n%s", text)
	}
}

func TestPDFTextPolicySchedule(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := r.PolicySchedule(samplePolicy())
	if err != nil {
		t.Fatal(err)
	}
	text := pdftotext(t, pdf)
	for _, want := range []string{"Asha Verma", "BA/MOT/2026/0004567", "Bharat Assurance", "INR 15,999.50", "INR 8,50,000.00", "2026", "2027"} {
		if !strings.Contains(text, want) {
			t.Errorf("the policy schedule's text lacks %q:\n%s", want, text)
		}
	}
}
