package document

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// parsedPDF is what a real PDF reader finds in a rendered document.
type parsedPDF struct {
	pages int
	// runs holds the text of each page, one entry per text object (BT..ET),
	// decoded to Unicode through the fonts' ToUnicode maps.
	runs [][]string
}

// text returns all the text of the document, one run per line.
func (p parsedPDF) text() string {
	var b strings.Builder
	for _, page := range p.runs {
		for _, r := range page {
			b.WriteString(r)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// parsePDF validates data with pdfcpu in strict mode and extracts its text.
// pdfcpu has no text extractor, so this decodes the page content streams
// itself: it follows each page's font resources to their ToUnicode CMaps and
// maps the glyph ids shown by Tj/TJ back to characters. That is what a PDF
// viewer's copy-and-paste or a search does.
func parsePDF(t *testing.T, data []byte) parsedPDF {
	t.Helper()
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationStrict
	if err := api.Validate(bytes.NewReader(data), conf); err != nil {
		t.Fatalf("pdfcpu strict validation: %v", err)
	}

	conf = model.NewDefaultConfiguration()
	ctx, err := api.ReadAndValidate(bytes.NewReader(data), conf)
	if err != nil {
		t.Fatalf("pdfcpu read: %v", err)
	}
	out := parsedPDF{pages: ctx.PageCount}
	for pageNr := 1; pageNr <= ctx.PageCount; pageNr++ {
		d, _, inh, err := ctx.PageDict(pageNr, false)
		if err != nil {
			t.Fatalf("page %d: %v", pageNr, err)
		}
		content, err := ctx.PageContent(d, pageNr)
		if err != nil {
			t.Fatalf("page %d content: %v", pageNr, err)
		}
		res := inh.Resources
		if res == nil {
			if res, err = ctx.DereferenceDict(d["Resources"]); err != nil {
				t.Fatalf("page %d resources: %v", pageNr, err)
			}
		}
		fonts, err := fontMaps(ctx, res)
		if err != nil {
			t.Fatalf("page %d fonts: %v", pageNr, err)
		}
		runs, err := decodeContent(content, fonts)
		if err != nil {
			t.Fatalf("page %d: %v", pageNr, err)
		}
		out.runs = append(out.runs, runs)
	}
	return out
}

// fontMaps returns, per font resource name, the map from 2-byte character
// code to text given by the font's ToUnicode CMap.
func fontMaps(ctx *model.Context, res types.Dict) (map[string]map[uint16]string, error) {
	fontRes, err := ctx.DereferenceDict(res["Font"])
	if err != nil {
		return nil, fmt.Errorf("font resources: %w", err)
	}
	maps := map[string]map[uint16]string{}
	for name, ref := range fontRes {
		fd, err := ctx.DereferenceDict(ref)
		if err != nil {
			return nil, fmt.Errorf("font %s: %w", name, err)
		}
		sd, _, err := ctx.DereferenceStreamDict(fd["ToUnicode"])
		if err != nil || sd == nil {
			return nil, fmt.Errorf("font %s has no ToUnicode map: %v", name, err)
		}
		if err := sd.Decode(); err != nil {
			return nil, fmt.Errorf("font %s ToUnicode: %w", name, err)
		}
		m, err := parseToUnicode(sd.Content)
		if err != nil {
			return nil, fmt.Errorf("font %s ToUnicode: %w", name, err)
		}
		maps[name] = m
	}
	return maps, nil
}

var (
	bfrangeSection = regexp.MustCompile(`(?s)beginbfrange(.*?)endbfrange`)
	bfcharSection  = regexp.MustCompile(`(?s)beginbfchar(.*?)endbfchar`)
	bfrangeEntry   = regexp.MustCompile(`<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>`)
	bfcharEntry    = regexp.MustCompile(`<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>`)
)

func parseToUnicode(cmap []byte) (map[uint16]string, error) {
	m := map[uint16]string{}
	for _, sec := range bfrangeSection.FindAllSubmatch(cmap, -1) {
		for _, e := range bfrangeEntry.FindAllSubmatch(sec[1], -1) {
			lo, hi, dst := hexUint(e[1]), hexUint(e[2]), hexUTF16(e[3])
			if len(dst) == 0 || hi < lo {
				return nil, fmt.Errorf("bad bfrange entry %s", e[0])
			}
			for c := lo; c <= hi; c++ {
				r := append([]rune(nil), dst...)
				r[len(r)-1] += rune(c - lo)
				m[uint16(c)] = string(r)
			}
		}
	}
	for _, sec := range bfcharSection.FindAllSubmatch(cmap, -1) {
		for _, e := range bfcharEntry.FindAllSubmatch(sec[1], -1) {
			m[uint16(hexUint(e[1]))] = string(hexUTF16(e[2]))
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("no mappings in CMap")
	}
	return m, nil
}

func hexUint(b []byte) uint32 {
	var v uint32
	for _, c := range b {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= uint32(c - '0')
		case c >= 'a' && c <= 'f':
			v |= uint32(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v |= uint32(c - 'A' + 10)
		}
	}
	return v
}

func hexUTF16(b []byte) []rune {
	raw, err := hex.DecodeString(string(b))
	if err != nil || len(raw)%2 != 0 {
		return nil
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
	}
	return utf16.Decode(u)
}

// decodeContent tokenises a content stream and returns the text of each
// text object. Only what the renderer emits needs handling: names, numbers,
// hex strings, arrays and operators.
func decodeContent(content []byte, fonts map[string]map[uint16]string) ([]string, error) {
	var (
		runs     []string
		cur      strings.Builder
		font     map[uint16]string
		operands []string
		inArray  bool
		array    []string
	)
	show := func(hexStr string) error {
		if font == nil {
			return fmt.Errorf("text shown before a font was selected")
		}
		raw, err := hex.DecodeString(hexStr)
		if err != nil {
			return fmt.Errorf("bad hex string: %w", err)
		}
		for i := 0; i+1 < len(raw); i += 2 {
			code := uint16(raw[i])<<8 | uint16(raw[i+1])
			s, ok := font[code]
			if !ok {
				return fmt.Errorf("glyph %04X has no ToUnicode mapping", code)
			}
			cur.WriteString(s)
		}
		return nil
	}
	i := 0
	for i < len(content) {
		c := content[i]
		switch {
		case c == ' ' || c == '\n' || c == '\r' || c == '\t':
			i++
		case c == '<':
			end := bytes.IndexByte(content[i:], '>')
			if end < 0 {
				return nil, fmt.Errorf("unterminated hex string")
			}
			tok := "<" + string(content[i+1:i+end])
			if inArray {
				array = append(array, tok)
			} else {
				operands = append(operands, tok)
			}
			i += end + 1
		case c == '[':
			inArray, array = true, nil
			i++
		case c == ']':
			inArray = false
			operands = append(operands, "[")
			i++
		default:
			j := i + 1
			for j < len(content) && !strings.ContainsRune(" \n\r\t<[]/", rune(content[j])) {
				j++
			}
			tok := string(content[i:j])
			i = j
			if inArray {
				array = append(array, tok)
				continue
			}
			if tok[0] == '/' || tok[0] == '-' || tok[0] == '.' || (tok[0] >= '0' && tok[0] <= '9') {
				operands = append(operands, tok)
				continue
			}
			switch tok {
			case "Tf":
				if len(operands) < 2 {
					return nil, fmt.Errorf("Tf without operands")
				}
				name := strings.TrimPrefix(operands[len(operands)-2], "/")
				font = fonts[name]
				if font == nil {
					return nil, fmt.Errorf("unknown font resource %s", name)
				}
			case "Tj":
				if len(operands) > 0 && strings.HasPrefix(operands[len(operands)-1], "<") {
					if err := show(operands[len(operands)-1][1:]); err != nil {
						return nil, err
					}
				}
			case "TJ":
				for _, el := range array {
					if strings.HasPrefix(el, "<") {
						if err := show(el[1:]); err != nil {
							return nil, err
						}
					}
				}
			case "ET":
				runs = append(runs, cur.String())
				cur.Reset()
			}
			operands = operands[:0]
		}
	}
	return runs, nil
}
