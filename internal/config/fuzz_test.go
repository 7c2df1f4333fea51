package config_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/config"
)

// FuzzFromEnv feeds arbitrary values to one variable at a time, with the
// variables it needs to satisfy the rules across variables (fuzzPartners).
// FromEnv must never panic; it either fails with *Error values naming that
// variable, or returns a valid Config that survives a trip through Redacted.
func FuzzFromEnv(f *testing.F) {
	vars := config.Vars()
	for i, v := range vars {
		f.Add(uint8(i), v.Default)
		f.Add(uint8(i), " "+strings.ToUpper(v.Default)+" ")
	}
	for _, tt := range variableTests() {
		for i, v := range vars {
			if v.Name == tt.name {
				f.Add(uint8(i), tt.good)
				f.Add(uint8(i), tt.bad)
			}
		}
	}
	for _, s := range []string{
		"", "\x00", "=", ",", ",,", "=,=", "-1", "1e9", "9223372036854775808", "NaN", "-0s", "1h1h",
		"normal=1,normal", "postgres://u:p@[::1", "sqlite://?", "://", "a://b@c:d", "%", "\u2028",
	} {
		for i := range vars {
			f.Add(uint8(i), s)
		}
	}

	f.Fuzz(func(t *testing.T, index uint8, value string) {
		name := vars[int(index)%len(vars)].Name
		m := map[string]string{name: value}
		for k, v := range fuzzPartners(name) {
			m[k] = v
		}
		c, err := config.FromEnv(env(m))
		if err != nil {
			errs := configErrors(t, err)
			if len(errs) != 1 || errs[0].Var != name {
				t.Fatalf("FromEnv(%s=%q) errors = %v, want one naming %s", name, value, errs, name)
			}
			switch name {
			case "DATABASE_URL", "SMTP_URL":
				if want := config.RedactDatabaseURL(strings.TrimSpace(value)); errs[0].Value != want {
					t.Fatalf("%s error Value = %q, want the redacted %q", name, errs[0].Value, want)
				}
			case "WHATSAPP_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_WEBHOOK_VERIFY_TOKEN", "INSURE_ADMIN_TOKEN", "METRICS_TOKEN", "INSURE_MASTER_KEY":
				if errs[0].Value != "(set)" && errs[0].Value != "" {
					t.Fatalf("%s error Value = %q, want (set)", name, errs[0].Value)
				}
			}
			_ = err.Error()
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("FromEnv(%s=%q) returned a Config that fails Validate: %v", name, value, err)
		}
		// Every value Redacted spells parses back to the same Config
		// (the secrets aside, which Redacted hides).
		m = c.Redacted()
		m["DATABASE_URL"] = c.DatabaseURL
		m["SMTP_URL"] = c.SMTPURL
		m["EVENT_BUS_URL"] = c.EventBusURL
		m["WHATSAPP_TOKEN"] = c.WhatsAppToken
		m["WHATSAPP_APP_SECRET"] = c.WhatsAppAppSecret
		m["WHATSAPP_WEBHOOK_VERIFY_TOKEN"] = c.WhatsAppWebhookVerifyToken
		m["INSURE_ADMIN_TOKEN"] = c.AdminToken
		m["METRICS_TOKEN"] = c.MetricsToken
		m["INSURE_MASTER_KEY"] = c.MasterKey
		again, err := config.FromEnv(env(m))
		if err != nil {
			t.Fatalf("FromEnv(Redacted()) after %s=%q: %v", name, value, err)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("round trip through Redacted after %s=%q (-want +got):\n%s", name, value, diff)
		}
	})
}

// fuzzPartners returns the other variables that a rule across variables
// makes variable name need, or nil.
func fuzzPartners(name string) map[string]string {
	switch name {
	case "MAIL_DRIVER":
		return map[string]string{"SMTP_URL": "smtp://mail.example.com"}
	case "WHATSAPP_DRIVER":
		return map[string]string{"WHATSAPP_TOKEN": "t0ken", "WHATSAPP_PHONE_NUMBER_ID": "123"}
	case "WHATSAPP_TOKEN":
		return map[string]string{"WHATSAPP_PHONE_NUMBER_ID": "123"}
	case "WHATSAPP_PHONE_NUMBER_ID":
		return map[string]string{"WHATSAPP_TOKEN": "t0ken"}
	case "WHATSAPP_APP_SECRET":
		return map[string]string{"WHATSAPP_WEBHOOK_VERIFY_TOKEN": "v3rify"}
	case "WHATSAPP_WEBHOOK_VERIFY_TOKEN":
		return map[string]string{"WHATSAPP_APP_SECRET": "s3cret"}
	}
	return nil
}

// FuzzRedactDatabaseURL checks that a password in a postgres or smtp URL
// never reaches an error message or Redacted, whatever surrounds it.
func FuzzRedactDatabaseURL(f *testing.F) {
	f.Add("app", "pa55", "db:5432")
	f.Add("", "p@ss/w?rd#1", "db")
	f.Add("a:b", "", "h@st")
	f.Add("app", "%zz", "db:port")
	f.Fuzz(func(t *testing.T, user, password, host string) {
		const marker = "S3CRET"
		if strings.Contains(user, marker) || strings.Contains(host, marker) {
			t.Skip()
		}
		secret := marker + password
		url := "postgres://" + user + ":" + secret + "@" + host + "/insure"
		smtpURL := "smtp://" + user + ":" + secret + "@" + host + "?security=starttls"

		c := config.Default()
		c.DatabaseURL = url
		c.SMTPURL = smtpURL
		texts := []string{
			config.RedactDatabaseURL(url), c.Redacted()["DATABASE_URL"],
			config.RedactDatabaseURL(smtpURL), c.Redacted()["SMTP_URL"],
		}
		if err := c.Validate(); err != nil {
			texts = append(texts, err.Error())
		}
		if _, err := config.FromEnv(env(map[string]string{"DATABASE_URL": url, "SMTP_URL": smtpURL})); err != nil {
			texts = append(texts, err.Error())
		}
		for _, s := range texts {
			if strings.Contains(s, marker) {
				t.Fatalf("password leaked for %q or %q: %s", url, smtpURL, s)
			}
		}
	})
}
