package document

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/signintech/gopdf"
)

// Page geometry in points (A4 portrait).
const (
	pageW        = 595.28
	pageH        = 841.89
	marginX      = 42.0
	marginTop    = 64.0
	marginBottom = 56.0
	contentW     = pageW - 2*marginX
	cellPad      = 4.0
	lineFactor   = 1.3 // line height as a multiple of the font size
)

const (
	familyRegular = "go-regular"
	familyBold    = "go-bold"
)

// rgb is a colour.
type rgb struct{ r, g, b uint8 }

var (
	colText     = rgb{25, 25, 25}
	colMuted    = rgb{105, 105, 105}
	colRule     = rgb{200, 200, 200}
	colHeadFill = rgb{226, 233, 243}
	colBestFill = rgb{223, 242, 228}
	colBest     = rgb{20, 110, 50}
	colDeclined = rgb{160, 35, 35}
)

// textStyle is a font and colour for a run of text.
type textStyle struct {
	bold  bool
	size  float64
	color rgb
}

var (
	stTitle   = textStyle{bold: true, size: 18, color: colText}
	stHeading = textStyle{bold: true, size: 11.5, color: colText}
	stBody    = textStyle{size: 9.5, color: colText}
	stSmall   = textStyle{size: 8, color: colMuted}
	stTableH  = textStyle{bold: true, size: 8.5, color: colText}
	stCell    = textStyle{size: 8.5, color: colText}
	stCellB   = textStyle{bold: true, size: 8.5, color: colText}
	stNote    = textStyle{size: 8, color: colMuted}
)

func (s textStyle) lineHeight() float64 { return s.size * lineFactor }

// pdf wraps a gopdf document with the cursor and helpers the layouts use.
type pdf struct {
	gp        *gopdf.GoPdf
	y         float64 // top of the next thing to draw
	runHead   string  // running header printed at the top of every page
	footLabel string  // printed left of the page number in every footer
	onNewPage func() error
}

// render sets up a document, runs draw, adds footers and returns the bytes.
// A panic in the PDF library is returned as an error.
func (r *Renderer) render(title string, created time.Time, draw func(*pdf) error) (out []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, fmt.Errorf("document: render %s: PDF library panicked: %v", title, v)
		}
	}()

	gp := &gopdf.GoPdf{}
	gp.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4, Unit: gopdf.UnitPT})
	gp.SetInfo(gopdf.PdfInfo{
		Title:        capitalise(title),
		Creator:      "insure",
		Producer:     "insure document renderer (gopdf)",
		CreationDate: created,
	})
	if err := gp.AddTTFFontData(familyRegular, r.regular); err != nil {
		return nil, fmt.Errorf("document: render %s: load regular font: %w", title, err)
	}
	if err := gp.AddTTFFontData(familyBold, r.bold); err != nil {
		return nil, fmt.Errorf("document: render %s: load bold font: %w", title, err)
	}

	p := &pdf{gp: gp, runHead: capitalise(title)}
	if err := p.newPage(); err != nil {
		return nil, fmt.Errorf("document: render %s: %w", title, err)
	}
	if err := draw(p); err != nil {
		return nil, fmt.Errorf("document: render %s: %w", title, err)
	}
	if err := p.footers(); err != nil {
		return nil, fmt.Errorf("document: render %s: %w", title, err)
	}
	out, err = gp.GetBytesPdfReturnErr()
	if err != nil {
		return nil, fmt.Errorf("document: render %s: write PDF: %w", title, err)
	}
	// GetBytesPdfReturnErr returns the library's internal buffer; copy it so
	// the caller owns the result.
	return append([]byte(nil), out...), nil
}

// newPage starts a page with the running header and moves the cursor below it.
func (p *pdf) newPage() error {
	p.gp.AddPage()
	if err := p.setStyle(stSmall); err != nil {
		return err
	}
	if err := p.textAt(marginX, 30, contentW, p.runHead, gopdf.Left); err != nil {
		return err
	}
	p.rule(marginX, 44, marginX+contentW, colRule, 0.6)
	p.y = marginTop
	if p.onNewPage != nil {
		return p.onNewPage()
	}
	return nil
}

// footers writes "Page i of n" on every page once the page count is known.
func (p *pdf) footers() error {
	n := p.gp.GetNumberOfPages()
	for i := 1; i <= n; i++ {
		if err := p.gp.SetPage(i); err != nil {
			return fmt.Errorf("select page %d for its footer: %w", i, err)
		}
		p.rule(marginX, pageH-40, marginX+contentW, colRule, 0.6)
		if err := p.setStyle(stSmall); err != nil {
			return err
		}
		if p.footLabel != "" {
			if err := p.textAt(marginX, pageH-34, contentW*0.7, p.footLabel, gopdf.Left); err != nil {
				return err
			}
		}
		if err := p.textAt(marginX, pageH-34, contentW, fmt.Sprintf("Page %d of %d", i, n), gopdf.Right); err != nil {
			return err
		}
	}
	return nil
}

// ensure starts a new page unless h more points fit on this one.
func (p *pdf) ensure(h float64) error {
	if p.y+h <= pageH-marginBottom {
		return nil
	}
	return p.newPage()
}

func (p *pdf) setStyle(s textStyle) error {
	family := familyRegular
	if s.bold {
		family = familyBold
	}
	if err := p.gp.SetFont(family, "", s.size); err != nil {
		return fmt.Errorf("set font %s %.1fpt: %w", family, s.size, err)
	}
	p.gp.SetTextColor(s.color.r, s.color.g, s.color.b)
	return nil
}

// clean collapses whitespace and replaces characters that the current font
// cannot show with "?", so nothing the customer wrote silently disappears.
func (p *pdf) clean(s string) (string, error) {
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			b.WriteByte('?')
			continue
		}
		ok, err := p.gp.IsCurrFontContainGlyph(r)
		if err != nil {
			return "", fmt.Errorf("look up glyph %q: %w", r, err)
		}
		if !ok {
			b.WriteByte('?')
			continue
		}
		b.WriteRune(r)
	}
	return b.String(), nil
}

func (p *pdf) measure(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	w, err := p.gp.MeasureTextWidth(s)
	if err != nil {
		return 0, fmt.Errorf("measure text: %w", err)
	}
	return w, nil
}

// wrap cleans s and breaks it into lines no wider than width in the current
// font, breaking between words where possible and inside a word that is too
// long on its own. It always returns at least one (possibly empty) line.
func (p *pdf) wrap(s string, width float64) ([]string, error) {
	s, err := p.clean(s)
	if err != nil {
		return nil, err
	}
	if s == "" {
		return []string{""}, nil
	}
	var lines []string
	line := ""
	for _, word := range strings.Split(s, " ") {
		candidate := word
		if line != "" {
			candidate = line + " " + word
		}
		w, err := p.measure(candidate)
		if err != nil {
			return nil, err
		}
		if w <= width {
			line = candidate
			continue
		}
		if line != "" {
			lines = append(lines, line)
		}
		// The word alone may still be too wide: break it between characters.
		line = ""
		for _, r := range word {
			next := line + string(r)
			w, err := p.measure(next)
			if err != nil {
				return nil, err
			}
			if w > width && line != "" {
				lines = append(lines, line)
				next = string(r)
			}
			line = next
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines, nil
}

// textAt draws one line of text with its top at y, aligned within [x, x+w].
func (p *pdf) textAt(x, y, w float64, s string, align int) error {
	s, err := p.clean(s)
	if err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	p.gp.SetXY(x, y)
	if err := p.gp.CellWithOption(&gopdf.Rect{W: w, H: 12}, s, gopdf.CellOption{Align: align | gopdf.Top}); err != nil {
		return fmt.Errorf("draw text: %w", err)
	}
	return nil
}

// lines draws wrapped lines from y downwards.
func (p *pdf) lines(x, y, w float64, st textStyle, lines []string, align int) error {
	if err := p.setStyle(st); err != nil {
		return err
	}
	for i, l := range lines {
		if err := p.textAt(x, y+float64(i)*st.lineHeight(), w, l, align); err != nil {
			return err
		}
	}
	return nil
}

func (p *pdf) rule(x1, y, x2 float64, c rgb, width float64) {
	p.gp.SetStrokeColor(c.r, c.g, c.b)
	p.gp.SetLineWidth(width)
	p.gp.Line(x1, y, x2, y)
}

func (p *pdf) fill(x, y, w, h float64, c rgb) {
	p.gp.SetFillColor(c.r, c.g, c.b)
	p.gp.RectFromUpperLeftWithStyle(x, y, w, h, "F")
}

// paragraph draws wrapped text across the content width.
func (p *pdf) paragraph(st textStyle, s string) error {
	if err := p.setStyle(st); err != nil {
		return err
	}
	ls, err := p.wrap(s, contentW)
	if err != nil {
		return err
	}
	for _, l := range ls {
		if err := p.ensure(st.lineHeight()); err != nil {
			return err
		}
		if err := p.lines(marginX, p.y, contentW, st, []string{l}, gopdf.Left); err != nil {
			return err
		}
		p.y += st.lineHeight()
	}
	return nil
}

// heading draws a section heading, keeping it on the same page as at least
// a little of what follows.
func (p *pdf) heading(s string) error {
	if err := p.ensure(stHeading.lineHeight() + 40); err != nil {
		return err
	}
	p.y += 8
	if err := p.paragraph(stHeading, s); err != nil {
		return err
	}
	p.rule(marginX, p.y+1, marginX+contentW, colRule, 0.6)
	p.y += 6
	return nil
}

// column is one column of a table.
type column struct {
	title string
	width float64
	align int // gopdf.Left or gopdf.Right
}

// cell is the content of one table cell.
type cell struct {
	text  string
	style textStyle
}

// row is one table row; note, if set, is printed under the cells from the
// second column to the right edge.
type row struct {
	cells []cell
	note  string
	fill  *rgb
}

// table draws rows under a header that is repeated on every page it spans.
type table struct {
	p    *pdf
	cols []column
}

func (t *table) header() error {
	h := stTableH.lineHeight() + 2*cellPad
	if err := t.p.ensure(h + 30); err != nil {
		return err
	}
	t.p.fill(marginX, t.p.y, contentW, h, colHeadFill)
	x := marginX
	for _, c := range t.cols {
		if err := t.p.setStyle(stTableH); err != nil {
			return err
		}
		if err := t.p.textAt(x+cellPad, t.p.y+cellPad, c.width-2*cellPad, c.title, c.align); err != nil {
			return err
		}
		x += c.width
	}
	t.p.y += h
	return nil
}

// begin draws the header and arranges for it to be repeated after a page
// break; end stops that.
func (t *table) begin() error {
	if err := t.header(); err != nil {
		return err
	}
	t.p.onNewPage = t.header
	return nil
}

func (t *table) end() { t.p.onNewPage = nil }

func (t *table) add(r row) error {
	p := t.p
	wrapped := make([][]string, len(r.cells))
	h := 0.0
	for i, c := range r.cells {
		if err := p.setStyle(c.style); err != nil {
			return err
		}
		ls, err := p.wrap(c.text, t.cols[i].width-2*cellPad)
		if err != nil {
			return err
		}
		wrapped[i] = ls
		h = max(h, float64(len(ls))*c.style.lineHeight())
	}
	var note []string
	noteX := marginX + t.cols[0].width
	noteW := contentW - t.cols[0].width
	if r.note != "" {
		if err := p.setStyle(stNote); err != nil {
			return err
		}
		ls, err := p.wrap(r.note, noteW-2*cellPad)
		if err != nil {
			return err
		}
		note = ls
	}
	// The note starts below the tallest cell except the first, which may
	// run alongside it.
	restH := 0.0
	for i := 1; i < len(wrapped); i++ {
		restH = max(restH, float64(len(wrapped[i]))*r.cells[i].style.lineHeight())
	}
	noteTop := restH + 2
	if len(note) > 0 {
		h = max(h, noteTop+float64(len(note))*stNote.lineHeight())
	}
	h += 2 * cellPad
	if limit := pageH - marginBottom - marginTop - 40; h > limit {
		return errors.New("a table row is taller than a page; shorten its text")
	}
	if err := p.ensure(h); err != nil {
		return err
	}
	if r.fill != nil {
		p.fill(marginX, p.y, contentW, h, *r.fill)
	}
	x := marginX
	for i, c := range r.cells {
		if err := p.lines(x+cellPad, p.y+cellPad, t.cols[i].width-2*cellPad, c.style, wrapped[i], t.cols[i].align); err != nil {
			return err
		}
		x += t.cols[i].width
	}
	if len(note) > 0 {
		if err := p.lines(noteX+cellPad, p.y+cellPad+noteTop, noteW-2*cellPad, stNote, note, gopdf.Left); err != nil {
			return err
		}
	}
	p.y += h
	p.rule(marginX, p.y, marginX+contentW, colRule, 0.4)
	return nil
}

// kvTable draws label/value pairs in two columns.
func (p *pdf) kvTable(pairs []KV) error {
	t := table{p: p, cols: []column{{width: 150, align: gopdf.Left}, {width: contentW - 150, align: gopdf.Left}}}
	for _, kv := range pairs {
		if err := t.add(row{cells: []cell{{kv.Label, stCellB}, {kv.Value, stCell}}}); err != nil {
			return err
		}
	}
	return nil
}

// capitalise upper-cases the first letter of s.
func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

const (
	dateLayout     = "02 Jan 2006"
	dateTimeLayout = "02 Jan 2006, 15:04 MST"
)

func drawQuotation(p *pdf, d QuotationDoc) error {
	p.footLabel = "Quotation " + d.QuotationID
	if err := p.paragraph(stTitle, "Insurance quotation"); err != nil {
		return err
	}
	p.y += 4
	if err := p.paragraph(stSmall, "Quotation "+d.QuotationID+" | generated "+d.GeneratedAt.Format(dateTimeLayout)); err != nil {
		return err
	}

	if err := p.heading("Customer and cover requested"); err != nil {
		return err
	}
	summary := []KV{{"Customer", d.CustomerName}}
	if strings.TrimSpace(d.CustomerEmail) != "" {
		summary = append(summary, KV{"Email", d.CustomerEmail})
	}
	summary = append(summary,
		KV{"Product", d.Product},
		KV{"Sum insured", FormatMoney(d.SumInsured, d.Currency)},
	)
	if !d.ValidUntil.IsZero() {
		summary = append(summary, KV{"Quotes valid until", d.ValidUntil.Format("2 Jan 2006")})
	}
	if err := p.kvTable(summary); err != nil {
		return err
	}

	if len(d.Details) > 0 {
		if err := p.heading("Risk details"); err != nil {
			return err
		}
		if err := p.kvTable(d.Details); err != nil {
			return err
		}
	}

	ranked, offered := rankQuotes(d.Quotes)
	if err := p.heading("Quotes compared"); err != nil {
		return err
	}
	declined := len(ranked) - offered
	var intro string
	switch {
	case offered == 0:
		intro = fmt.Sprintf("None of the %d insurers asked offered cover for this request; their reasons are below.", declined)
	default:
		best := ranked[0]
		intro = fmt.Sprintf("%d of %d insurers offered cover. The cheapest premium is %s from %s.",
			offered, len(ranked), FormatMoney(best.Premium, d.Currency), insurerLabel(best.QuoteLine))
	}
	if err := p.paragraph(stBody, intro); err != nil {
		return err
	}
	p.y += 6

	t := table{p: p, cols: []column{
		{"Insurer", 125, gopdf.Left},
		{"Coverage", 131, gopdf.Left},
		{"Sum insured", 90, gopdf.Right},
		{"Premium", 90, gopdf.Right},
		{"Status", contentW - 436, gopdf.Left},
	}}
	if err := t.begin(); err != nil {
		return err
	}
	for _, q := range ranked {
		if err := t.add(quoteRow(q, d)); err != nil {
			return err
		}
	}
	t.end()

	p.y += 10
	return p.paragraph(stSmall, "Premiums are as quoted by each insurer at the time shown above, in "+d.Currency+
		". Cover is subject to the insurer's acceptance and to its policy wording.")
}

// quoteRow lays out one quote of the comparison table.
func quoteRow(q rankedQuote, d QuotationDoc) row {
	sumInsured := q.SumInsured
	if sumInsured == 0 {
		sumInsured = d.SumInsured
	}
	coverage := q.Coverage
	if strings.TrimSpace(coverage) == "" {
		coverage = "-"
	}
	insurer := cell{insurerLabel(q.QuoteLine), stCellB}

	if q.Declined {
		reason := strings.TrimSpace(q.DeclineReason)
		if reason == "" {
			reason = "no reason given"
		}
		return row{
			cells: []cell{
				insurer,
				{coverage, stCell},
				{"-", stCell},
				{"-", stCell},
				{"Declined", textStyle{bold: true, size: stCell.size, color: colDeclined}},
			},
			note: "Declined: " + reason,
		}
	}

	status := cell{"Offered", stCell}
	var fill *rgb
	if q.cheapest {
		status = cell{"Cheapest", textStyle{bold: true, size: stCell.size, color: colBest}}
		fill = &colBestFill
	}
	var note string
	if len(q.AddOns) > 0 {
		parts := make([]string, 0, len(q.AddOns))
		for _, a := range q.AddOns {
			parts = append(parts, a.Name+" "+FormatMoney(a.Premium, d.Currency))
		}
		note = "Add-ons included: " + strings.Join(parts, "; ") + "."
	}
	if !d.ValidUntil.IsZero() {
		note = strings.TrimSpace(note + " Valid until " + d.ValidUntil.Format("2 Jan 2006") + ".")
	}
	return row{
		cells: []cell{
			insurer,
			{coverage, stCell},
			{FormatMoney(sumInsured, d.Currency), stCell},
			{FormatMoney(q.Premium, d.Currency), stCellB},
			status,
		},
		note: note,
		fill: fill,
	}
}

func drawPolicySchedule(p *pdf, d PolicyScheduleDoc) error {
	p.footLabel = "Policy " + d.PolicyNumber
	if err := p.paragraph(stTitle, "Policy schedule"); err != nil {
		return err
	}
	p.y += 4
	if err := p.paragraph(stSmall, "Policy "+d.PolicyNumber+" | issued "+d.IssuedAt.Format(dateTimeLayout)); err != nil {
		return err
	}

	if err := p.heading("Policyholder"); err != nil {
		return err
	}
	holder := []KV{{"Name", d.CustomerName}}
	if strings.TrimSpace(d.CustomerEmail) != "" {
		holder = append(holder, KV{"Email", d.CustomerEmail})
	}
	if err := p.kvTable(holder); err != nil {
		return err
	}

	if err := p.heading("Policy"); err != nil {
		return err
	}
	if err := p.kvTable([]KV{
		{"Policy number", d.PolicyNumber},
		{"Insurer", d.Insurer},
		{"Product", d.Product},
		{"Period of insurance", d.StartDate.Format(dateLayout) + " to " + d.EndDate.Format(dateLayout)},
		{"Sum insured", FormatMoney(d.SumInsured, d.Currency)},
		{"Premium", FormatMoney(d.Premium, d.Currency)},
		{"Issued", d.IssuedAt.Format(dateTimeLayout)},
		{"Reference", d.PolicyID},
	}); err != nil {
		return err
	}

	p.y += 10
	return p.paragraph(stSmall, "This schedule forms part of your policy with "+d.Insurer+
		". Please read it together with the policy wording, and tell us at once if any detail above is wrong.")
}
