package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// WhatsAppTemplate is one entry of WHATSAPP_TEMPLATES: the WhatsApp template
// approved at the provider that one of insure's messages is sent with.
type WhatsAppTemplate struct {
	// Name is the template's name at the provider: 1 to 512 lower-case
	// letters, digits and underscores.
	Name string `json:"name"`
	// Language is the template's language code, such as "en" or "en_US".
	Language string `json:"language"`
	// Params name the fields of the message's data that fill the
	// template's body variables, in order: at most 20, none empty. nil (the
	// key left out) keeps the built-in parameters; empty means the template
	// has no variables.
	Params []string `json:"params,omitzero"`
}

// whatsAppTemplateNames are insure's WhatsApp messages, the keys
// WHATSAPP_TEMPLATES accepts, in the order they are checked.
func whatsAppTemplateNames() []string {
	return []string{"quotation", "renewal_reminder", "policy_confirmation"}
}

// maxWhatsAppParams is the most parameters one template may take.
const maxWhatsAppParams = 20

// whatsAppTemplatesExpected describes a valid WHATSAPP_TEMPLATES.
const whatsAppTemplatesExpected = `empty, or a JSON object whose keys are among quotation, renewal_reminder and ` +
	`policy_confirmation, each {"name": …, "language": …, "params": […]} with name 1 to 512 lower-case letters, ` +
	`digits and underscores, language a code such as en or en_US, and params at most 20 non-empty data field names ` +
	`(e.g. {"quotation": {"name": "insure_quotation", "language": "en", "params": ["CustomerName", "QuotationID"]}})`

// parseWhatsAppTemplates decodes a WHATSAPP_TEMPLATES value strictly: one
// JSON object, no key twice, no unknown field in a template, nothing after
// it. Empty is the empty map. It returns the map, or what was expected
// instead; checkWhatsAppTemplates checks the contents.
func parseWhatsAppTemplates(s string) (map[string]WhatsAppTemplate, string) {
	m := make(map[string]WhatsAppTemplate)
	if s == "" {
		return m, ""
	}
	fail := func(detail string) (map[string]WhatsAppTemplate, string) {
		return nil, whatsAppTemplatesExpected + "; " + detail
	}
	dec := json.NewDecoder(strings.NewReader(s))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fail("the value is not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail("invalid JSON: " + jsonProblem(err))
		}
		key, ok := tok.(string)
		if !ok {
			return fail("invalid JSON: object keys are strings")
		}
		if _, dup := m[key]; dup {
			return fail(fmt.Sprintf("%q is given twice", key))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fail("invalid JSON: " + jsonProblem(err))
		}
		var t WhatsAppTemplate
		tdec := json.NewDecoder(bytes.NewReader(raw))
		tdec.DisallowUnknownFields()
		if err := tdec.Decode(&t); err != nil {
			return fail(key + ": " + jsonProblem(err))
		}
		m[key] = t
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return fail("invalid JSON: the object is not closed")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fail("unexpected data after the JSON object")
	}
	return m, ""
}

// jsonProblem says what is wrong in a JSON decoding error, without the
// Go type names.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		switch typeErr.Field {
		case "":
			return "expected an object, got " + typeErr.Value
		case "params":
			return "params must be an array of strings, got " + typeErr.Value
		}
		return fmt.Sprintf("%s must be a string, got %s", typeErr.Field, typeErr.Value)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the value ends too early"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// checkWhatsAppTemplates returns "" if every key of m is a template name
// and every template valid, else what was expected instead.
func checkWhatsAppTemplates(m map[string]WhatsAppTemplate) string {
	names := whatsAppTemplateNames()
	for _, key := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(names, key) {
			return fmt.Sprintf("%s; %q is not a template (known: %s)", whatsAppTemplatesExpected, key, strings.Join(names, ", "))
		}
	}
	for _, name := range names {
		t, ok := m[name]
		if !ok {
			continue
		}
		if problem := checkWhatsAppTemplate(t); problem != "" {
			return fmt.Sprintf("%s; %s: %s", whatsAppTemplatesExpected, name, problem)
		}
	}
	return ""
}

// checkWhatsAppTemplate returns "" if t is valid, else its first problem.
func checkWhatsAppTemplate(t WhatsAppTemplate) string {
	switch {
	case !isWhatsAppTemplateName(t.Name):
		return fmt.Sprintf("name %q is not 1 to 512 lower-case letters, digits and underscores", t.Name)
	case !isLanguageCode(t.Language):
		return fmt.Sprintf("language %q is not a code such as en or en_US", t.Language)
	case len(t.Params) > maxWhatsAppParams:
		return fmt.Sprintf("%d params, more than %d", len(t.Params), maxWhatsAppParams)
	}
	for i, p := range t.Params {
		if strings.TrimSpace(p) == "" {
			return fmt.Sprintf("params[%d] is empty", i)
		}
	}
	return ""
}

// formatWhatsAppTemplates spells m as WHATSAPP_TEMPLATES accepts it: empty
// for no overrides, else JSON with sorted keys.
func formatWhatsAppTemplates(m map[string]WhatsAppTemplate) string {
	if len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil { // unreachable: strings and string slices always marshal
		return fmt.Sprintf("%v", m)
	}
	return string(b)
}

// isWhatsAppTemplateName reports whether s matches ^[a-z0-9_]{1,512}$.
func isWhatsAppTemplateName(s string) bool {
	return s != "" && len(s) <= 512 && allBytes(s, func(b byte) bool {
		return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '_'
	})
}

// isLanguageCode reports whether s is a language code such as en, fil or
// en_US: 2 or 3 lower-case letters, optionally "_" and 2 upper-case ones.
func isLanguageCode(s string) bool {
	lang, region, hasRegion := strings.Cut(s, "_")
	lower := func(b byte) bool { return 'a' <= b && b <= 'z' }
	upper := func(b byte) bool { return 'A' <= b && b <= 'Z' }
	if len(lang) < 2 || len(lang) > 3 || !allBytes(lang, lower) {
		return false
	}
	return !hasRegion || len(region) == 2 && allBytes(region, upper)
}

// Texts of the WhatsApp Cloud API variables.
const (
	whatsAppAPIVersionExpected = "a Graph API version: v, digits, a dot and digits (e.g. v21.0)"
	phoneNumberIDExpected      = "the Cloud API phone number ID, 1 to 32 digits (not the phone number itself), or empty"
	whatsAppTokenExpected      = "a Cloud API access token of at most 1024 printable ASCII characters without spaces, or empty"
	// The WhatsApp webhook's secrets.
	whatsAppAppSecretExpected   = "the Meta app secret of at most 1024 printable ASCII characters without spaces, or empty"
	whatsAppVerifyTokenExpected = "a webhook verify token of at most 1024 printable ASCII characters without spaces, or empty"
	maxSecretLen                = 1024
)

// isAPIVersion reports whether s matches ^v[0-9]+\.[0-9]+$.
func isAPIVersion(s string) bool {
	major, minor, ok := strings.Cut(strings.TrimPrefix(s, "v"), ".")
	return strings.HasPrefix(s, "v") && ok && isDigits(major) && isDigits(minor)
}

// checkSecret returns "" if s is a usable secret (a token or key of at most
// maxSecretLen printable ASCII characters without spaces) or empty, else
// expected with the reason. The text never quotes s.
func checkSecret(s, expected string) string {
	if len(s) > maxSecretLen {
		return fmt.Sprintf("%s; it is %d characters long", expected, len(s))
	}
	if !allBytes(s, func(b byte) bool { return '!' <= b && b <= '~' }) {
		return expected + "; it holds a space or a character that is not printable ASCII"
	}
	return ""
}

// redactSecret hides a secret value entirely: "(set)", or "" when it is
// empty, so that a default stays valid when fed back.
func redactSecret(s string) string {
	if s == "" {
		return ""
	}
	return "(set)"
}

func allBytes(s string, ok func(byte) bool) bool {
	for i := range len(s) {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}
