package document

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
)

// ErrInvalidDocument is wrapped by the error the [Renderer] returns when the
// data to render is incomplete or inconsistent. The message lists every
// problem found.
var ErrInvalidDocument = errors.New("invalid document")

// Limits on the input, so one document stays readable and cheap to render.
const (
	maxQuotes     = 100
	maxAddOns     = 20
	maxDetails    = 100
	maxFieldRunes = 300
	maxLongRunes  = 1000 // decline reasons and risk detail values
)

// KV is one labelled value, such as a risk detail ("Vehicle", "Maruti Swift").
type KV struct {
	Label, Value string
}

// AddOnLine is an optional cover offered with a quote and its premium in
// minor units.
type AddOnLine struct {
	Name    string
	Premium int64
}

// QuoteLine is one insurer's answer to a quotation request. A declined quote
// carries DeclineReason instead of a premium.
type QuoteLine struct {
	Insurer       string // insurer code, shown when InsurerName is empty
	InsurerName   string
	Premium       int64 // minor units; must be positive unless Declined
	SumInsured    int64 // minor units; zero means the quotation's sum insured
	Coverage      string
	AddOns        []AddOnLine
	Declined      bool
	DeclineReason string
}

// QuotationDoc is the data of a quotation comparison document. Currency must
// be "INR" (or empty, meaning INR); amounts are in paise. GeneratedAt is
// printed in its own location, so convert it (e.g. to IST) before rendering.
type QuotationDoc struct {
	QuotationID   string
	CustomerName  string
	CustomerEmail string
	Product       string
	SumInsured    int64
	Currency      string
	Details       []KV // label/value pairs of the risk details
	Quotes        []QuoteLine
	GeneratedAt   time.Time
	// ValidUntil is the last day the quotes can be accepted (zero: not
	// printed).
	ValidUntil time.Time
}

// PolicyScheduleDoc is the data of a policy schedule. Currency must be "INR"
// (or empty, meaning INR); amounts are in paise. Times are printed in their
// own location.
type PolicyScheduleDoc struct {
	PolicyID, PolicyNumber, CustomerName, CustomerEmail, Insurer, Product string
	Premium, SumInsured                                                   int64
	Currency                                                              string
	StartDate, EndDate                                                    time.Time
	IssuedAt                                                              time.Time
}

// Renderer renders documents to PDF. It holds only the font data and is safe
// for concurrent use.
type Renderer struct {
	regular []byte
	bold    []byte
}

// NewRenderer returns a renderer using the Go fonts. It returns an error if
// the embedded fonts cannot be parsed.
func NewRenderer() (*Renderer, error) {
	for name, data := range map[string][]byte{"Go Regular": goregular.TTF, "Go Bold": gobold.TTF} {
		if _, err := sfnt.Parse(data); err != nil {
			return nil, fmt.Errorf("document: parse font %s: %w", name, err)
		}
	}
	return &Renderer{regular: goregular.TTF, bold: gobold.TTF}, nil
}

// Quotation renders a comparison of every insurer's quote: offered quotes
// sorted by premium (cheapest first, marked "Cheapest"), then declined ones
// with their reasons. It returns an error wrapping [ErrInvalidDocument] if
// doc is incomplete, or an error from the PDF library.
func (r *Renderer) Quotation(doc QuotationDoc) ([]byte, error) {
	if doc.Currency == "" {
		doc.Currency = "INR"
	}
	if err := doc.validate(); err != nil {
		return nil, err
	}
	return r.render("quotation "+doc.QuotationID, doc.GeneratedAt, func(p *pdf) error {
		return drawQuotation(p, doc)
	})
}

// PolicySchedule renders the schedule of an issued policy. It returns an
// error wrapping [ErrInvalidDocument] if doc is incomplete, or an error from
// the PDF library.
func (r *Renderer) PolicySchedule(doc PolicyScheduleDoc) ([]byte, error) {
	if doc.Currency == "" {
		doc.Currency = "INR"
	}
	if err := doc.validate(); err != nil {
		return nil, err
	}
	return r.render("policy schedule "+doc.PolicyNumber, doc.IssuedAt, func(p *pdf) error {
		return drawPolicySchedule(p, doc)
	})
}

// problems collects validation failures.
type problems []string

func (ps *problems) addf(format string, args ...any) {
	*ps = append(*ps, fmt.Sprintf(format, args...))
}

// required checks a mandatory text field.
func (ps *problems) required(field, value string, limit int) {
	if strings.TrimSpace(value) == "" {
		ps.addf("%s is empty", field)
		return
	}
	ps.optional(field, value, limit)
}

// optional checks the length and encoding of a text field that may be empty.
func (ps *problems) optional(field, value string, limit int) {
	if !utf8.ValidString(value) {
		ps.addf("%s is not valid UTF-8", field)
		return
	}
	if n := utf8.RuneCountInString(value); n > limit {
		ps.addf("%s is %d characters long; at most %d fit on the page", field, n, limit)
	}
}

func (ps problems) err(what string) error {
	if len(ps) == 0 {
		return nil
	}
	return fmt.Errorf("document: %w: %s: %s", ErrInvalidDocument, what, strings.Join(ps, "; "))
}

func checkCurrency(ps *problems, currency string) {
	if currency != "INR" {
		ps.addf("currency %q is not supported: use INR (amounts in paise)", currency)
	}
}

func (d QuotationDoc) validate() error {
	var ps problems
	ps.required("quotation id", d.QuotationID, maxFieldRunes)
	ps.required("customer name", d.CustomerName, maxFieldRunes)
	ps.optional("customer email", d.CustomerEmail, maxFieldRunes)
	ps.required("product", d.Product, maxFieldRunes)
	checkCurrency(&ps, d.Currency)
	if d.SumInsured <= 0 {
		ps.addf("sum insured must be positive, got %d", d.SumInsured)
	}
	if d.GeneratedAt.IsZero() {
		ps.addf("generated-at time is not set")
	}
	if len(d.Details) > maxDetails {
		ps.addf("%d risk details given; at most %d are allowed", len(d.Details), maxDetails)
	}
	for i, kv := range d.Details {
		ps.required(fmt.Sprintf("details[%d] label", i), kv.Label, maxFieldRunes)
		ps.optional(fmt.Sprintf("details[%d] value", i), kv.Value, maxLongRunes)
	}
	switch {
	case len(d.Quotes) == 0:
		ps.addf("no quotes: a quotation needs at least one insurer's quote or decline")
	case len(d.Quotes) > maxQuotes:
		ps.addf("%d quotes given; at most %d are allowed", len(d.Quotes), maxQuotes)
	}
	for i, q := range d.Quotes {
		f := func(name string) string { return "quotes[" + strconv.Itoa(i) + "] " + name }
		if strings.TrimSpace(q.Insurer) == "" && strings.TrimSpace(q.InsurerName) == "" {
			ps.addf("%s is empty: set Insurer or InsurerName", f("insurer"))
		}
		ps.optional(f("insurer"), q.Insurer, maxFieldRunes)
		ps.optional(f("insurer name"), q.InsurerName, maxFieldRunes)
		ps.optional(f("coverage"), q.Coverage, maxFieldRunes)
		ps.optional(f("decline reason"), q.DeclineReason, maxLongRunes)
		if q.SumInsured < 0 {
			ps.addf("%s is negative (%d)", f("sum insured"), q.SumInsured)
		}
		if q.Declined {
			continue
		}
		if q.Premium <= 0 {
			ps.addf("%s must be positive for a quote that is not declined, got %d", f("premium"), q.Premium)
		}
		if len(q.AddOns) > maxAddOns {
			ps.addf("%s: %d given; at most %d are allowed", f("add-ons"), len(q.AddOns), maxAddOns)
		}
		for j, a := range q.AddOns {
			ps.required(f(fmt.Sprintf("add-ons[%d] name", j)), a.Name, maxFieldRunes)
			if a.Premium < 0 {
				ps.addf("%s is negative (%d)", f(fmt.Sprintf("add-ons[%d] premium", j)), a.Premium)
			}
		}
	}
	return ps.err("quotation")
}

func (d PolicyScheduleDoc) validate() error {
	var ps problems
	ps.required("policy id", d.PolicyID, maxFieldRunes)
	ps.required("policy number", d.PolicyNumber, maxFieldRunes)
	ps.required("customer name", d.CustomerName, maxFieldRunes)
	ps.optional("customer email", d.CustomerEmail, maxFieldRunes)
	ps.required("insurer", d.Insurer, maxFieldRunes)
	ps.required("product", d.Product, maxFieldRunes)
	checkCurrency(&ps, d.Currency)
	if d.Premium <= 0 {
		ps.addf("premium must be positive, got %d", d.Premium)
	}
	if d.SumInsured <= 0 {
		ps.addf("sum insured must be positive, got %d", d.SumInsured)
	}
	switch {
	case d.StartDate.IsZero():
		ps.addf("start date is not set")
	case d.EndDate.IsZero():
		ps.addf("end date is not set")
	case !d.EndDate.After(d.StartDate):
		ps.addf("end date %s is not after start date %s", d.EndDate.Format(time.DateOnly), d.StartDate.Format(time.DateOnly))
	}
	if d.IssuedAt.IsZero() {
		ps.addf("issued-at time is not set")
	}
	return ps.err("policy schedule")
}

// rankedQuote is a quote with its position in the comparison.
type rankedQuote struct {
	QuoteLine
	cheapest bool
}

// rankQuotes orders offered quotes by premium (ties by insurer name, then
// input order) followed by declined quotes in input order, and marks every
// offered quote with the lowest premium as cheapest.
func rankQuotes(quotes []QuoteLine) (ranked []rankedQuote, offered int) {
	ranked = make([]rankedQuote, 0, len(quotes))
	for _, q := range quotes {
		ranked = append(ranked, rankedQuote{QuoteLine: q})
	}
	sort.SliceStable(ranked, func(i, j int) bool {
		a, b := ranked[i], ranked[j]
		if a.Declined != b.Declined {
			return !a.Declined
		}
		if a.Declined {
			return false
		}
		if a.Premium != b.Premium {
			return a.Premium < b.Premium
		}
		return insurerLabel(a.QuoteLine) < insurerLabel(b.QuoteLine)
	})
	for i := range ranked {
		if ranked[i].Declined {
			break
		}
		offered++
		ranked[i].cheapest = ranked[i].Premium == ranked[0].Premium
	}
	return ranked, offered
}

// insurerLabel is the name printed for a quote's insurer.
func insurerLabel(q QuoteLine) string {
	if strings.TrimSpace(q.InsurerName) != "" {
		return q.InsurerName
	}
	return q.Insurer
}
