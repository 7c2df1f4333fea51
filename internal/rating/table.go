package rating

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// ratetables holds the default rate table shipped with the binary.
//
//go:embed ratetables/default.json
var ratetables embed.FS

// Limits that LoadTable enforces. With MaxSumInsured they bound every
// intermediate amount to about 10^13 minor units and every product of an
// amount and a rate to about 10^17, so int64 arithmetic cannot overflow.
const (
	maxTableBytes   = 1 << 20 // 1 MiB
	maxInsurers     = 50
	maxAddOns       = 20
	maxBands        = 50
	maxMakeLoadings = 200
	maxRateBP       = 10_000 // base, add-on and tax rates: at most 100%
	maxLoadingBP    = 50_000 // one age, vehicle-age or make loading: at most 500%
	maxMemberBP     = 10_000 // loading per additional member: at most 100%
	maxVehicleAge   = 100
	maxTextLen      = 200
	maxCodeLen      = 32
)

// Table is a parsed, validated rate table. It is immutable and safe for
// concurrent use. Build one with DefaultTable, LoadTable or LoadTableFile.
type Table struct {
	version  string
	currency string
	insurers []insurer
}

type insurer struct {
	code   string
	name   string
	motor  *motorSection  // nil when the insurer does not write motor cover
	health *healthSection // nil when the insurer does not write health cover
	makes  map[string]int64
}

// The types below are the rate-table file schema. See the package
// documentation for a description of every field.

type tableFile struct {
	Version  string            `json:"version"`
	Currency string            `json:"currency"`
	Insurers []json.RawMessage `json:"insurers"`
}

type insurerFile struct {
	Code     string                     `json:"code"`
	Name     string                     `json:"name"`
	Products map[string]json.RawMessage `json:"products"`
}

type section struct {
	Coverage      string      `json:"coverage"`
	BaseRateBP    int64       `json:"base_rate_bp"`
	MaxSumInsured int64       `json:"max_sum_insured"`
	AddOns        []addOnRate `json:"add_ons"`
	MinPremium    int64       `json:"min_premium"`
	TaxBP         int64       `json:"tax_bp"`
}

type motorSection struct {
	section
	MaxVehicleAge      int           `json:"max_vehicle_age"`
	VehicleAgeLoadings []band        `json:"vehicle_age_loadings"`
	MakeLoadings       []makeLoading `json:"make_loadings"`
}

type healthSection struct {
	section
	MaxEntryAge     int    `json:"max_entry_age"`
	MaxMembers      int    `json:"max_members"`
	AgeLoadings     []band `json:"age_loadings"`
	MemberLoadingBP int64  `json:"member_loading_bp"`
}

type band struct {
	Min       int   `json:"min"`
	Max       int   `json:"max"`
	LoadingBP int64 `json:"loading_bp"`
}

type makeLoading struct {
	Make      string `json:"make"`
	LoadingBP int64  `json:"loading_bp"`
}

type addOnRate struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	RateBP   int64  `json:"rate_bp"`
	Flat     int64  `json:"flat"`
	Included bool   `json:"included"`
}

// DefaultTable parses the rate table embedded in the binary
// (ratetables/default.json). It returns an error matching ErrInvalidTable
// only if that file is broken, which the package tests rule out.
func DefaultTable() (*Table, error) {
	data, err := ratetables.ReadFile("ratetables/default.json")
	if err != nil {
		return nil, fmt.Errorf("rating: read embedded rate table: %w", err)
	}
	return parseTable(data)
}

// LoadTableFile reads and validates an operator's rate table from path; see
// LoadTable.
func LoadTableFile(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rating: open rate table: %w", err)
	}
	defer f.Close()
	t, err := LoadTable(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// LoadTable reads and validates a rate table (at most 1 MiB of JSON in the
// schema described in the package documentation). Unknown fields, unknown
// products, trailing data and every out-of-range value are rejected.
//
// A read failure is returned as is. Anything wrong with the content gives an
// error matching ErrInvalidTable that holds one *TableError per problem,
// each naming the insurer and the field's JSON path (see TableErrors).
func LoadTable(r io.Reader) (*Table, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxTableBytes+1))
	if err != nil {
		return nil, fmt.Errorf("rating: read rate table: %w", err)
	}
	if len(data) > maxTableBytes {
		return nil, &TableError{Message: fmt.Sprintf("is larger than %d bytes; split it or remove unused insurers", maxTableBytes)}
	}
	return parseTable(data)
}

// decodeStrict decodes exactly one JSON value from data into v, rejecting
// unknown fields and anything after the value.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// tableChecker collects every problem found in a table file.
type tableChecker struct {
	errs []*TableError
}

func (c *tableChecker) add(insurer, field, format string, args ...any) {
	c.errs = append(c.errs, &TableError{Insurer: insurer, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (c *tableChecker) addErr(insurer, field, msg string, err error) {
	c.errs = append(c.errs, &TableError{Insurer: insurer, Field: field, Message: msg + ": " + err.Error(), Err: err})
}

// intRange reports a value outside lo..hi, saying so specifically when it is
// negative.
func (c *tableChecker) intRange(ins, field string, v, lo, hi int64, unit string) {
	switch {
	case v < 0:
		c.add(ins, field, "must not be negative, got %d", v)
	case v < lo || v > hi:
		c.add(ins, field, "must be between %d and %d %s, got %d", lo, hi, unit, v)
	}
}

func (c *tableChecker) text(ins, field, v string) {
	switch {
	case strings.TrimSpace(v) == "":
		c.add(ins, field, "is required")
	case !utf8.ValidString(v):
		c.add(ins, field, "must be valid UTF-8 text")
	case utf8.RuneCountInString(v) > maxTextLen:
		c.add(ins, field, "must be at most %d characters", maxTextLen)
	}
}

func (c *tableChecker) code(ins, field, v string) {
	if !isCode(v) {
		c.add(ins, field, "must be 1 to %d characters of a-z, 0-9, '_' or '-', starting with a letter, got %q", maxCodeLen, v)
	}
}

func parseTable(data []byte) (*Table, error) {
	var f tableFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, &TableError{Message: "is not valid rate-table JSON: " + err.Error(), Err: err}
	}

	c := &tableChecker{}
	if strings.TrimSpace(f.Version) == "" || len(f.Version) > maxCodeLen*2 {
		c.add("", "version", "is required: a label of at most %d bytes, such as a date, recorded with every quote", maxCodeLen*2)
	}
	if !isCurrencyCode(f.Currency) {
		c.add("", "currency", "must be a three-letter ISO 4217 code such as %q, got %q", DefaultCurrency, f.Currency)
	}
	switch {
	case len(f.Insurers) == 0:
		c.add("", "insurers", "must list at least one insurer")
	case len(f.Insurers) > maxInsurers:
		c.add("", "insurers", "must list at most %d insurers, got %d", maxInsurers, len(f.Insurers))
	}

	t := &Table{version: f.Version, currency: f.Currency}
	seen := make(map[string]int)
	for i, raw := range f.Insurers {
		path := fmt.Sprintf("insurers[%d]", i)
		var inf insurerFile
		if isNull(raw) {
			c.add("", path, "must be an object, got null")
			continue
		}
		if err := decodeStrict(raw, &inf); err != nil {
			c.addErr("", path, "is not a valid insurer", err)
			continue
		}
		ins := inf.Code // empty when missing: the path still names the insurer by index
		c.code(ins, path+".code", inf.Code)
		if j, dup := seen[inf.Code]; dup && inf.Code != "" {
			c.add(ins, path+".code", "duplicates insurers[%d].code; every insurer needs its own code", j)
		} else {
			seen[inf.Code] = i
		}
		c.text(ins, path+".name", inf.Name)
		if len(inf.Products) == 0 {
			c.add(ins, path+".products", "must price at least one product: %q or %q", ProductMotor, ProductHealth)
		}
		in := insurer{code: inf.Code, name: inf.Name}
		for _, key := range slices.Sorted(maps.Keys(inf.Products)) {
			raw := inf.Products[key]
			ppath := path + ".products." + key
			if isNull(raw) {
				c.add(ins, ppath, "must be an object, got null; leave the product out if the insurer does not write it")
				continue
			}
			switch Product(key) {
			case ProductMotor:
				var m motorSection
				if err := decodeStrict(raw, &m); err != nil {
					c.addErr(ins, ppath, "is not a valid motor section", err)
					continue
				}
				in.makes = c.motor(ins, ppath, &m)
				in.motor = &m
			case ProductHealth:
				var h healthSection
				if err := decodeStrict(raw, &h); err != nil {
					c.addErr(ins, ppath, "is not a valid health section", err)
					continue
				}
				c.health(ins, ppath, &h)
				in.health = &h
			default:
				c.add(ins, ppath, "unknown product %q; use %q or %q", key, ProductMotor, ProductHealth)
			}
		}
		t.insurers = append(t.insurers, in)
	}

	if err := joinErrors(c.errs); err != nil {
		return nil, err
	}
	return t, nil
}

func (c *tableChecker) section(ins, path string, s *section) {
	c.text(ins, path+".coverage", s.Coverage)
	c.intRange(ins, path+".base_rate_bp", s.BaseRateBP, 1, maxRateBP, "basis points of the sum insured")
	c.intRange(ins, path+".max_sum_insured", s.MaxSumInsured, 1, MaxSumInsured, "minor units")
	c.intRange(ins, path+".min_premium", s.MinPremium, 1, MaxSumInsured, "minor units (so every priced quote costs something)")
	c.intRange(ins, path+".tax_bp", s.TaxBP, 0, maxRateBP, "basis points (GST of 18% is 1800)")
	if len(s.AddOns) > maxAddOns {
		c.add(ins, path+".add_ons", "must list at most %d add-ons, got %d", maxAddOns, len(s.AddOns))
	}
	seen := make(map[string]int)
	for i, a := range s.AddOns {
		apath := fmt.Sprintf("%s.add_ons[%d]", path, i)
		c.code(ins, apath+".code", a.Code)
		if j, dup := seen[a.Code]; dup {
			c.add(ins, apath+".code", "duplicates add_ons[%d].code", j)
		} else {
			seen[a.Code] = i
		}
		c.text(ins, apath+".name", a.Name)
		c.intRange(ins, apath+".rate_bp", a.RateBP, 0, maxRateBP, "basis points of the sum insured")
		c.intRange(ins, apath+".flat", a.Flat, 0, MaxSumInsured, "minor units")
		if (a.RateBP > 0) == (a.Flat > 0) {
			c.add(ins, apath, "must set exactly one of rate_bp and flat to a positive value")
		}
	}
}

// bands checks that bs is ordered, starts at 0, has no gaps or overlaps and
// reaches at least upTo, so every accepted age falls in exactly one band.
func (c *tableChecker) bands(ins, path string, bs []band, upTo int) {
	switch {
	case len(bs) == 0:
		c.add(ins, path, "must list at least one band, starting at min 0")
		return
	case len(bs) > maxBands:
		c.add(ins, path, "must list at most %d bands, got %d", maxBands, len(bs))
		return
	}
	for i, b := range bs {
		bpath := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case i == 0 && b.Min != 0:
			c.add(ins, bpath+".min", "must be 0 for the first band, got %d", b.Min)
		case i > 0 && b.Min != bs[i-1].Max+1:
			c.add(ins, bpath+".min", "must be %d, one more than the previous band's max, so bands neither overlap nor leave gaps; got %d", bs[i-1].Max+1, b.Min)
		}
		if b.Max < b.Min {
			c.add(ins, bpath+".max", "must not be less than min %d, got %d", b.Min, b.Max)
		}
		c.intRange(ins, bpath+".loading_bp", b.LoadingBP, 0, maxLoadingBP, "basis points")
	}
	if last := bs[len(bs)-1].Max; last < upTo {
		c.add(ins, fmt.Sprintf("%s[%d].max", path, len(bs)-1), "must be at least %d so that every accepted age has a band, got %d", upTo, last)
	}
}

func (c *tableChecker) motor(ins, path string, m *motorSection) map[string]int64 {
	c.section(ins, path, &m.section)
	c.intRange(ins, path+".max_vehicle_age", int64(m.MaxVehicleAge), 0, maxVehicleAge, "years")
	c.bands(ins, path+".vehicle_age_loadings", m.VehicleAgeLoadings, m.MaxVehicleAge)
	if len(m.MakeLoadings) > maxMakeLoadings {
		c.add(ins, path+".make_loadings", "must list at most %d makes, got %d", maxMakeLoadings, len(m.MakeLoadings))
	}
	makes := make(map[string]int64, len(m.MakeLoadings))
	seen := make(map[string]int)
	for i, ml := range m.MakeLoadings {
		mpath := fmt.Sprintf("%s.make_loadings[%d]", path, i)
		c.text(ins, mpath+".make", ml.Make)
		key := normalizeMake(ml.Make)
		if j, dup := seen[key]; dup && key != "" {
			c.add(ins, mpath+".make", "duplicates make_loadings[%d].make (makes are compared ignoring case and spacing)", j)
		} else {
			seen[key] = i
		}
		c.intRange(ins, mpath+".loading_bp", ml.LoadingBP, 0, maxLoadingBP, "basis points")
		makes[key] = ml.LoadingBP
	}
	return makes
}

func (c *tableChecker) health(ins, path string, h *healthSection) {
	c.section(ins, path, &h.section)
	c.intRange(ins, path+".max_entry_age", int64(h.MaxEntryAge), 0, MaxAge, "years")
	c.intRange(ins, path+".max_members", int64(h.MaxMembers), 1, MaxMembers, "people")
	c.intRange(ins, path+".member_loading_bp", h.MemberLoadingBP, 0, maxMemberBP, "basis points")
	c.bands(ins, path+".age_loadings", h.AgeLoadings, h.MaxEntryAge)
}

// normalizeMake folds case and runs of white space so that "Maruti  suzuki"
// matches "Maruti Suzuki".
func normalizeMake(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// isCode reports whether s is a lower-case identifier: a letter, then up to
// maxCodeLen-1 letters, digits, '_' or '-'.
func isCode(s string) bool {
	if len(s) == 0 || len(s) > maxCodeLen || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := range len(s) {
		ch := s[i]
		if (ch < 'a' || ch > 'z') && (ch < '0' || ch > '9') && ch != '_' && ch != '-' {
			return false
		}
	}
	return true
}

// Insurers returns the insurer codes in table order.
func (t *Table) Insurers() []string {
	codes := make([]string, len(t.insurers))
	for i, in := range t.insurers {
		codes[i] = in.code
	}
	return codes
}

// Currency returns the table's ISO 4217 currency code; every amount in the
// table and in its quotes is in this currency's minor unit.
func (t *Table) Currency() string { return t.currency }

// Version returns the table's version label, worth recording with a quote.
func (t *Table) Version() string { return t.version }
