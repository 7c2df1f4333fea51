package notify_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/notify"
)

func setup(t *testing.T, overrideDir string, opts ...notify.TemplateOption) *notify.Templates {
	t.Helper()
	tmpl, err := notify.NewTemplates(overrideDir, opts...)
	if err != nil {
		t.Fatalf("NewTemplates: %v", err)
	}
	return tmpl
}

const evilName = `<script>alert("x")</script> Rao`

func quotationData() notify.QuotationData {
	return notify.QuotationData{
		CustomerName: evilName,
		QuotationID:  "Q-2026-0042",
		Product:      "Motor",
		SumInsured:   "INR 6,50,000.00",
		Quotes: []notify.QuoteLine{
			{InsurerName: "Acme General", Premium: "INR 8,500.00"},
			{InsurerName: "Beta Insurance", Premium: "INR 9,120.00"},
			{InsurerName: "Gamma Assurance", Declined: true, DeclineReason: "vehicle older than 15 years"},
		},
		Cheapest: "Acme General — INR 8,500.00",
	}
}

func TestEmailTemplateNames(t *testing.T) {
	t.Parallel()
	want := []string{"admin_registration", "policy_confirmation", "quotation", "renewal_reminder", "welcome"}
	if diff := cmp.Diff(want, notify.EmailTemplateNames()); diff != "" {
		t.Errorf("EmailTemplateNames (-want +got):\n%s", diff)
	}
	want = []string{"policy_confirmation", "quotation", "renewal_reminder"}
	if diff := cmp.Diff(want, notify.WhatsAppTemplateNames()); diff != "" {
		t.Errorf("WhatsAppTemplateNames (-want +got):\n%s", diff)
	}
}

func TestRenderEmail(t *testing.T) {
	t.Parallel()
	tmpl := setup(t, "")
	tests := []struct {
		name     string
		data     any
		subject  []string // parts the subject must contain
		contains []string // parts both bodies must contain
		text     []string // parts only the text body must contain
	}{
		{
			name:     "welcome",
			data:     notify.WelcomeData{CustomerName: evilName, VerifyURL: "https://insure.example/verify?token=abc123", Token: "abc123"},
			subject:  []string{"Welcome", "verify"},
			contains: []string{"https://insure.example/verify?token=abc123", "abc123", "token"},
		},
		{
			name: "admin_registration",
			data: notify.AdminRegistrationData{
				CustomerID: "0192f5e4-0000-7000-8000-0000000000c1", CustomerName: evilName,
				CustomerEmail: "asha@example.com", Channel: "whatsapp",
				RegisteredAt: time.Date(2026, 3, 4, 10, 30, 0, 0, time.FixedZone("IST", 19800)),
			},
			subject:  []string{"New customer", "whatsapp"},
			contains: []string{"0192f5e4-0000-7000-8000-0000000000c1", "asha@example.com", "whatsapp", "2026-03-04 05:00:00 UTC"},
		},
		{
			name:     "quotation",
			data:     quotationData(),
			subject:  []string{"Q-2026-0042", "Motor"},
			contains: []string{"Q-2026-0042", "INR 6,50,000.00", "Acme General", "INR 8,500.00", "Beta Insurance", "INR 9,120.00", "Gamma Assurance", "vehicle older than 15 years", "Acme General — INR 8,500.00", "attached as a PDF"},
			text:     []string{"- Gamma Assurance: declined (vehicle older than 15 years)"},
		},
		{
			name: "renewal_reminder",
			data: notify.RenewalReminderData{
				CustomerName: evilName, PolicyNumber: "POL-77", Insurer: "Acme General",
				EndDate: "31 Dec 2026", DaysLeft: 1, Urgency: notify.UrgencyCritical,
			},
			subject:  []string{"Action needed", "POL-77", "expires tomorrow"},
			contains: []string{"POL-77", "Acme General", "31 Dec 2026", "expires tomorrow — renew now to stay covered"},
		},
		{
			name: "policy_confirmation",
			data: &notify.PolicyConfirmationData{ // a pointer is accepted too
				CustomerName: evilName, PolicyNumber: "POL-77", Insurer: "Acme General", Product: "Motor",
				Premium: "INR 8,500.00", SumInsured: "INR 6,50,000.00", StartDate: "1 Jan 2026", EndDate: "31 Dec 2026",
			},
			subject:  []string{"POL-77", "confirmed"},
			contains: []string{"POL-77", "Acme General", "Motor", "INR 8,500.00", "INR 6,50,000.00", "1 Jan 2026", "31 Dec 2026", "policy schedule is attached as a PDF"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			subject, text, html, err := tmpl.RenderEmail(tt.name, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.subject {
				if !strings.Contains(subject, want) {
					t.Errorf("subject %q does not contain %q", subject, want)
				}
			}
			for _, want := range append(tt.contains, tt.text...) {
				if !strings.Contains(text, want) {
					t.Errorf("text does not contain %q:\n%s", want, text)
				}
			}
			for _, want := range tt.contains {
				if !strings.Contains(html, want) {
					t.Errorf("html does not contain %q:\n%s", want, html)
				}
			}
			if !strings.Contains(text, evilName) {
				t.Errorf("text does not contain the customer name as given:\n%s", text)
			}
			if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") {
				t.Errorf("html does not escape the customer name:\n%s", html)
			}
			if !strings.HasPrefix(html, "<!DOCTYPE html>") || !strings.Contains(html, "</html>") {
				t.Errorf("html is not a whole document:\n%s", html)
			}
			// What a template renders is a valid email.
			e := notify.Email{MessageID: msgID, From: "noreply@insure.example", To: "asha@example.com", Subject: subject, Text: text, HTML: html}
			if err := e.Validate(); err != nil {
				t.Errorf("rendered email does not validate: %v", err)
			}
		})
	}
}

func TestRenderRenewalReminderByUrgency(t *testing.T) {
	t.Parallel()
	tmpl := setup(t, "")
	tests := []struct {
		urgency string
		days    int
		subject string
		body    string
	}{
		{notify.UrgencyCritical, 0, "Action needed: your Acme policy P-1 expires today", "expires today — renew now to stay covered"},
		{notify.UrgencyHigh, 7, "Your Acme policy P-1 expires in 7 days", "expires in 7 days — please renew soon"},
		{notify.UrgencyMedium, 15, "Your Acme policy P-1 expires in 15 days", "now is a good time to review and renew"},
		{notify.UrgencyLow, 30, "Your Acme policy P-1 expires in 30 days", "comes up for renewal in 30 days — there is no rush"},
	}
	for _, tt := range tests {
		d := notify.RenewalReminderData{CustomerName: "Asha", PolicyNumber: "P-1", Insurer: "Acme", EndDate: "31 Dec 2026", DaysLeft: tt.days, Urgency: tt.urgency}
		subject, text, html, err := tmpl.RenderEmail("renewal_reminder", d)
		if err != nil {
			t.Fatalf("%s: %v", tt.urgency, err)
		}
		if subject != tt.subject {
			t.Errorf("%s: subject = %q, want %q", tt.urgency, subject, tt.subject)
		}
		if !strings.Contains(text, tt.body) || !strings.Contains(html, tt.body) {
			t.Errorf("%s: bodies do not contain %q:\n%s\n%s", tt.urgency, tt.body, text, html)
		}
	}
}

func TestUrgencyWording(t *testing.T) {
	t.Parallel()
	tests := []struct {
		urgency string
		days    int
		want    string
	}{
		{notify.UrgencyCritical, 0, "expires today — renew now to stay covered"},
		{notify.UrgencyCritical, 1, "expires tomorrow — renew now to stay covered"},
		{notify.UrgencyCritical, 2, "expires in 2 days — renew now to stay covered"},
		{notify.UrgencyHigh, 7, "expires in 7 days — please renew soon to avoid a gap in cover"},
		{notify.UrgencyHigh, 1, "expires tomorrow — please renew soon to avoid a gap in cover"},
		{notify.UrgencyMedium, 15, "expires in 15 days — now is a good time to review and renew"},
		{notify.UrgencyLow, 30, "comes up for renewal in 30 days — there is no rush, and you can renew early whenever it suits you"},
		{notify.UrgencyLow, 1, "comes up for renewal tomorrow — there is no rush, and you can renew early whenever it suits you"},
		{notify.UrgencyCritical, -1, "expired 1 day ago — renew now to restore your cover"},
		{notify.UrgencyLow, -3, "expired 3 days ago — renew now to restore your cover"},
		{"", 5, "expires in 5 days"},
		{"urgent", 0, "expires today"},
	}
	for _, tt := range tests {
		if got := notify.UrgencyWording(tt.urgency, tt.days); got != tt.want {
			t.Errorf("UrgencyWording(%q, %d) = %q, want %q", tt.urgency, tt.days, got, tt.want)
		}
	}
}

func TestRenderEmailErrors(t *testing.T) {
	t.Parallel()
	tmpl := setup(t, "")
	tests := []struct {
		name string
		data any
		want error
	}{
		{"no_such_template", notify.WelcomeData{}, notify.ErrUnknownTemplate},
		{"welcome", notify.QuotationData{}, notify.ErrTemplateData},
		{"welcome", nil, notify.ErrTemplateData},
		{"welcome", (*notify.WelcomeData)(nil), notify.ErrTemplateData},
		{"welcome", map[string]string{"CustomerName": "x"}, notify.ErrTemplateData},
		{"quotation", notify.RenewalReminderData{}, notify.ErrTemplateData},
	}
	for _, tt := range tests {
		_, _, _, err := tmpl.RenderEmail(tt.name, tt.data)
		if !errors.Is(err, tt.want) {
			t.Errorf("RenderEmail(%q, %T) = %v, want %v", tt.name, tt.data, err, tt.want)
		}
	}
	_, _, _, err := tmpl.RenderEmail("welcome", notify.QuotationData{})
	if want := "needs notify.WelcomeData data, got notify.QuotationData"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v does not say %q", err, want)
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOverrideReplacesTemplate(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"welcome.subject.tmpl": "Hi {{.CustomerName}}, one click left\n",
		"welcome.html.tmpl":    "<!DOCTYPE html><html><body><p>Custom {{.CustomerName}}: <a href=\"{{.VerifyURL}}\">verify</a></p></body></html>",
		"README.md":            "files without .tmpl are ignored",
	})
	tmpl := setup(t, dir)
	subject, text, html, err := tmpl.RenderEmail("welcome", notify.WelcomeData{CustomerName: "Asha <b>", VerifyURL: "https://x.example/v", Token: "tok-1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Hi Asha <b>, one click left"; subject != want {
		t.Errorf("subject = %q, want %q", subject, want)
	}
	if want := `<p>Custom Asha &lt;b&gt;: <a href="https://x.example/v">verify</a></p>`; !strings.Contains(html, want) {
		t.Errorf("html = %q, want it to contain %q", html, want)
	}
	if !strings.Contains(text, "tok-1") || !strings.Contains(text, "Welcome to Insure") {
		t.Errorf("text is not the embedded template:\n%s", text)
	}
}

func TestOverrideErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  []string // parts of the error message
	}{
		{"syntax error", map[string]string{"welcome.html.tmpl": "<p>{{.CustomerName</p>"}, []string{"welcome.html.tmpl"}},
		{"text syntax error", map[string]string{"quotation.txt.tmpl": "{{range .Quotes}}"}, []string{"quotation.txt.tmpl"}},
		{"unknown field", map[string]string{"policy_confirmation.txt.tmpl": "{{.PolicyNumbr}}"}, []string{"policy_confirmation.txt.tmpl", "PolicyNumbr"}},
		{"unknown function", map[string]string{"welcome.subject.tmpl": "{{shout .CustomerName}}"}, []string{"welcome.subject.tmpl", "shout"}},
		{"multi-line subject", map[string]string{"welcome.subject.tmpl": "Hello\n{{.CustomerName}}"}, []string{"welcome.subject.tmpl", "more than one line"}},
		{"empty body", map[string]string{"welcome.txt.tmpl": "  \n"}, []string{"welcome.txt.tmpl", "renders nothing"}},
		{"misspelt file", map[string]string{"welcom.txt.tmpl": "x"}, []string{"welcom.txt.tmpl", "does not replace any template"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, tt.files)
			_, err := notify.NewTemplates(dir)
			if err == nil {
				t.Fatal("NewTemplates succeeded, want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the override directory %s", err, dir)
			}
		})
	}
	if _, err := notify.NewTemplates(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("NewTemplates with a missing directory succeeded, want an error")
	}
}

func TestWhatsAppParams(t *testing.T) {
	t.Parallel()
	tmpl := setup(t, "")
	tests := []struct {
		name     string
		data     any
		template string
		params   []string
	}{
		{"quotation", quotationData(), "insure_quotation", []string{evilName, "Q-2026-0042", "Acme General — INR 8,500.00"}},
		{"renewal_reminder", &notify.RenewalReminderData{CustomerName: "Asha", PolicyNumber: "P-1", Insurer: "Acme", EndDate: "31 Dec 2026", DaysLeft: 7, Urgency: "high"},
			"insure_renewal_reminder", []string{"Asha", "P-1", "31 Dec 2026", "7"}},
		{"policy_confirmation", notify.PolicyConfirmationData{CustomerName: "Asha", PolicyNumber: "P-1", StartDate: "1 Jan 2026", EndDate: "31 Dec 2026"},
			"insure_policy_confirmation", []string{"Asha", "P-1", "1 Jan 2026", "31 Dec 2026"}},
	}
	for _, tt := range tests {
		template, language, params, err := tmpl.WhatsAppParams(tt.name, tt.data)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if template != tt.template || language != "en" {
			t.Errorf("%s: template %q language %q, want %q en", tt.name, template, language, tt.template)
		}
		if diff := cmp.Diff(tt.params, params); diff != "" {
			t.Errorf("%s: params (-want +got):\n%s", tt.name, diff)
		}
	}

	for _, bad := range []struct {
		name string
		data any
		want error
	}{
		{"welcome", notify.WelcomeData{}, notify.ErrUnknownTemplate},
		{"quotation", notify.PolicyConfirmationData{}, notify.ErrTemplateData},
		{"quotation", notify.QuotationData{CustomerName: "Asha", QuotationID: "Q-1"}, notify.ErrTemplateData}, // Cheapest is empty
	} {
		if _, _, _, err := tmpl.WhatsAppParams(bad.name, bad.data); !errors.Is(err, bad.want) {
			t.Errorf("WhatsAppParams(%q, %T) = %v, want %v", bad.name, bad.data, err, bad.want)
		}
	}
}

func TestWhatsAppTemplateOptions(t *testing.T) {
	t.Parallel()
	tmpl := setup(t, "",
		notify.WithWhatsAppTemplate("quotation", notify.WhatsAppTemplate{Name: "quote_v2", Language: "hi", Params: []string{"QuotationID", "SumInsured"}}),
		notify.WithWhatsAppTemplate("renewal_reminder", notify.WhatsAppTemplate{Language: "en_US"}),
		notify.WithWhatsAppTemplate("policy_confirmation", notify.WhatsAppTemplate{Params: []string{}}),
	)
	template, language, params, err := tmpl.WhatsAppParams("quotation", quotationData())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"quote_v2", "hi", []string{"Q-2026-0042", "INR 6,50,000.00"}}, []any{template, language, params}); diff != "" {
		t.Errorf("quotation (-want +got):\n%s", diff)
	}
	template, language, params, err = tmpl.WhatsAppParams("renewal_reminder", notify.RenewalReminderData{CustomerName: "A", PolicyNumber: "P", EndDate: "E", DaysLeft: 0})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"insure_renewal_reminder", "en_US", []string{"A", "P", "E", "0"}}, []any{template, language, params}); diff != "" {
		t.Errorf("renewal_reminder keeps the default name and params (-want +got):\n%s", diff)
	}
	_, _, params, err = tmpl.WhatsAppParams("policy_confirmation", notify.PolicyConfirmationData{})
	if err != nil || len(params) != 0 {
		t.Errorf("policy_confirmation without params = %v, %v; want none", params, err)
	}

	for name, opt := range map[string]notify.TemplateOption{
		"unknown template": notify.WithWhatsAppTemplate("welcome", notify.WhatsAppTemplate{Name: "x"}),
		"bad name":         notify.WithWhatsAppTemplate("quotation", notify.WhatsAppTemplate{Name: "Quote V2"}),
		"bad language":     notify.WithWhatsAppTemplate("quotation", notify.WhatsAppTemplate{Language: "english"}),
		"unknown field":    notify.WithWhatsAppTemplate("quotation", notify.WhatsAppTemplate{Params: []string{"Premium"}}),
		"slice field":      notify.WithWhatsAppTemplate("quotation", notify.WhatsAppTemplate{Params: []string{"Quotes"}}),
	} {
		if _, err := notify.NewTemplates("", opt); err == nil {
			t.Errorf("%s: NewTemplates succeeded, want an error", name)
		}
	}
}

func TestDefaultWhatsAppTemplates(t *testing.T) {
	t.Parallel()
	want := map[string]notify.WhatsAppTemplate{
		"quotation":           {Name: "insure_quotation", Language: "en", Params: []string{"CustomerName", "QuotationID", "Cheapest"}},
		"renewal_reminder":    {Name: "insure_renewal_reminder", Language: "en", Params: []string{"CustomerName", "PolicyNumber", "EndDate", "DaysLeft"}},
		"policy_confirmation": {Name: "insure_policy_confirmation", Language: "en", Params: []string{"CustomerName", "PolicyNumber", "StartDate", "EndDate"}},
	}
	if diff := cmp.Diff(want, notify.DefaultWhatsAppTemplates()); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}
