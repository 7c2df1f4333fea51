package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	ttemplate "text/template"
	"time"
)

// Errors returned by Templates.
var (
	// ErrUnknownTemplate is returned for a template name that does not exist.
	ErrUnknownTemplate = errors.New("unknown template")
	// ErrTemplateData is returned when the data given to a template is not
	// its data type, or lacks a value the template needs.
	ErrTemplateData = errors.New("wrong template data")
)

//go:embed templates/*.tmpl
var embeddedTemplates embed.FS

// The three files of an email template, by suffix.
const (
	subjectSuffix = ".subject.tmpl"
	textSuffix    = ".txt.tmpl"
	htmlSuffix    = ".html.tmpl"
)

// Templates renders the email templates and maps data to WhatsApp template
// parameters. It is immutable after NewTemplates and safe for concurrent
// use.
type Templates struct {
	email    map[string]emailTemplate
	whatsapp map[string]whatsAppTemplate
}

type emailTemplate struct {
	typ     reflect.Type
	subject *ttemplate.Template
	text    *ttemplate.Template
	html    *htemplate.Template
}

type whatsAppTemplate struct {
	WhatsAppTemplate
	typ reflect.Type
}

// WhatsAppTemplate configures one WhatsApp template message: the name and
// language of the template approved at the provider, and which fields of
// the data fill its body variables, in order.
type WhatsAppTemplate struct {
	Name     string
	Language string
	// Params are field names of the template's data type (for "quotation",
	// of QuotationData). String, integer and time.Time fields are allowed.
	Params []string
}

// DefaultWhatsAppTemplates returns the WhatsApp templates used unless a
// WithWhatsAppTemplate option overrides them, keyed by insure's template
// name.
func DefaultWhatsAppTemplates() map[string]WhatsAppTemplate {
	return map[string]WhatsAppTemplate{
		"quotation": {
			Name: "insure_quotation", Language: "en",
			Params: []string{"CustomerName", "QuotationID", "Cheapest"},
		},
		"renewal_reminder": {
			Name: "insure_renewal_reminder", Language: "en",
			Params: []string{"CustomerName", "PolicyNumber", "EndDate", "DaysLeft"},
		},
		"policy_confirmation": {
			Name: "insure_policy_confirmation", Language: "en",
			Params: []string{"CustomerName", "PolicyNumber", "StartDate", "EndDate"},
		},
	}
}

// EmailTemplateNames returns the names of the email templates, sorted.
func EmailTemplateNames() []string { return sortedKeys(emailKinds()) }

// WhatsAppTemplateNames returns the names of the WhatsApp templates, sorted.
func WhatsAppTemplateNames() []string { return sortedKeys(whatsAppKinds()) }

// TemplateOption configures NewTemplates.
type TemplateOption func(*templateOptions)

type templateOptions struct {
	whatsapp []namedWhatsApp
}

type namedWhatsApp struct {
	name string
	tmpl WhatsAppTemplate
}

// WithWhatsAppTemplate overrides the configuration of the WhatsApp template
// name ("quotation", "renewal_reminder" or "policy_confirmation"). Fields
// left at their zero value keep the default: an empty Name or Language, and
// nil Params (a non-nil empty Params means the template has no variables).
// NewTemplates fails on an unknown name or an invalid configuration.
func WithWhatsAppTemplate(name string, t WhatsAppTemplate) TemplateOption {
	return func(o *templateOptions) {
		o.whatsapp = append(o.whatsapp, namedWhatsApp{name: name, tmpl: t})
	}
}

// NewTemplates loads the email templates embedded from internal/notify/
// templates and the WhatsApp template configuration. A file in overrideDir
// (when not empty) replaces the embedded file of the same name, for example
// welcome.html.tmpl; other .tmpl files there are an error (a misspelt
// override would otherwise be ignored), and files with other extensions are
// ignored.
//
// Each email template is three files: <name>.subject.tmpl and
// <name>.txt.tmpl (text/template) and <name>.html.tmpl (html/template). The
// data is the template's data type (WelcomeData for "welcome", and so on).
// Besides the standard functions, templates may call {{urgency .Urgency
// .DaysLeft}} (UrgencyWording) and {{expires .DaysLeft}} ("expires in 3
// days").
//
// Every template is parsed and then rendered once with sample data, so a
// syntax error or a reference to a field that does not exist fails here,
// with an error naming the file, rather than when a message is sent.
func NewTemplates(overrideDir string, opts ...TemplateOption) (*Templates, error) {
	var o templateOptions
	for _, opt := range opts {
		opt(&o)
	}
	sources, err := loadSources(overrideDir)
	if err != nil {
		return nil, err
	}
	t := &Templates{email: map[string]emailTemplate{}, whatsapp: map[string]whatsAppTemplate{}}
	kinds := emailKinds()
	for _, name := range EmailTemplateNames() {
		et, err := parseEmail(name, kinds[name], sources)
		if err != nil {
			return nil, err
		}
		t.email[name] = et
	}
	wa, err := whatsAppConfig(o.whatsapp)
	if err != nil {
		return nil, err
	}
	t.whatsapp = wa
	return t, nil
}

// RenderEmail renders the email template name with data, which must be the
// template's data type (a non-nil pointer to it is accepted too). The
// subject is a single trimmed line. It returns an error wrapping
// ErrUnknownTemplate for an unknown name and ErrTemplateData for data of the
// wrong type.
func (t *Templates) RenderEmail(name string, data any) (subject, text, html string, err error) {
	et, ok := t.email[name]
	if !ok {
		return "", "", "", fmt.Errorf("notify: email template %q: %w (known: %s)", name, ErrUnknownTemplate, strings.Join(EmailTemplateNames(), ", "))
	}
	v, err := dataValue("email template "+name, et.typ, data)
	if err != nil {
		return "", "", "", err
	}
	subject, text, html, err = et.render(v.Interface())
	if err != nil {
		return "", "", "", fmt.Errorf("notify: render email template %s: %w", name, err)
	}
	return subject, text, html, nil
}

// WhatsAppParams returns the provider template name, language and body
// parameters for the WhatsApp template name with data, which must be the
// template's data type (a non-nil pointer to it is accepted too). Integers
// are written in decimal and times as "2 Jan 2006". It returns an error
// wrapping ErrUnknownTemplate for an unknown name and ErrTemplateData for
// data of the wrong type or a parameter field that is empty.
func (t *Templates) WhatsAppParams(name string, data any) (template, language string, params []string, err error) {
	wt, ok := t.whatsapp[name]
	if !ok {
		return "", "", nil, fmt.Errorf("notify: whatsapp template %q: %w (known: %s)", name, ErrUnknownTemplate, strings.Join(WhatsAppTemplateNames(), ", "))
	}
	v, err := dataValue("whatsapp template "+name, wt.typ, data)
	if err != nil {
		return "", "", nil, err
	}
	params = make([]string, len(wt.Params))
	for i, field := range wt.Params {
		s := formatField(v.FieldByName(field))
		if strings.TrimSpace(s) == "" {
			return "", "", nil, fmt.Errorf("notify: whatsapp template %s: parameter %d (%s) is empty: %w", name, i+1, field, ErrTemplateData)
		}
		params[i] = s
	}
	return wt.Name, wt.Language, params, nil
}

func (et emailTemplate) render(data any) (subject, text, html string, err error) {
	var b bytes.Buffer
	if err := et.subject.Execute(&b, data); err != nil {
		return "", "", "", &partError{et.subject.Name(), err}
	}
	subject = strings.TrimSpace(b.String())
	if strings.ContainsAny(subject, "\r\n") {
		return "", "", "", &partError{et.subject.Name(), errors.New("renders a subject of more than one line")}
	}
	b.Reset()
	if err := et.text.Execute(&b, data); err != nil {
		return "", "", "", &partError{et.text.Name(), err}
	}
	text = strings.TrimSpace(b.String()) + "\n"
	b.Reset()
	if err := et.html.Execute(&b, data); err != nil {
		return "", "", "", &partError{et.html.Name(), err}
	}
	html = b.String()
	for _, part := range []struct{ file, s string }{
		{et.subject.Name(), subject}, {et.text.Name(), text}, {et.html.Name(), html},
	} {
		if strings.TrimSpace(part.s) == "" {
			return "", "", "", &partError{part.file, errors.New("renders nothing")}
		}
	}
	return subject, text, html, nil
}

// partError is a failure to render one file of an email template.
type partError struct {
	file string
	err  error
}

func (e *partError) Error() string { return e.file + ": " + e.err.Error() }
func (e *partError) Unwrap() error { return e.err }

// source is one template file's text and where it came from.
type source struct {
	origin string // the override's path, or "templates/<file> (embedded)"
	text   string
}

// loadSources reads every embedded template file and replaces those that
// overrideDir has.
func loadSources(overrideDir string) (map[string]source, error) {
	sources := map[string]source{}
	for name := range emailKinds() {
		for _, suffix := range []string{subjectSuffix, textSuffix, htmlSuffix} {
			file := name + suffix
			b, err := fs.ReadFile(embeddedTemplates, "templates/"+file)
			if err != nil {
				return nil, fmt.Errorf("notify: embedded template %s is missing: %w", file, err)
			}
			sources[file] = source{origin: "templates/" + file + " (embedded)", text: string(b)}
		}
	}
	if overrideDir == "" {
		return sources, nil
	}
	entries, err := os.ReadDir(overrideDir)
	if err != nil {
		return nil, fmt.Errorf("notify: template override directory: %w", err)
	}
	for _, e := range entries {
		file := e.Name()
		if !strings.HasSuffix(file, ".tmpl") {
			continue
		}
		path := filepath.Join(overrideDir, file)
		if e.IsDir() {
			return nil, fmt.Errorf("notify: template override %s is a directory, not a file", path)
		}
		if _, ok := sources[file]; !ok {
			return nil, fmt.Errorf("notify: template override %s does not replace any template: name it <template>%s, %s or %s, where <template> is one of %s",
				path, subjectSuffix, textSuffix, htmlSuffix, strings.Join(EmailTemplateNames(), ", "))
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("notify: template override: %w", err)
		}
		sources[file] = source{origin: path, text: string(b)}
	}
	return sources, nil
}

func parseEmail(name string, kind dataKind, sources map[string]source) (emailTemplate, error) {
	et := emailTemplate{typ: kind.typ}
	tfuncs := ttemplate.FuncMap{"urgency": UrgencyWording, "expires": expiryWording}
	hfuncs := htemplate.FuncMap{"urgency": UrgencyWording, "expires": expiryWording}
	var err error
	src := sources[name+subjectSuffix]
	if et.subject, err = ttemplate.New(name + subjectSuffix).Funcs(tfuncs).Parse(src.text); err != nil {
		return et, fmt.Errorf("notify: template file %s: %w", src.origin, err)
	}
	src = sources[name+textSuffix]
	if et.text, err = ttemplate.New(name + textSuffix).Funcs(tfuncs).Parse(src.text); err != nil {
		return et, fmt.Errorf("notify: template file %s: %w", src.origin, err)
	}
	src = sources[name+htmlSuffix]
	if et.html, err = htemplate.New(name + htmlSuffix).Funcs(hfuncs).Parse(src.text); err != nil {
		return et, fmt.Errorf("notify: template file %s: %w", src.origin, err)
	}
	if _, _, _, err := et.render(kind.sample); err != nil {
		var pe *partError
		if errors.As(err, &pe) {
			return et, fmt.Errorf("notify: template file %s does not render with sample %s data: %w", sources[pe.file].origin, kind.typ, pe.err)
		}
		return et, fmt.Errorf("notify: email template %s does not render with sample %s data: %w", name, kind.typ, err)
	}
	return et, nil
}

// whatsAppConfig merges the overrides into the defaults and checks the
// result against the data types.
func whatsAppConfig(overrides []namedWhatsApp) (map[string]whatsAppTemplate, error) {
	cfg := DefaultWhatsAppTemplates()
	for _, o := range overrides {
		cur, ok := cfg[o.name]
		if !ok {
			return nil, fmt.Errorf("notify: whatsapp template %q: %w (known: %s)", o.name, ErrUnknownTemplate, strings.Join(WhatsAppTemplateNames(), ", "))
		}
		if o.tmpl.Name != "" {
			cur.Name = o.tmpl.Name
		}
		if o.tmpl.Language != "" {
			cur.Language = o.tmpl.Language
		}
		if o.tmpl.Params != nil {
			cur.Params = slices.Clone(o.tmpl.Params)
		}
		cfg[o.name] = cur
	}
	out := map[string]whatsAppTemplate{}
	kinds := whatsAppKinds()
	for _, name := range WhatsAppTemplateNames() {
		kind, wt := kinds[name], cfg[name]
		var p problems
		if !isTemplateName(wt.Name) {
			p.add(fmt.Sprintf("name %q: use 1 to 512 lowercase letters, digits and underscores", wt.Name))
		}
		if !isLanguage(wt.Language) {
			p.add(fmt.Sprintf("language %q: use a code such as en or en_US", wt.Language))
		}
		for _, field := range wt.Params {
			if msg := checkParamField(kind.typ, field); msg != "" {
				p.add(msg)
			}
		}
		if len(p) > 0 {
			return nil, fmt.Errorf("notify: whatsapp template %s: %s", name, strings.Join(p, "; "))
		}
		out[name] = whatsAppTemplate{WhatsAppTemplate: wt, typ: kind.typ}
	}
	return out, nil
}

func checkParamField(typ reflect.Type, field string) string {
	f, ok := typ.FieldByName(field)
	if !ok || !f.IsExported() || len(f.Index) != 1 {
		return fmt.Sprintf("parameter %q is not a field of %s", field, typ)
	}
	switch f.Type.Kind() {
	case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return ""
	}
	if f.Type == reflect.TypeFor[time.Time]() {
		return ""
	}
	return fmt.Sprintf("parameter %q is a %s field: use a string, integer or time field", field, f.Type)
}

func formatField(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	}
	if t, ok := v.Interface().(time.Time); ok {
		if t.IsZero() {
			return ""
		}
		return t.Format("2 Jan 2006")
	}
	return ""
}

// dataValue returns data as a value of typ, dereferencing a pointer.
func dataValue(what string, typ reflect.Type, data any) (reflect.Value, error) {
	v := reflect.ValueOf(data)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if !v.IsValid() || v.Type() != typ {
		return reflect.Value{}, fmt.Errorf("notify: %s needs %s data, got %T: %w", what, typ, data, ErrTemplateData)
	}
	return v, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
