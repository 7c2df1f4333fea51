package config_test

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/config"
)

// env returns a lookup function over m, like os.LookupEnv.
func env(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// configErrors flattens err, as returned by FromEnv, Validate or Set, into
// its *config.Error values; it fails the test on any other error.
func configErrors(t *testing.T, err error) []*config.Error {
	t.Helper()
	var out []*config.Error
	var walk func(error)
	walk = func(err error) {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				walk(e)
			}
			return
		}
		var e *config.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v (%T) is not a *config.Error", err, err)
		}
		out = append(out, e)
	}
	if err != nil {
		walk(err)
	}
	return out
}

// changedFields names the fields of Config that differ between a and b.
func changedFields(a, b config.Config) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var names []string
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			names = append(names, va.Type().Field(i).Name)
		}
	}
	return names
}

func TestDefault(t *testing.T) {
	t.Parallel()

	want := config.Config{
		DatabaseURL:       "sqlite://./insure.db",
		SQLiteSynchronous: "FULL",
		HTTPAddr:          "127.0.0.1:8080",
		MailFrom:          "insure <no-reply@insure.local>",
		AdminEmail:        "admin@insure.local",
		QueueBackoff:      []time.Duration{60 * time.Second, 300 * time.Second, 900 * time.Second},
		QueueMaxAttempts:  3,
		QueueJobTimeout:   60 * time.Second,
		QueueSnooze:       60 * time.Second,
		QueueWorkers: map[string]int{
			"high-priority": 10, "normal": 10, "low-priority": 5,
			"email-priority": 10, "email-normal": 10,
			"whatsapp-priority": 10, "whatsapp-normal": 10,
			"pdf-priority": 10, "pdf-normal": 10,
			"audit-normal": 5,
		},
		MaxEventsPerBatch:          100,
		SnapshotEvery:              50,
		DocumentsDir:               "./documents",
		ArchiveDir:                 "./archive",
		QuoteHighValueThreshold:    100000000,
		Currency:                   "INR",
		RateTableFile:              "",
		TemplatesDir:               "",
		PublicURL:                  "",
		ShutdownGrace:              30 * time.Second,
		QueueFetchCooldown:         20 * time.Millisecond,
		QueueFetchPollInterval:     200 * time.Millisecond,
		DBMaxConns:                 16,
		RequestTimeout:             30 * time.Second,
		ExpiryScanInterval:         24 * time.Hour,
		EventRetentionDays:         365,
		WhatsAppEnabled:            true,
		EmailQueueEnabled:          true,
		PDFGenerationAsync:         true,
		LogLevel:                   slog.LevelInfo,
		LogFormat:                  "json",
		ReadyQueueLag:              5 * time.Minute,
		ReadyProjectionLag:         time.Minute,
		DashboardSessionTTL:        8 * time.Hour,
		IdempotencyKeyTTL:          24 * time.Hour,
		OTelServiceName:            "insure",
		MailDriver:                 "auto",
		SMTPURL:                    "",
		WhatsAppDriver:             "auto",
		WhatsAppAPIURL:             "https://graph.facebook.com",
		WhatsAppAPIVersion:         "v21.0",
		WhatsAppPhoneNumberID:      "",
		WhatsAppToken:              "",
		WhatsAppTemplates:          map[string]config.WhatsAppTemplate{},
		WhatsAppAppSecret:          "",
		WhatsAppWebhookVerifyToken: "",
		BreakerFailures:            5,
		BreakerOpenFor:             30 * time.Second,
		AdminToken:                 "",
	}
	if diff := cmp.Diff(want, config.Default()); diff != "" {
		t.Errorf("Default() mismatch (-want +got):\n%s", diff)
	}
	if err := config.Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v, want nil", err)
	}

	got, err := config.FromEnv(env(nil))
	if err != nil {
		t.Fatalf("FromEnv(empty) error: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FromEnv(empty) mismatch (-want +got):\n%s", diff)
	}

	// Each call returns fresh maps and slice.
	a, b := config.Default(), config.Default()
	a.QueueWorkers["normal"] = 1
	a.QueueBackoff[0] = time.Hour
	a.WhatsAppTemplates["quotation"] = config.WhatsAppTemplate{Name: "x", Language: "en"}
	if b.QueueWorkers["normal"] != 10 || b.QueueBackoff[0] != time.Minute || len(b.WhatsAppTemplates) != 0 {
		t.Error("Default() shares its maps or slice between calls")
	}
}

func TestQueues(t *testing.T) {
	t.Parallel()

	want := []string{
		"high-priority", "normal", "low-priority", "email-priority", "email-normal",
		"whatsapp-priority", "whatsapp-normal", "pdf-priority", "pdf-normal", "audit-normal",
	}
	if diff := cmp.Diff(want, config.Queues()); diff != "" {
		t.Errorf("Queues() mismatch (-want +got):\n%s", diff)
	}
	config.Queues()[0] = "changed"
	if config.Queues()[0] != "high-priority" {
		t.Error("Queues() returns a shared slice")
	}
}

// variableTest exercises one environment variable.
type variableTest struct {
	name string
	// field is the Config field the variable sets; "" if none.
	field string
	// good is a valid value (padded with spaces by the test); want applies
	// its effect to Default().
	good string
	want func(*config.Config)
	// bad is an invalid value and badErr the exact error; badErr "" if the
	// variable has no invalid value.
	bad, badErr string
	// corrupt sets the field directly to an invalid value, and corruptErr
	// is Validate's exact error; corrupt nil if the field has no invalid value.
	corrupt    func(*config.Config)
	corruptErr string
	// with holds other variables that the good and corrupt values need to
	// satisfy a rule across variables (WHATSAPP_TOKEN needs
	// WHATSAPP_PHONE_NUMBER_ID); both then start from Default() with these
	// set. The bad value is tried alone.
	with map[string]string
}

// variableTests has one row per environment variable; TestVariablesCovered
// checks that it matches Vars() and Config.
func variableTests() []variableTest {
	const (
		masterKey    = "the base64 (standard, padded) encoding of 32 random bytes, e.g. from insure keys generate, or empty"
		dbForms      = "one of sqlite:///abs/path.db, sqlite://./rel.db, a file path such as insure.db, or postgres://user:password@host:5432/dbname"
		durationHint = "with a unit (e.g. 90s, 15m, 2h)"
		workers      = "comma-separated queue=N overrides, N from 0 to 1000 (0: this process does not work that queue), " +
			"queue one of high-priority, normal, low-priority, email-priority, email-normal, whatsapp-priority, " +
			"whatsapp-normal, pdf-priority, pdf-normal, audit-normal (e.g. pdf-normal=2,audit-normal=0)"
		backoff    = "1 to 20 comma-separated durations, each above 0 and at most 24h (e.g. 60s,300s,900s)"
		boolHint   = "true or false (also 1/0, yes/no, any case)"
		addrHint   = "host:port with a port from 0 to 65535 (e.g. 127.0.0.1:8080 or :8080)"
		threshold  = "a whole number of minor units, 0 or more (e.g. 100000000 paise for ₹10 lakh)"
		publicURL  = "an absolute http or https URL without credentials, query, fragment or trailing slash, or empty"
		mailDriver = "auto (smtp when SMTP_URL is set, else log), " +
			"log (the development driver that records each message in the database) or smtp (send through SMTP_URL)"
		whatsAppDriver = "auto (cloudapi when WHATSAPP_TOKEN and WHATSAPP_PHONE_NUMBER_ID are set, else log), " +
			"log (the development driver that records each message in the database) " +
			"or cloudapi (send through the WhatsApp Cloud API)"
		smtpURL = "empty, or smtp://[user:password@]host[:port] (smtps:// for implicit TLS) " +
			"with optional ?security=starttls|opportunistic|none (smtp:// only), timeout=<duration above 0, at most 5m> and helo=<name>"
		apiURL       = "an absolute http or https URL without credentials, query, fragment or trailing slash (e.g. https://graph.facebook.com)"
		token        = "a Cloud API access token of at most 1024 printable ASCII characters without spaces, or empty"
		appSecret    = "the Meta app secret of at most 1024 printable ASCII characters without spaces, or empty"
		verify       = "a webhook verify token of at most 1024 printable ASCII characters without spaces, or empty"
		adminToken   = "an API token of 32 to 1024 printable ASCII characters without spaces, or empty"
		metricsToken = "a token of 32 to 1024 printable ASCII characters without spaces, or empty"
		tooShort     = "the token must be at least 32 characters (e.g. generated with openssl rand -base64 32 or insure token create)"
		templates    = `empty, or a JSON object whose keys are among quotation, renewal_reminder and ` +
			`policy_confirmation, each {"name": …, "language": …, "params": […]} with name 1 to 512 lower-case letters, ` +
			`digits and underscores, language a code such as en or en_US, and params at most 20 non-empty data field names ` +
			`(e.g. {"quotation": {"name": "insure_quotation", "language": "en", "params": ["CustomerName", "QuotationID"]}})`
	)
	return []variableTest{
		{
			name: "DATABASE_URL", field: "DatabaseURL",
			good: "postgres://app:s3cret@db.internal:5432/insure?sslmode=disable",
			want: func(c *config.Config) {
				c.DatabaseURL = "postgres://app:s3cret@db.internal:5432/insure?sslmode=disable"
			},
			bad:     "mysql://root:hunter2@db/insure",
			badErr:  `DATABASE_URL="mysql://root:xxxxx@db/insure": expected ` + dbForms + `; "mysql://" is not supported`,
			corrupt: func(c *config.Config) { c.DatabaseURL = ":memory:" },
			corruptErr: `DATABASE_URL=":memory:": expected a database file, not an in-memory database: ` +
				`the queue needs one file shared by every connection pool; ` +
				`for tests use a temporary file (e.g. sqlite:///tmp/insure-test.db)`,
		},
		{
			name: "SQLITE_SYNCHRONOUS", field: "SQLiteSynchronous",
			good:       "normal",
			want:       func(c *config.Config) { c.SQLiteSynchronous = "NORMAL" },
			bad:        "OFF",
			badErr:     `SQLITE_SYNCHRONOUS="OFF": expected FULL or NORMAL`,
			corrupt:    func(c *config.Config) { c.SQLiteSynchronous = "normal" },
			corruptErr: `SQLITE_SYNCHRONOUS="normal": expected FULL or NORMAL`,
		},
		{
			name: "HTTP_ADDR", field: "HTTPAddr",
			good:       ":0",
			want:       func(c *config.Config) { c.HTTPAddr = ":0" },
			bad:        "localhost:99999",
			badErr:     `HTTP_ADDR="localhost:99999": expected ` + addrHint,
			corrupt:    func(c *config.Config) { c.HTTPAddr = "localhost" },
			corruptErr: `HTTP_ADDR="localhost": expected ` + addrHint,
		},
		{
			name: "MAIL_FROM", field: "MailFrom",
			good:       "Insure Policies <policies@example.com>",
			want:       func(c *config.Config) { c.MailFrom = "Insure Policies <policies@example.com>" },
			bad:        "not an address",
			badErr:     `MAIL_FROM="not an address": expected an email address, optionally with a display name (e.g. insure <no-reply@insure.local>)`,
			corrupt:    func(c *config.Config) { c.MailFrom = "" },
			corruptErr: `MAIL_FROM="": expected an email address, optionally with a display name (e.g. insure <no-reply@insure.local>)`,
		},
		{
			name: "ADMIN_EMAIL", field: "AdminEmail",
			good:       "ops@example.com",
			want:       func(c *config.Config) { c.AdminEmail = "ops@example.com" },
			bad:        "Ops <ops@example.com>",
			badErr:     `ADMIN_EMAIL="Ops <ops@example.com>": expected a bare email address without a display name (e.g. admin@insure.local)`,
			corrupt:    func(c *config.Config) { c.AdminEmail = "<admin@insure.local>" },
			corruptErr: `ADMIN_EMAIL="<admin@insure.local>": expected a bare email address without a display name (e.g. admin@insure.local)`,
		},
		{
			name: "QUEUE_BACKOFF", field: "QueueBackoff",
			good: "1s, 2m,1h30m",
			want: func(c *config.Config) {
				c.QueueBackoff = []time.Duration{time.Second, 2 * time.Minute, 90 * time.Minute}
			},
			bad:        "60s,25h",
			badErr:     `QUEUE_BACKOFF="60s,25h": expected ` + backoff + `; 25h is out of range`,
			corrupt:    func(c *config.Config) { c.QueueBackoff = nil },
			corruptErr: `QUEUE_BACKOFF="": expected ` + backoff + `; the list is empty`,
		},
		{
			name: "QUEUE_MAX_ATTEMPTS", field: "QueueMaxAttempts",
			good:       "25",
			want:       func(c *config.Config) { c.QueueMaxAttempts = 25 },
			bad:        "abc",
			badErr:     `QUEUE_MAX_ATTEMPTS="abc": expected an integer from 1 to 100`,
			corrupt:    func(c *config.Config) { c.QueueMaxAttempts = 0 },
			corruptErr: `QUEUE_MAX_ATTEMPTS="0": expected an integer from 1 to 100`,
		},
		{
			name: "QUEUE_JOB_TIMEOUT", field: "QueueJobTimeout",
			good:       "90s",
			want:       func(c *config.Config) { c.QueueJobTimeout = 90 * time.Second },
			bad:        "60",
			badErr:     `QUEUE_JOB_TIMEOUT="60": expected a duration from 100ms to 1h ` + durationHint,
			corrupt:    func(c *config.Config) { c.QueueJobTimeout = 0 },
			corruptErr: `QUEUE_JOB_TIMEOUT="0s": expected a duration from 100ms to 1h ` + durationHint,
		},
		{
			name: "QUEUE_RESCUE_AFTER", field: "QueueRescueAfter",
			good:       "2m",
			want:       func(c *config.Config) { c.QueueRescueAfter = 2 * time.Minute },
			bad:        "30s",
			badErr:     `QUEUE_RESCUE_AFTER="30s": expected 0 (automatic), or a duration from 1s to 24h with a unit (e.g. 90s, 15m, 2h) longer than QUEUE_JOB_TIMEOUT`,
			corrupt:    func(c *config.Config) { c.QueueRescueAfter = 25 * time.Hour },
			corruptErr: `QUEUE_RESCUE_AFTER="25h": expected 0 (automatic), or a duration from 1s to 24h with a unit (e.g. 90s, 15m, 2h) longer than QUEUE_JOB_TIMEOUT`,
		},
		{
			name: "SHUTDOWN_GRACE", field: "ShutdownGrace",
			good:       "5s",
			want:       func(c *config.Config) { c.ShutdownGrace = 5 * time.Second },
			bad:        "5",
			badErr:     `SHUTDOWN_GRACE="5": expected a duration from 100ms to 1h ` + durationHint,
			corrupt:    func(c *config.Config) { c.ShutdownGrace = 2 * time.Hour },
			corruptErr: `SHUTDOWN_GRACE="2h": expected a duration from 100ms to 1h ` + durationHint,
		},
		{
			name: "QUEUE_FETCH_COOLDOWN", field: "QueueFetchCooldown",
			good:       "50ms",
			want:       func(c *config.Config) { c.QueueFetchCooldown = 50 * time.Millisecond },
			bad:        "2m",
			badErr:     `QUEUE_FETCH_COOLDOWN="2m": expected a duration from 1ms to 1m ` + durationHint,
			corrupt:    func(c *config.Config) { c.QueueFetchCooldown = 0 },
			corruptErr: `QUEUE_FETCH_COOLDOWN="0s": expected a duration from 1ms to 1m ` + durationHint,
		},
		{
			name: "QUEUE_FETCH_POLL_INTERVAL", field: "QueueFetchPollInterval",
			good:       "1s",
			want:       func(c *config.Config) { c.QueueFetchPollInterval = time.Second },
			bad:        "200",
			badErr:     `QUEUE_FETCH_POLL_INTERVAL="200": expected a duration from 1ms to 10m ` + durationHint,
			corrupt:    func(c *config.Config) { c.QueueFetchPollInterval = 11 * time.Minute },
			corruptErr: `QUEUE_FETCH_POLL_INTERVAL="11m": expected a duration from 1ms to 10m ` + durationHint,
		},
		{
			name: "DB_MAX_CONNS", field: "DBMaxConns",
			good:       "50",
			want:       func(c *config.Config) { c.DBMaxConns = 50 },
			bad:        "1",
			badErr:     `DB_MAX_CONNS="1": expected an integer from 2 to 1000`,
			corrupt:    func(c *config.Config) { c.DBMaxConns = 1001 },
			corruptErr: `DB_MAX_CONNS="1001": expected an integer from 2 to 1000`,
		},
		{
			name: "HTTP_REQUEST_TIMEOUT", field: "RequestTimeout",
			good:       "5s",
			want:       func(c *config.Config) { c.RequestTimeout = 5 * time.Second },
			bad:        "10ms",
			badErr:     `HTTP_REQUEST_TIMEOUT="10ms": expected a duration from 100ms to 2m ` + durationHint,
			corrupt:    func(c *config.Config) { c.RequestTimeout = 3 * time.Minute },
			corruptErr: `HTTP_REQUEST_TIMEOUT="3m": expected a duration from 100ms to 2m ` + durationHint,
		},
		{
			name: "TEMPLATES_DIR", field: "TemplatesDir",
			good: "/etc/insure/templates",
			want: func(c *config.Config) { c.TemplatesDir = "/etc/insure/templates" },
			// Any value is valid: empty means the built-in templates.
		},
		{
			name: "PUBLIC_URL", field: "PublicURL",
			good:       "https://insure.example.com",
			want:       func(c *config.Config) { c.PublicURL = "https://insure.example.com" },
			bad:        "https://insure.example.com/",
			badErr:     `PUBLIC_URL="https://insure.example.com/": expected ` + publicURL,
			corrupt:    func(c *config.Config) { c.PublicURL = "ftp://insure.example.com" },
			corruptErr: `PUBLIC_URL="ftp://insure.example.com": expected ` + publicURL,
		},
		{
			name: "QUEUE_SNOOZE", field: "QueueSnooze",
			good:       "500ms",
			want:       func(c *config.Config) { c.QueueSnooze = 500 * time.Millisecond },
			bad:        "5ms",
			badErr:     `QUEUE_SNOOZE="5ms": expected a duration from 10ms to 24h ` + durationHint,
			corrupt:    func(c *config.Config) { c.QueueSnooze = 25 * time.Hour },
			corruptErr: `QUEUE_SNOOZE="25h": expected a duration from 10ms to 24h ` + durationHint,
		},
		{
			name: "BREAKER_FAILURES", field: "BreakerFailures",
			good:       "3",
			want:       func(c *config.Config) { c.BreakerFailures = 3 },
			bad:        "0",
			badErr:     `BREAKER_FAILURES="0": expected an integer from 1 to 1000`,
			corrupt:    func(c *config.Config) { c.BreakerFailures = 1001 },
			corruptErr: `BREAKER_FAILURES="1001": expected an integer from 1 to 1000`,
		},
		{
			name: "BREAKER_OPEN_FOR", field: "BreakerOpenFor",
			good:       "2m",
			want:       func(c *config.Config) { c.BreakerOpenFor = 2 * time.Minute },
			bad:        "50ms",
			badErr:     `BREAKER_OPEN_FOR="50ms": expected a duration from 100ms to 1h ` + durationHint,
			corrupt:    func(c *config.Config) { c.BreakerOpenFor = 2 * time.Hour },
			corruptErr: `BREAKER_OPEN_FOR="2h": expected a duration from 100ms to 1h ` + durationHint,
		},
		{
			name: "QUEUE_WORKERS", field: "QueueWorkers",
			good: "pdf-normal=2, audit-normal = 0",
			want: func(c *config.Config) {
				c.QueueWorkers["pdf-normal"] = 2
				c.QueueWorkers["audit-normal"] = 0
			},
			bad:     "email-normal=1001",
			badErr:  `QUEUE_WORKERS="email-normal=1001": expected ` + workers + `; "1001" for email-normal is not an integer from 0 to 1000`,
			corrupt: func(c *config.Config) { delete(c.QueueWorkers, "normal") },
			corruptErr: `QUEUE_WORKERS="high-priority=10,low-priority=5,email-priority=10,email-normal=10,` +
				`whatsapp-priority=10,whatsapp-normal=10,pdf-priority=10,pdf-normal=10,audit-normal=5": expected ` +
				workers + `; every queue needs a count (start from Default()), missing: normal`,
		},
		{
			name: "MAX_EVENTS_PER_BATCH", field: "MaxEventsPerBatch",
			good:       "500",
			want:       func(c *config.Config) { c.MaxEventsPerBatch = 500 },
			bad:        "0",
			badErr:     `MAX_EVENTS_PER_BATCH="0": expected an integer from 1 to 10000`,
			corrupt:    func(c *config.Config) { c.MaxEventsPerBatch = -1 },
			corruptErr: `MAX_EVENTS_PER_BATCH="-1": expected an integer from 1 to 10000`,
		},
		{
			name: "SNAPSHOT_EVERY", field: "SnapshotEvery",
			good:       "0",
			want:       func(c *config.Config) { c.SnapshotEvery = 0 },
			bad:        "-5",
			badErr:     `SNAPSHOT_EVERY="-5": expected an integer from 0 to 1000000`,
			corrupt:    func(c *config.Config) { c.SnapshotEvery = 1000001 },
			corruptErr: `SNAPSHOT_EVERY="1000001": expected an integer from 0 to 1000000`,
		},
		{
			name: "DOCUMENTS_DIR", field: "DocumentsDir",
			good:       "/var/lib/insure/documents",
			want:       func(c *config.Config) { c.DocumentsDir = "/var/lib/insure/documents" },
			bad:        "   ",
			badErr:     `DOCUMENTS_DIR="": expected a non-empty directory path`,
			corrupt:    func(c *config.Config) { c.DocumentsDir = "" },
			corruptErr: `DOCUMENTS_DIR="": expected a non-empty directory path`,
		},
		{
			name: "ARCHIVE_DIR", field: "ArchiveDir",
			good:       "/var/lib/insure/archive",
			want:       func(c *config.Config) { c.ArchiveDir = "/var/lib/insure/archive" },
			bad:        " ",
			badErr:     `ARCHIVE_DIR="": expected a non-empty directory path`,
			corrupt:    func(c *config.Config) { c.ArchiveDir = "" },
			corruptErr: `ARCHIVE_DIR="": expected a non-empty directory path`,
		},
		{
			name: "QUOTE_HIGH_VALUE_THRESHOLD", field: "QuoteHighValueThreshold",
			good:       "0",
			want:       func(c *config.Config) { c.QuoteHighValueThreshold = 0 },
			bad:        "1000000.50",
			badErr:     `QUOTE_HIGH_VALUE_THRESHOLD="1000000.50": expected ` + threshold + `; give the amount in minor units, without decimals`,
			corrupt:    func(c *config.Config) { c.QuoteHighValueThreshold = -1 },
			corruptErr: `QUOTE_HIGH_VALUE_THRESHOLD="-1": expected ` + threshold,
		},
		{
			name: "CURRENCY", field: "Currency",
			good:       "USD",
			want:       func(c *config.Config) { c.Currency = "USD" },
			bad:        "inr",
			badErr:     `CURRENCY="inr": expected an ISO 4217 code of three upper-case letters (e.g. INR)`,
			corrupt:    func(c *config.Config) { c.Currency = "₹" },
			corruptErr: `CURRENCY="₹": expected an ISO 4217 code of three upper-case letters (e.g. INR)`,
		},
		{
			name: "RATE_TABLE_FILE", field: "RateTableFile",
			good: "/etc/insure/rates.json",
			want: func(c *config.Config) { c.RateTableFile = "/etc/insure/rates.json" },
			// Any value is valid: empty means the built-in table.
		},
		{
			name: "EXPIRY_SCAN_INTERVAL", field: "ExpiryScanInterval",
			good:       "1h",
			want:       func(c *config.Config) { c.ExpiryScanInterval = time.Hour },
			bad:        "30s",
			badErr:     `EXPIRY_SCAN_INTERVAL="30s": expected a duration from 1m to 168h ` + durationHint,
			corrupt:    func(c *config.Config) { c.ExpiryScanInterval = 0 },
			corruptErr: `EXPIRY_SCAN_INTERVAL="0s": expected a duration from 1m to 168h ` + durationHint,
		},
		{
			name: "EVENT_RETENTION_DAYS", field: "EventRetentionDays",
			good:       "30",
			want:       func(c *config.Config) { c.EventRetentionDays = 30 },
			bad:        "36501",
			badErr:     `EVENT_RETENTION_DAYS="36501": expected an integer from 1 to 36500`,
			corrupt:    func(c *config.Config) { c.EventRetentionDays = 0 },
			corruptErr: `EVENT_RETENTION_DAYS="0": expected an integer from 1 to 36500`,
		},
		{
			name: "WHATSAPP_API_ENABLED", field: "WhatsAppEnabled",
			good:   "No",
			want:   func(c *config.Config) { c.WhatsAppEnabled = false },
			bad:    "maybe",
			badErr: `WHATSAPP_API_ENABLED="maybe": expected ` + boolHint,
		},
		{
			name: "EMAIL_QUEUE_ENABLED", field: "EmailQueueEnabled",
			good:   "0",
			want:   func(c *config.Config) { c.EmailQueueEnabled = false },
			bad:    "off",
			badErr: `EMAIL_QUEUE_ENABLED="off": expected ` + boolHint,
		},
		{
			name: "PDF_GENERATION_ASYNC", field: "PDFGenerationAsync",
			good: "YES",
			want: func(*config.Config) {},
			bad:  "false",
			badErr: `PDF_GENERATION_ASYNC="false": expected true: documents are always rendered by queued listeners ` +
				`after the command commits, so a request never waits for a PDF; remove PDF_GENERATION_ASYNC or set it to true`,
			corrupt: func(c *config.Config) { c.PDFGenerationAsync = false },
			corruptErr: `PDF_GENERATION_ASYNC="false": expected true: documents are always rendered by queued listeners ` +
				`after the command commits, so a request never waits for a PDF; remove PDF_GENERATION_ASYNC or set it to true`,
		},
		{
			name: "EVENT_SOURCING_ENABLED",
			good: "1",
			want: func(*config.Config) {},
			bad:  "false",
			badErr: `EVENT_SOURCING_ENABLED="false": expected true: the event store is always the source of truth here; ` +
				`remove EVENT_SOURCING_ENABLED or set it to true`,
		},
		{
			name: "LOG_LEVEL", field: "LogLevel",
			good:       "DEBUG",
			want:       func(c *config.Config) { c.LogLevel = slog.LevelDebug },
			bad:        "trace",
			badErr:     `LOG_LEVEL="trace": expected debug, info, warn or error`,
			corrupt:    func(c *config.Config) { c.LogLevel = slog.LevelInfo + 2 },
			corruptErr: `LOG_LEVEL="info+2": expected debug, info, warn or error`,
		},
		{
			name: "LOG_FORMAT", field: "LogFormat",
			good:       "Text",
			want:       func(c *config.Config) { c.LogFormat = "text" },
			bad:        "xml",
			badErr:     `LOG_FORMAT="xml": expected json or text`,
			corrupt:    func(c *config.Config) { c.LogFormat = "JSON" },
			corruptErr: `LOG_FORMAT="JSON": expected json or text`,
		},
		{
			name: "READY_QUEUE_LAG", field: "ReadyQueueLag",
			good:       "2m",
			want:       func(c *config.Config) { c.ReadyQueueLag = 2 * time.Minute },
			bad:        "500ms",
			badErr:     `READY_QUEUE_LAG="500ms": expected a duration from 1s to 24h ` + durationHint,
			corrupt:    func(c *config.Config) { c.ReadyQueueLag = 0 },
			corruptErr: `READY_QUEUE_LAG="0s": expected a duration from 1s to 24h ` + durationHint,
		},
		{
			name: "READY_PROJECTION_LAG", field: "ReadyProjectionLag",
			good:       "30s",
			want:       func(c *config.Config) { c.ReadyProjectionLag = 30 * time.Second },
			bad:        "soon",
			badErr:     `READY_PROJECTION_LAG="soon": expected a duration from 1s to 24h ` + durationHint,
			corrupt:    func(c *config.Config) { c.ReadyProjectionLag = 48 * time.Hour },
			corruptErr: `READY_PROJECTION_LAG="48h": expected a duration from 1s to 24h ` + durationHint,
		},
		{
			name: "DASHBOARD_SESSION_TTL", field: "DashboardSessionTTL",
			good:       "1h",
			want:       func(c *config.Config) { c.DashboardSessionTTL = time.Hour },
			bad:        "1m",
			badErr:     `DASHBOARD_SESSION_TTL="1m": expected a duration from 5m to 168h ` + durationHint,
			corrupt:    func(c *config.Config) { c.DashboardSessionTTL = 0 },
			corruptErr: `DASHBOARD_SESSION_TTL="0s": expected a duration from 5m to 168h ` + durationHint,
		},
		{
			name: "IDEMPOTENCY_KEY_TTL", field: "IdempotencyKeyTTL",
			good:       "48h",
			want:       func(c *config.Config) { c.IdempotencyKeyTTL = 48 * time.Hour },
			bad:        "30s",
			badErr:     `IDEMPOTENCY_KEY_TTL="30s": expected a duration from 1m to 720h ` + durationHint,
			corrupt:    func(c *config.Config) { c.IdempotencyKeyTTL = 0 },
			corruptErr: `IDEMPOTENCY_KEY_TTL="0s": expected a duration from 1m to 720h ` + durationHint,
		},
		{
			name: "OTEL_EXPORTER_OTLP_ENDPOINT", field: "OTLPEndpoint",
			good:       "http://127.0.0.1:4318",
			want:       func(c *config.Config) { c.OTLPEndpoint = "http://127.0.0.1:4318" },
			bad:        "127.0.0.1:4318",
			badErr:     `OTEL_EXPORTER_OTLP_ENDPOINT="127.0.0.1:4318": expected an absolute http or https URL without credentials, query, fragment or trailing slash, or empty (e.g. http://127.0.0.1:4318)`,
			corrupt:    func(c *config.Config) { c.OTLPEndpoint = "grpc://collector:4317" },
			corruptErr: `OTEL_EXPORTER_OTLP_ENDPOINT="grpc://collector:4317": expected an absolute http or https URL without credentials, query, fragment or trailing slash, or empty (e.g. http://127.0.0.1:4318)`,
		},
		{
			name: "EVENT_BUS_URL", field: "EventBusURL",
			good:       "nats://relay:s3cret@127.0.0.1:4222",
			want:       func(c *config.Config) { c.EventBusURL = "nats://relay:s3cret@127.0.0.1:4222" },
			bad:        "http://127.0.0.1:4222",
			badErr:     `EVENT_BUS_URL="http://127.0.0.1:4222": expected nats://[user:password@]host[:port] or tls://…, without path or query, or empty`,
			corrupt:    func(c *config.Config) { c.EventBusURL = "nats://127.0.0.1:4222/x" },
			corruptErr: `EVENT_BUS_URL="nats://127.0.0.1:4222/x": expected nats://[user:password@]host[:port] or tls://…, without path or query, or empty`,
		},
		{
			name: "OTEL_SERVICE_NAME", field: "OTelServiceName",
			good:       "insure-eu",
			want:       func(c *config.Config) { c.OTelServiceName = "insure-eu" },
			bad:        "insure eu",
			badErr:     `OTEL_SERVICE_NAME="insure eu": expected 1 to 100 letters, digits, '.', '-' or '_' (e.g. insure)`,
			corrupt:    func(c *config.Config) { c.OTelServiceName = "" },
			corruptErr: `OTEL_SERVICE_NAME="": expected 1 to 100 letters, digits, '.', '-' or '_' (e.g. insure)`,
		},
		{
			name: "MAIL_DRIVER", field: "MailDriver",
			good:       "SMTP",
			want:       func(c *config.Config) { c.MailDriver = "smtp" },
			with:       map[string]string{"SMTP_URL": "smtp://mail.example.com"},
			bad:        "sendmail",
			badErr:     `MAIL_DRIVER="sendmail": expected ` + mailDriver,
			corrupt:    func(c *config.Config) { c.MailDriver = "LOG" },
			corruptErr: `MAIL_DRIVER="LOG": expected ` + mailDriver,
		},
		{
			name: "SMTP_URL", field: "SMTPURL",
			good: "smtps://mailer:pa55@smtp.example.com:465?timeout=10s&helo=insure.example.com",
			want: func(c *config.Config) {
				c.SMTPURL = "smtps://mailer:pa55@smtp.example.com:465?timeout=10s&helo=insure.example.com"
			},
			bad:        "smtp://mailer:hunter2@smtp.example.com:0",
			badErr:     `SMTP_URL="smtp://mailer:xxxxx@smtp.example.com:0": expected ` + smtpURL + `; the port must be from 1 to 65535`,
			corrupt:    func(c *config.Config) { c.SMTPURL = "smtp://mailer:hunter2@smtp.example.com?security=ssl" },
			corruptErr: `SMTP_URL="smtp://mailer:xxxxx@smtp.example.com?security=ssl": expected ` + smtpURL + `; security must be starttls, opportunistic or none`,
		},
		{
			name: "WHATSAPP_DRIVER", field: "WhatsAppDriver",
			good:       "CloudAPI",
			want:       func(c *config.Config) { c.WhatsAppDriver = "cloudapi" },
			with:       map[string]string{"WHATSAPP_TOKEN": "t0ken", "WHATSAPP_PHONE_NUMBER_ID": "106540352242922"},
			bad:        "cloud",
			badErr:     `WHATSAPP_DRIVER="cloud": expected ` + whatsAppDriver,
			corrupt:    func(c *config.Config) { c.WhatsAppDriver = "" },
			corruptErr: `WHATSAPP_DRIVER="": expected ` + whatsAppDriver,
		},
		{
			name: "WHATSAPP_API_URL", field: "WhatsAppAPIURL",
			good:       "http://127.0.0.1:9090/graph",
			want:       func(c *config.Config) { c.WhatsAppAPIURL = "http://127.0.0.1:9090/graph" },
			bad:        "https://user:hunter2@graph.facebook.com",
			badErr:     `WHATSAPP_API_URL="https://user:xxxxx@graph.facebook.com": expected ` + apiURL,
			corrupt:    func(c *config.Config) { c.WhatsAppAPIURL = "" },
			corruptErr: `WHATSAPP_API_URL="": expected ` + apiURL,
		},
		{
			name: "WHATSAPP_API_VERSION", field: "WhatsAppAPIVersion",
			good:       "v22.0",
			want:       func(c *config.Config) { c.WhatsAppAPIVersion = "v22.0" },
			bad:        "21.0",
			badErr:     `WHATSAPP_API_VERSION="21.0": expected a Graph API version: v, digits, a dot and digits (e.g. v21.0)`,
			corrupt:    func(c *config.Config) { c.WhatsAppAPIVersion = "v21" },
			corruptErr: `WHATSAPP_API_VERSION="v21": expected a Graph API version: v, digits, a dot and digits (e.g. v21.0)`,
		},
		{
			name: "WHATSAPP_PHONE_NUMBER_ID", field: "WhatsAppPhoneNumberID",
			good:       "106540352242922",
			want:       func(c *config.Config) { c.WhatsAppPhoneNumberID = "106540352242922" },
			with:       map[string]string{"WHATSAPP_TOKEN": "t0ken"},
			bad:        "+91 98765 43210",
			badErr:     `WHATSAPP_PHONE_NUMBER_ID="+91 98765 43210": expected the Cloud API phone number ID, 1 to 32 digits (not the phone number itself), or empty`,
			corrupt:    func(c *config.Config) { c.WhatsAppPhoneNumberID = strings.Repeat("1", 33) },
			corruptErr: `WHATSAPP_PHONE_NUMBER_ID="` + strings.Repeat("1", 33) + `": expected the Cloud API phone number ID, 1 to 32 digits (not the phone number itself), or empty`,
		},
		{
			name: "WHATSAPP_TOKEN", field: "WhatsAppToken",
			good:       "EAAG-s3cret.Token_123",
			want:       func(c *config.Config) { c.WhatsAppToken = "EAAG-s3cret.Token_123" },
			with:       map[string]string{"WHATSAPP_PHONE_NUMBER_ID": "106540352242922"},
			bad:        "EAAG s3cret",
			badErr:     `WHATSAPP_TOKEN="(set)": expected ` + token + `; it holds a space or a character that is not printable ASCII`,
			corrupt:    func(c *config.Config) { c.WhatsAppToken = strings.Repeat("s", 1025) },
			corruptErr: `WHATSAPP_TOKEN="(set)": expected ` + token + `; it is 1025 characters long`,
		},
		{
			name: "WHATSAPP_TEMPLATES", field: "WhatsAppTemplates",
			good: `{"quotation": {"name": "quote_v2", "language": "en_US", "params": ["CustomerName", "QuotationID"]},
				"renewal_reminder": {"name": "renewal", "language": "hi"}}`,
			want: func(c *config.Config) {
				c.WhatsAppTemplates = map[string]config.WhatsAppTemplate{
					"quotation":        {Name: "quote_v2", Language: "en_US", Params: []string{"CustomerName", "QuotationID"}},
					"renewal_reminder": {Name: "renewal", Language: "hi"},
				}
			},
			bad:    `{"quote": {"name": "quote_v2", "language": "en"}}`,
			badErr: `WHATSAPP_TEMPLATES="{\"quote\": {\"name\": \"quote_v2\", \"language\": \"en\"}}": expected ` + templates + `; "quote" is not a template (known: quotation, renewal_reminder, policy_confirmation)`,
			corrupt: func(c *config.Config) {
				c.WhatsAppTemplates = map[string]config.WhatsAppTemplate{"policy_confirmation": {Name: "Policy", Language: "en"}}
			},
			corruptErr: `WHATSAPP_TEMPLATES="{\"policy_confirmation\":{\"name\":\"Policy\",\"language\":\"en\"}}": expected ` + templates + `; policy_confirmation: name "Policy" is not 1 to 512 lower-case letters, digits and underscores`,
		},
		{
			name: "WHATSAPP_APP_SECRET", field: "WhatsAppAppSecret",
			good:       "0123456789abcdef0123456789abcdef",
			want:       func(c *config.Config) { c.WhatsAppAppSecret = "0123456789abcdef0123456789abcdef" },
			with:       map[string]string{"WHATSAPP_WEBHOOK_VERIFY_TOKEN": "v3rify-Me"},
			bad:        "app s3cret",
			badErr:     `WHATSAPP_APP_SECRET="(set)": expected ` + appSecret + `; it holds a space or a character that is not printable ASCII`,
			corrupt:    func(c *config.Config) { c.WhatsAppAppSecret = strings.Repeat("a", 1025) },
			corruptErr: `WHATSAPP_APP_SECRET="(set)": expected ` + appSecret + `; it is 1025 characters long`,
		},
		{
			name: "WHATSAPP_WEBHOOK_VERIFY_TOKEN", field: "WhatsAppWebhookVerifyToken",
			good:       "v3rify-Me.~!_123",
			want:       func(c *config.Config) { c.WhatsAppWebhookVerifyToken = "v3rify-Me.~!_123" },
			with:       map[string]string{"WHATSAPP_APP_SECRET": "0123456789abcdef0123456789abcdef"},
			bad:        "v3rify\tme",
			badErr:     `WHATSAPP_WEBHOOK_VERIFY_TOKEN="(set)": expected ` + verify + `; it holds a space or a character that is not printable ASCII`,
			corrupt:    func(c *config.Config) { c.WhatsAppWebhookVerifyToken = "v3rify\u00e9" },
			corruptErr: `WHATSAPP_WEBHOOK_VERIFY_TOKEN="(set)": expected ` + verify + `; it holds a space or a character that is not printable ASCII`,
		},
		{
			name: "INSURE_ADMIN_TOKEN", field: "AdminToken",
			good:       "Kq3v9Zp+8fJ2mW1xR7tN0pL5sY4bH6cD/eA1uG8iT0o=",
			want:       func(c *config.Config) { c.AdminToken = "Kq3v9Zp+8fJ2mW1xR7tN0pL5sY4bH6cD/eA1uG8iT0o=" },
			bad:        "adm1n-s3cret",
			badErr:     `INSURE_ADMIN_TOKEN="(set)": expected ` + adminToken + `; it is 12 characters long: ` + tooShort,
			corrupt:    func(c *config.Config) { c.AdminToken = "Kq3v9Zp+8fJ2mW1xR7tN0pL5sY4bH6cD/eA1uG8iT0o=\x00" },
			corruptErr: `INSURE_ADMIN_TOKEN="(set)": expected ` + adminToken + `; it holds a space or a character that is not printable ASCII`,
		},
		{
			name: "METRICS_TOKEN", field: "MetricsToken",
			good:       "Zm9vYmFyLW1ldHJpY3MtdG9rZW4tMDEyMzQ1Njc4OQ==",
			want:       func(c *config.Config) { c.MetricsToken = "Zm9vYmFyLW1ldHJpY3MtdG9rZW4tMDEyMzQ1Njc4OQ==" },
			bad:        "scrape-me",
			badErr:     `METRICS_TOKEN="(set)": expected ` + metricsToken + `; it is 9 characters long: ` + tooShort,
			corrupt:    func(c *config.Config) { c.MetricsToken = "Zm9vYmFyLW1ldHJpY3MtdG9rZW4tMDEyMzQ1Njc4OQ== " },
			corruptErr: `METRICS_TOKEN="(set)": expected ` + metricsToken + `; it holds a space or a character that is not printable ASCII`,
		},
		{
			name: "INSURE_MASTER_KEY", field: "MasterKey",
			good:       "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
			want:       func(c *config.Config) { c.MasterKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" },
			bad:        "AAECAwQFBgcICQoLDA0ODw==",
			badErr:     `INSURE_MASTER_KEY="(set)": expected ` + masterKey + `; it decodes to 16 bytes`,
			corrupt:    func(c *config.Config) { c.MasterKey = "not-base64!" },
			corruptErr: `INSURE_MASTER_KEY="(set)": expected ` + masterKey + `; it is not valid base64`,
		},
		{
			name: "INSURE_MASTER_KEY_FILE", field: "MasterKeyFile",
			good:       "/etc/insure/master.key",
			want:       func(c *config.Config) { c.MasterKeyFile = "/etc/insure/master.key" },
			corrupt:    func(c *config.Config) { c.MasterKeyFile = "/etc/\x00key" },
			corruptErr: `INSURE_MASTER_KEY_FILE="/etc/\x00key": expected a file path, or empty`,
		},
	}
}

func TestVariables(t *testing.T) {
	t.Parallel()

	for _, tt := range variableTests() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			t.Run("good", func(t *testing.T) {
				vars := map[string]string{tt.name: " " + tt.good + "\t"}
				for k, v := range tt.with {
					vars[k] = v
				}
				got, err := config.FromEnv(env(vars))
				if err != nil {
					t.Fatalf("FromEnv(%s=%q) error: %v", tt.name, tt.good, err)
				}
				base := withVars(t, tt.with)
				want := base
				tt.want(&want)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("FromEnv(%s=%q) mismatch (-want +got):\n%s", tt.name, tt.good, diff)
				}
				// The variable sets its own field and nothing else.
				for _, f := range changedFields(base, got) {
					if f != tt.field {
						t.Errorf("FromEnv(%s=%q) changed field %s, want only %q", tt.name, tt.good, f, tt.field)
					}
				}
				// Set applies the same value the same way.
				c := withVars(t, tt.with)
				if err := c.Set(tt.name, tt.good); err != nil {
					t.Fatalf("Set(%s, %q) error: %v", tt.name, tt.good, err)
				}
				if diff := cmp.Diff(want, c); diff != "" {
					t.Errorf("Set(%s, %q) mismatch (-want +got):\n%s", tt.name, tt.good, diff)
				}
			})

			t.Run("bad", func(t *testing.T) {
				if tt.badErr == "" {
					t.Skip("every value is valid")
				}
				got, err := config.FromEnv(env(map[string]string{tt.name: tt.bad}))
				if err == nil {
					t.Fatalf("FromEnv(%s=%q) = nil error, want %s", tt.name, tt.bad, tt.badErr)
				}
				if diff := cmp.Diff(tt.badErr, err.Error()); diff != "" {
					t.Errorf("FromEnv(%s=%q) error mismatch (-want +got):\n%s", tt.name, tt.bad, diff)
				}
				if errs := configErrors(t, err); len(errs) != 1 || errs[0].Var != tt.name {
					t.Errorf("FromEnv(%s=%q) errors = %v, want one naming %s", tt.name, tt.bad, errs, tt.name)
				}
				if diff := cmp.Diff(config.Config{}, got); diff != "" {
					t.Errorf("FromEnv with an error returned a non-zero Config:\n%s", diff)
				}
				// Set reports the same error and leaves the Config as it was.
				c := config.Default()
				err = c.Set(tt.name, tt.bad)
				if err == nil || err.Error() != tt.badErr {
					t.Errorf("Set(%s, %q) = %v, want %s", tt.name, tt.bad, err, tt.badErr)
				}
				if diff := cmp.Diff(config.Default(), c); diff != "" {
					t.Errorf("Set(%s, %q) changed the Config although it failed:\n%s", tt.name, tt.bad, diff)
				}
			})

			t.Run("corrupt", func(t *testing.T) {
				if tt.corrupt == nil {
					t.Skip("the field has no invalid value")
				}
				base := withVars(t, tt.with)
				c := withVars(t, tt.with)
				tt.corrupt(&c)
				err := c.Validate()
				if err == nil {
					t.Fatalf("Validate() = nil, want %s", tt.corruptErr)
				}
				if diff := cmp.Diff(tt.corruptErr, err.Error()); diff != "" {
					t.Errorf("Validate() error mismatch (-want +got):\n%s", diff)
				}
				if errs := configErrors(t, err); len(errs) != 1 || errs[0].Var != tt.name {
					t.Errorf("Validate() errors = %v, want one naming %s", errs, tt.name)
				}
				if diff := changedFields(base, c); tt.field != "" && !slices.Equal(diff, []string{tt.field}) {
					t.Errorf("corrupt changed fields %v, want [%s]", diff, tt.field)
				}
			})
		})
	}
}

// withVars returns Default() with vars set, each with Set (which checks the
// variable alone, not the rules across variables).
func withVars(t *testing.T, vars map[string]string) config.Config {
	t.Helper()
	c := config.Default()
	for name, value := range vars {
		if err := c.Set(name, value); err != nil {
			t.Fatalf("Set(%s, %q): %v", name, value, err)
		}
	}
	return c
}

// TestVariablesCovered checks that the variables FromEnv reads, the ones
// Vars documents, the Config fields and the rows of variableTests all match
// up, so that a new variable or field cannot go undocumented or untested.
func TestVariablesCovered(t *testing.T) {
	t.Parallel()

	var documented []string
	seen := make(map[string]bool)
	for _, v := range config.Vars() {
		if seen[v.Name] {
			t.Errorf("Vars() lists %s more than once", v.Name)
		}
		seen[v.Name] = true
		documented = append(documented, v.Name)
		if v.Description == "" {
			t.Errorf("Vars() entry %s has no description", v.Name)
		}
	}

	var tested []string
	fieldVar := make(map[string]string)
	for _, tt := range variableTests() {
		tested = append(tested, tt.name)
		if tt.field == "" {
			continue
		}
		if other, ok := fieldVar[tt.field]; ok {
			t.Errorf("field %s is set by both %s and %s", tt.field, other, tt.name)
		}
		fieldVar[tt.field] = tt.name
		// The row's field must really be the variable's: either setting
		// the variable changes it, or corrupting it makes Validate name
		// the variable (both checked in TestVariables).
		c := config.Default()
		tt.want(&c)
		if changed := changedFields(config.Default(), c); !slices.Equal(changed, []string{tt.field}) && tt.corrupt == nil {
			t.Errorf("row %s: neither its good value nor a corrupt value ties it to field %s", tt.name, tt.field)
		}
	}
	if diff := cmp.Diff(documented, tested); diff != "" {
		t.Errorf("Vars() and the test rows differ (-Vars +tests):\n%s", diff)
	}

	// FromEnv looks up exactly the documented variables.
	var looked []string
	_, _ = config.FromEnv(func(name string) (string, bool) {
		looked = append(looked, name)
		return "", false
	})
	if diff := cmp.Diff(documented, looked); diff != "" {
		t.Errorf("FromEnv looks up other variables than Vars() lists (-Vars +looked up):\n%s", diff)
	}

	// Every Config field is set by exactly one variable.
	typ := reflect.TypeFor[config.Config]()
	for i := range typ.NumField() {
		if name := typ.Field(i).Name; fieldVar[name] == "" {
			t.Errorf("Config.%s is set by no variable in the test rows", name)
		}
	}
}

func TestVarsDefaultsParse(t *testing.T) {
	t.Parallel()

	// Feeding every documented default back in gives Default().
	m := make(map[string]string)
	for _, v := range config.Vars() {
		m[v.Name] = v.Default
	}
	got, err := config.FromEnv(env(m))
	if err != nil {
		t.Fatalf("FromEnv(documented defaults) error: %v", err)
	}
	if diff := cmp.Diff(config.Default(), got); diff != "" {
		t.Errorf("documented defaults differ from Default() (-Default +parsed):\n%s", diff)
	}
	if diff := cmp.Diff(m, config.Default().Redacted()); diff != "" {
		t.Errorf("Vars() defaults differ from Default().Redacted() (-Vars +Redacted):\n%s", diff)
	}
}

func TestFromEnvReportsEveryError(t *testing.T) {
	t.Parallel()

	_, err := config.FromEnv(env(map[string]string{
		"QUEUE_MAX_ATTEMPTS": "abc",
		"HTTP_ADDR":          "8080",
		"LOG_FORMAT":         "",
		"CURRENCY":           "INR", // valid
	}))
	want := strings.Join([]string{
		`HTTP_ADDR="8080": expected host:port with a port from 0 to 65535 (e.g. 127.0.0.1:8080 or :8080)`,
		`QUEUE_MAX_ATTEMPTS="abc": expected an integer from 1 to 100`,
		`LOG_FORMAT="": expected json or text`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("FromEnv error =\n%v\nwant\n%s", err, want)
	}
	var names []string
	for _, e := range configErrors(t, err) {
		names = append(names, e.Var)
	}
	if diff := cmp.Diff([]string{"HTTP_ADDR", "QUEUE_MAX_ATTEMPTS", "LOG_FORMAT"}, names); diff != "" {
		t.Errorf("error variables mismatch (-want +got):\n%s", diff)
	}
}

func TestFromEnvErrors(t *testing.T) {
	t.Parallel()

	workers := "comma-separated queue=N overrides, N from 0 to 1000 (0: this process does not work that queue), " +
		"queue one of high-priority, normal, low-priority, email-priority, email-normal, whatsapp-priority, " +
		"whatsapp-normal, pdf-priority, pdf-normal, audit-normal (e.g. pdf-normal=2,audit-normal=0)"
	backoff := "1 to 20 comma-separated durations, each above 0 and at most 24h (e.g. 60s,300s,900s)"
	publicURL := "an absolute http or https URL without credentials, query, fragment or trailing slash, or empty"
	smtpURL := `SMTP_URL="%s": expected empty, or smtp://[user:password@]host[:port] (smtps:// for implicit TLS) ` +
		`with optional ?security=starttls|opportunistic|none (smtp:// only), timeout=<duration above 0, at most 5m> and helo=<name>; %s`
	smtpErr := func(value, detail string) string { return fmt.Sprintf(smtpURL, value, detail) }
	apiURL := "an absolute http or https URL without credentials, query, fragment or trailing slash (e.g. https://graph.facebook.com)"
	version := "a Graph API version: v, digits, a dot and digits (e.g. v21.0)"
	phoneID := "the Cloud API phone number ID, 1 to 32 digits (not the phone number itself), or empty"
	token := "a Cloud API access token of at most 1024 printable ASCII characters without spaces, or empty"
	appSecret := "the Meta app secret of at most 1024 printable ASCII characters without spaces, or empty"
	verify := "a webhook verify token of at most 1024 printable ASCII characters without spaces, or empty"
	adminToken := "an API token of 32 to 1024 printable ASCII characters without spaces, or empty"
	const tooShort = ": the token must be at least 32 characters (e.g. generated with openssl rand -base64 32 or insure token create)"
	const notPrintable = "; it holds a space or a character that is not printable ASCII"
	templates := `empty, or a JSON object whose keys are among quotation, renewal_reminder and ` +
		`policy_confirmation, each {"name": …, "language": …, "params": […]} with name 1 to 512 lower-case letters, ` +
		`digits and underscores, language a code such as en or en_US, and params at most 20 non-empty data field names ` +
		`(e.g. {"quotation": {"name": "insure_quotation", "language": "en", "params": ["CustomerName", "QuotationID"]}})`
	tmplErr := func(value, detail string) string {
		return fmt.Sprintf("WHATSAPP_TEMPLATES=%q: expected %s; %s", value, templates, detail)
	}
	tests := []struct {
		name, value, want string
	}{
		{"SMTP_URL", "mail.example.com:587", smtpErr("mail.example.com:587", "the scheme must be smtp:// or smtps://")},
		{"SMTP_URL", "http://mail.example.com", smtpErr("http://mail.example.com", "the scheme must be smtp:// or smtps://")},
		{"SMTP_URL", "smtp://", smtpErr("smtp://", "the host is missing")},
		{"SMTP_URL", "smtp://user:pw@:587", smtpErr("smtp://user:xxxxx@:587", "the host is missing")},
		{"SMTP_URL", "smtp:mail.example.com", smtpErr("smtp:mail.example.com", "the host is missing")},
		{"SMTP_URL", `smtp://mail"example.com`, smtpErr(`smtp://mail\"example.com`, "the host is not a host name or IP address")},
		{"SMTP_URL", "smtp://u%0A:pw@mail.example.com", smtpErr("smtp://u%0A:xxxxx@mail.example.com", "the user name has a control character")},
		{"SMTP_URL", "smtp://mail.example.com:", smtpErr("smtp://mail.example.com:", "the port must be from 1 to 65535")},
		{"SMTP_URL", "smtp://mail.example.com:65536", smtpErr("smtp://mail.example.com:65536", "the port must be from 1 to 65535")},
		{"SMTP_URL", "smtp://mail.example.com:smtp", smtpErr("smtp://mail.example.com:smtp",
			`it is not a valid URL (percent-encode reserved characters in the user name and password, e.g. "@" as %40 and "/" as %2F)`)},
		{"SMTP_URL", "smtp://mail.example.com/inbox", smtpErr("smtp://mail.example.com/inbox", `a path is not allowed (percent-encode "/" in the password as %2F)`)},
		{"SMTP_URL", "smtp://mail.example.com#tls", smtpErr("smtp://mail.example.com#tls", `a fragment is not allowed (percent-encode "#" in the password as %23)`)},
		{"SMTP_URL", "smtp://mail.example.com#", smtpErr("smtp://mail.example.com#", `a fragment is not allowed (percent-encode "#" in the password as %23)`)},
		{"SMTP_URL", "smtp://apikey@mail.example.com", smtpErr("smtp://apikey@mail.example.com",
			"the user has no password: give user:password@ (AUTH needs both), or neither")},
		{"SMTP_URL", "smtp://apikey:@mail.example.com", smtpErr("smtp://apikey:xxxxx@mail.example.com",
			"the user has no password: give user:password@ (AUTH needs both), or neither")},
		{"SMTP_URL", "smtp://:pw@mail.example.com", smtpErr("smtp://:xxxxx@mail.example.com",
			"the user name is empty: give user:password@, or neither")},
		{"SMTP_URL", "smtps://mail.example.com?security=starttls", smtpErr("smtps://mail.example.com?security=starttls",
			"smtps:// always uses implicit TLS: leave out security=, or use smtp://")},
		{"SMTP_URL", "smtp://mail.example.com?security=tls", smtpErr("smtp://mail.example.com?security=tls", "for implicit TLS use smtps://")},
		{"SMTP_URL", "smtp://mail.example.com?tls=1", smtpErr("smtp://mail.example.com?tls=1", "the only options are security, timeout and helo")},
		{"SMTP_URL", "smtp://mail.example.com?Security=none", smtpErr("smtp://mail.example.com?Security=none", "the only options are security, timeout and helo")},
		{"SMTP_URL", "smtp://mail.example.com?security=none&security=starttls",
			smtpErr("smtp://mail.example.com?security=none&security=starttls", "each option may be given once")},
		{"SMTP_URL", "smtp://mail.example.com?security=STARTTLS", smtpErr("smtp://mail.example.com?security=STARTTLS", "security must be starttls, opportunistic or none")},
		{"SMTP_URL", "smtp://mail.example.com?timeout=30", smtpErr("smtp://mail.example.com?timeout=30",
			"timeout must be a duration above 0 and at most 5m, with a unit (e.g. 30s)")},
		{"SMTP_URL", "smtp://mail.example.com?timeout=0s", smtpErr("smtp://mail.example.com?timeout=0s",
			"timeout must be a duration above 0 and at most 5m, with a unit (e.g. 30s)")},
		{"SMTP_URL", "smtp://mail.example.com?timeout=5m1s", smtpErr("smtp://mail.example.com?timeout=5m1s",
			"timeout must be a duration above 0 and at most 5m, with a unit (e.g. 30s)")},
		{"SMTP_URL", "smtp://mail.example.com?helo=", smtpErr("smtp://mail.example.com?helo=", "helo must be a host name (printable ASCII without spaces)")},
		{"SMTP_URL", "smtp://mail.example.com?helo=a%20b", smtpErr("smtp://mail.example.com?helo=a%20b", "helo must be a host name (printable ASCII without spaces)")},
		{"SMTP_URL", "smtp://mail.example.com?helo=%zz", smtpErr("smtp://mail.example.com?helo=%zz",
			`the options are not a valid query string (percent-encode "?" in the password as %3F)`)},
		// A password holding reserved characters may be taken for the host or
		// the options; the error neither quotes nor shows it.
		{"SMTP_URL", "smtp://u:12?security=hunter2@mail.example.com", smtpErr("smtp://u:xxxxx@mail.example.com",
			"security must be starttls, opportunistic or none")},
		{"SMTP_URL", "smtp://u:pa#ss@mail.example.com", smtpErr("smtp://u:xxxxx@mail.example.com",
			`it is not a valid URL (percent-encode reserved characters in the user name and password, e.g. "@" as %40 and "/" as %2F)`)},
		{"WHATSAPP_API_URL", "", `WHATSAPP_API_URL="": expected ` + apiURL},
		{"WHATSAPP_API_URL", "graph.facebook.com", `WHATSAPP_API_URL="graph.facebook.com": expected ` + apiURL},
		{"WHATSAPP_API_URL", "https://graph.facebook.com/", `WHATSAPP_API_URL="https://graph.facebook.com/": expected ` + apiURL},
		{"WHATSAPP_API_URL", "https://graph.facebook.com?x=1", `WHATSAPP_API_URL="https://graph.facebook.com?x=1": expected ` + apiURL},
		{"WHATSAPP_API_URL", "https://graph.facebook.com#x", `WHATSAPP_API_URL="https://graph.facebook.com#x": expected ` + apiURL},
		{"WHATSAPP_API_VERSION", "", `WHATSAPP_API_VERSION="": expected ` + version},
		{"WHATSAPP_API_VERSION", "V21.0", `WHATSAPP_API_VERSION="V21.0": expected ` + version},
		{"WHATSAPP_API_VERSION", "v21.", `WHATSAPP_API_VERSION="v21.": expected ` + version},
		{"WHATSAPP_API_VERSION", "v21.0.1", `WHATSAPP_API_VERSION="v21.0.1": expected ` + version},
		{"WHATSAPP_API_VERSION", "v.0", `WHATSAPP_API_VERSION="v.0": expected ` + version},
		{"WHATSAPP_PHONE_NUMBER_ID", "12a", `WHATSAPP_PHONE_NUMBER_ID="12a": expected ` + phoneID},
		{"WHATSAPP_PHONE_NUMBER_ID", "-1", `WHATSAPP_PHONE_NUMBER_ID="-1": expected ` + phoneID},
		{"WHATSAPP_PHONE_NUMBER_ID", strings.Repeat("9", 33), `WHATSAPP_PHONE_NUMBER_ID="` + strings.Repeat("9", 33) + `": expected ` + phoneID},
		// Secrets: the value is never quoted, whatever is wrong with it.
		{"WHATSAPP_TOKEN", "t0k\x00en", `WHATSAPP_TOKEN="(set)": expected ` + token + notPrintable},
		{"WHATSAPP_TOKEN", strings.Repeat("t", 1025), `WHATSAPP_TOKEN="(set)": expected ` + token + "; it is 1025 characters long"},
		{"WHATSAPP_APP_SECRET", "s3cret\x7f", `WHATSAPP_APP_SECRET="(set)": expected ` + appSecret + notPrintable},
		{"WHATSAPP_APP_SECRET", "s3cr\u00e9t", `WHATSAPP_APP_SECRET="(set)": expected ` + appSecret + notPrintable},
		{"WHATSAPP_APP_SECRET", "s3c ret", `WHATSAPP_APP_SECRET="(set)": expected ` + appSecret + notPrintable},
		{"WHATSAPP_APP_SECRET", strings.Repeat("s", 1025), `WHATSAPP_APP_SECRET="(set)": expected ` + appSecret + "; it is 1025 characters long"},
		{"WHATSAPP_APP_SECRET", strings.Repeat("\u00e9", 600), `WHATSAPP_APP_SECRET="(set)": expected ` + appSecret + "; it is 1200 characters long"},
		{"WHATSAPP_WEBHOOK_VERIFY_TOKEN", "v3rify\x00", `WHATSAPP_WEBHOOK_VERIFY_TOKEN="(set)": expected ` + verify + notPrintable},
		{"WHATSAPP_WEBHOOK_VERIFY_TOKEN", "v3rify\nme", `WHATSAPP_WEBHOOK_VERIFY_TOKEN="(set)": expected ` + verify + notPrintable},
		{"WHATSAPP_WEBHOOK_VERIFY_TOKEN", "v3rify me", `WHATSAPP_WEBHOOK_VERIFY_TOKEN="(set)": expected ` + verify + notPrintable},
		{"WHATSAPP_WEBHOOK_VERIFY_TOKEN", strings.Repeat("v", 1025), `WHATSAPP_WEBHOOK_VERIFY_TOKEN="(set)": expected ` + verify + "; it is 1025 characters long"},
		{"INSURE_ADMIN_TOKEN", "a", `INSURE_ADMIN_TOKEN="(set)": expected ` + adminToken + "; it is 1 character long" + tooShort},
		{"INSURE_ADMIN_TOKEN", strings.Repeat("a", 31), `INSURE_ADMIN_TOKEN="(set)": expected ` + adminToken + "; it is 31 characters long" + tooShort},
		{"INSURE_ADMIN_TOKEN", " " + strings.Repeat("a", 31) + "\n", `INSURE_ADMIN_TOKEN="(set)": expected ` + adminToken + "; it is 31 characters long" + tooShort},
		{"INSURE_ADMIN_TOKEN", strings.Repeat("a", 16) + " " + strings.Repeat("a", 16), `INSURE_ADMIN_TOKEN="(set)": expected ` + adminToken + notPrintable},
		{"INSURE_ADMIN_TOKEN", strings.Repeat("a", 32) + "\x00", `INSURE_ADMIN_TOKEN="(set)": expected ` + adminToken + notPrintable},
		{"INSURE_ADMIN_TOKEN", strings.Repeat("a", 32) + "\x7f", `INSURE_ADMIN_TOKEN="(set)": expected ` + adminToken + notPrintable},
		{"INSURE_ADMIN_TOKEN", strings.Repeat("\u00e9", 16), `INSURE_ADMIN_TOKEN="(set)": expected ` + adminToken + notPrintable},
		{"INSURE_ADMIN_TOKEN", "sh\tort", `INSURE_ADMIN_TOKEN="(set)": expected ` + adminToken + notPrintable},
		{"INSURE_ADMIN_TOKEN", strings.Repeat("a", 1025), `INSURE_ADMIN_TOKEN="(set)": expected ` + adminToken + "; it is 1025 characters long"},
		{"WHATSAPP_TEMPLATES", "quotation=insure_quotation", tmplErr("quotation=insure_quotation", "the value is not a JSON object")},
		{"WHATSAPP_TEMPLATES", "[]", tmplErr("[]", "the value is not a JSON object")},
		{"WHATSAPP_TEMPLATES", "null", tmplErr("null", "the value is not a JSON object")},
		{"WHATSAPP_TEMPLATES", `{"quotation": {"name": "q", "language": "en"}`, tmplErr(`{"quotation": {"name": "q", "language": "en"}`,
			"invalid JSON: the object is not closed")},
		{"WHATSAPP_TEMPLATES", `{"quotation": {"name": "q", "language": "en"}} {}`, tmplErr(`{"quotation": {"name": "q", "language": "en"}} {}`,
			"unexpected data after the JSON object")},
		{"WHATSAPP_TEMPLATES", `{"quotation": {"name": "q", "language": "en"},}`, tmplErr(`{"quotation": {"name": "q", "language": "en"},}`,
			"invalid JSON: invalid character '}' looking for beginning of object key string")},
		{"WHATSAPP_TEMPLATES", `{"quotation" {}}`, tmplErr(`{"quotation" {}}`, "invalid JSON: expected colon after object key")},
		{"WHATSAPP_TEMPLATES", `{"quotation": {"name": "a", "language": "en"}, "quotation": {"name": "b", "language": "en"}}`,
			tmplErr(`{"quotation": {"name": "a", "language": "en"}, "quotation": {"name": "b", "language": "en"}}`, `"quotation" is given twice`)},
		{"WHATSAPP_TEMPLATES", `{"quotation": {"name": "q", "lang": "en"}}`, tmplErr(`{"quotation": {"name": "q", "lang": "en"}}`,
			`quotation: unknown field "lang"`)},
		{"WHATSAPP_TEMPLATES", `{"quotation": "insure_quotation"}`, tmplErr(`{"quotation": "insure_quotation"}`,
			"quotation: expected an object, got string")},
		{"WHATSAPP_TEMPLATES", `{"quotation": {"name": 1, "language": "en"}}`, tmplErr(`{"quotation": {"name": 1, "language": "en"}}`,
			"quotation: name must be a string, got number")},
		{"WHATSAPP_TEMPLATES", `{"quotation": {"name": "q", "language": "en", "params": "CustomerName"}}`,
			tmplErr(`{"quotation": {"name": "q", "language": "en", "params": "CustomerName"}}`, "quotation: params must be an array of strings, got string")},
		{"WHATSAPP_TEMPLATES", `{"quotation": {"name": "q", "language": "en", "params": [1]}}`,
			tmplErr(`{"quotation": {"name": "q", "language": "en", "params": [1]}}`, "quotation: params must be an array of strings, got number")},
		{"WHATSAPP_TEMPLATES", `{"quotation": null}`, tmplErr(`{"quotation": null}`,
			`quotation: name "" is not 1 to 512 lower-case letters, digits and underscores`)},
		{"WHATSAPP_TEMPLATES", `{"renewal_reminder": {"name": "insure-renewal", "language": "en"}}`,
			tmplErr(`{"renewal_reminder": {"name": "insure-renewal", "language": "en"}}`,
				`renewal_reminder: name "insure-renewal" is not 1 to 512 lower-case letters, digits and underscores`)},
		{"WHATSAPP_TEMPLATES", `{"quotation": {"name": "` + strings.Repeat("q", 513) + `", "language": "en"}}`,
			tmplErr(`{"quotation": {"name": "`+strings.Repeat("q", 513)+`", "language": "en"}}`,
				`quotation: name "`+strings.Repeat("q", 513)+`" is not 1 to 512 lower-case letters, digits and underscores`)},
		{"WHATSAPP_TEMPLATES", `{"quotation": {"name": "q", "language": "en-US"}}`, tmplErr(`{"quotation": {"name": "q", "language": "en-US"}}`,
			`quotation: language "en-US" is not a code such as en or en_US`)},
		{"WHATSAPP_TEMPLATES", `{"quotation": {"name": "q"}}`, tmplErr(`{"quotation": {"name": "q"}}`,
			`quotation: language "" is not a code such as en or en_US`)},
		{"WHATSAPP_TEMPLATES", `{"quotation": {"name": "q", "language": "en", "params": ["CustomerName", ""]}}`,
			tmplErr(`{"quotation": {"name": "q", "language": "en", "params": ["CustomerName", ""]}}`, "quotation: params[1] is empty")},
		{"WHATSAPP_TEMPLATES", `{"quotation": {"name": "q", "language": "en", "params": [` + strings.Repeat(`"P",`, 20) + `"P"]}}`,
			tmplErr(`{"quotation": {"name": "q", "language": "en", "params": [`+strings.Repeat(`"P",`, 20)+`"P"]}}`, "quotation: 21 params, more than 20")},
		{"WHATSAPP_TEMPLATES", `{"Quotation": {"name": "q", "language": "en"}}`, tmplErr(`{"Quotation": {"name": "q", "language": "en"}}`,
			`"Quotation" is not a template (known: quotation, renewal_reminder, policy_confirmation)`)},
		{"QUEUE_WORKERS", "billing=2", `QUEUE_WORKERS="billing=2": expected ` + workers + `; "billing" is not a queue`},
		{"QUEUE_WORKERS", "normal=2,normal=3", `QUEUE_WORKERS="normal=2,normal=3": expected ` + workers + `; "normal" is given twice`},
		{"QUEUE_WORKERS", "normal", `QUEUE_WORKERS="normal": expected ` + workers + `; "normal" is not queue=N`},
		{"QUEUE_WORKERS", "normal=2,", `QUEUE_WORKERS="normal=2,": expected ` + workers + `; "" is not queue=N`},
		{"QUEUE_WORKERS", "normal=-1", `QUEUE_WORKERS="normal=-1": expected ` + workers + `; "-1" for normal is not an integer from 0 to 1000`},
		{"QUEUE_BACKOFF", "", `QUEUE_BACKOFF="": expected ` + backoff + `; "" is not a duration with a unit`},
		{"QUEUE_BACKOFF", "60s,0s", `QUEUE_BACKOFF="60s,0s": expected ` + backoff + `; 0s is out of range`},
		{"QUEUE_BACKOFF", "60", `QUEUE_BACKOFF="60": expected ` + backoff + `; "60" is not a duration with a unit`},
		{"QUEUE_BACKOFF", strings.Repeat("1s,", 20) + "1s", `QUEUE_BACKOFF="` + strings.Repeat("1s,", 20) + `1s": expected ` + backoff + `; got 21`},
		{"QUOTE_HIGH_VALUE_THRESHOLD", "1,00,00,000", `QUOTE_HIGH_VALUE_THRESHOLD="1,00,00,000": expected a whole number of minor units, 0 or more (e.g. 100000000 paise for ₹10 lakh); write it without digit separators`},
		{"QUOTE_HIGH_VALUE_THRESHOLD", "-5", `QUOTE_HIGH_VALUE_THRESHOLD="-5": expected a whole number of minor units, 0 or more (e.g. 100000000 paise for ₹10 lakh)`},
		{"QUOTE_HIGH_VALUE_THRESHOLD", "99999999999999999999", `QUOTE_HIGH_VALUE_THRESHOLD="99999999999999999999": expected a whole number of minor units, 0 or more (e.g. 100000000 paise for ₹10 lakh)`},
		{"QUEUE_MAX_ATTEMPTS", "", `QUEUE_MAX_ATTEMPTS="": expected an integer from 1 to 100`},
		{"QUEUE_MAX_ATTEMPTS", "3.0", `QUEUE_MAX_ATTEMPTS="3.0": expected an integer from 1 to 100`},
		{"HTTP_ADDR", "127.0.0.1:http", `HTTP_ADDR="127.0.0.1:http": expected host:port with a port from 0 to 65535 (e.g. 127.0.0.1:8080 or :8080)`},
		{"PDF_GENERATION_ASYNC", "sometimes", `PDF_GENERATION_ASYNC="sometimes": expected true (also 1, yes, any case)`},
		{"DATABASE_URL", "sqlite://", `DATABASE_URL="sqlite://": expected a file path after sqlite:// (e.g. sqlite://./insure.db or sqlite:///var/lib/insure/insure.db)`},
		{"CURRENCY", "INRS", `CURRENCY="INRS": expected an ISO 4217 code of three upper-case letters (e.g. INR)`},
		{"QUEUE_FETCH_COOLDOWN", "", `QUEUE_FETCH_COOLDOWN="": expected a duration from 1ms to 1m with a unit (e.g. 90s, 15m, 2h)`},
		{"QUEUE_FETCH_COOLDOWN", "999us", `QUEUE_FETCH_COOLDOWN="999us": expected a duration from 1ms to 1m with a unit (e.g. 90s, 15m, 2h)`},
		{"QUEUE_FETCH_COOLDOWN", "1m1ms", `QUEUE_FETCH_COOLDOWN="1m1ms": expected a duration from 1ms to 1m with a unit (e.g. 90s, 15m, 2h)`},
		{"QUEUE_FETCH_POLL_INTERVAL", "0s", `QUEUE_FETCH_POLL_INTERVAL="0s": expected a duration from 1ms to 10m with a unit (e.g. 90s, 15m, 2h)`},
		{"QUEUE_FETCH_POLL_INTERVAL", "10m1s", `QUEUE_FETCH_POLL_INTERVAL="10m1s": expected a duration from 1ms to 10m with a unit (e.g. 90s, 15m, 2h)`},
		{"DB_MAX_CONNS", "", `DB_MAX_CONNS="": expected an integer from 2 to 1000`},
		{"DB_MAX_CONNS", "1001", `DB_MAX_CONNS="1001": expected an integer from 2 to 1000`},
		{"DB_MAX_CONNS", "16.0", `DB_MAX_CONNS="16.0": expected an integer from 2 to 1000`},
		{"PUBLIC_URL", "insure.example.com", `PUBLIC_URL="insure.example.com": expected ` + publicURL},
		{"PUBLIC_URL", "/api", `PUBLIC_URL="/api": expected ` + publicURL},
		{"PUBLIC_URL", "http://", `PUBLIC_URL="http://": expected ` + publicURL},
		{"PUBLIC_URL", "http://[::1", `PUBLIC_URL="http://[::1": expected ` + publicURL},
		{"PUBLIC_URL", "https://insure.example.com/app/", `PUBLIC_URL="https://insure.example.com/app/": expected ` + publicURL},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			_, err := config.FromEnv(env(map[string]string{tt.name: tt.value}))
			if err == nil {
				t.Fatalf("FromEnv(%s=%q) = nil error, want %s", tt.name, tt.value, tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromEnvAccepts(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, value string
		check       func(config.Config) bool
	}{
		{"QUEUE_WORKERS", "", func(c config.Config) bool { return cmp.Equal(c.QueueWorkers, config.Default().QueueWorkers) }},
		{"QUEUE_WORKERS", "email-normal=1000", func(c config.Config) bool { return c.QueueWorkers["email-normal"] == 1000 }},
		{"QUEUE_BACKOFF", "24h", func(c config.Config) bool { return slices.Equal(c.QueueBackoff, []time.Duration{24 * time.Hour}) }},
		{"HTTP_ADDR", "[::1]:65535", func(c config.Config) bool { return c.HTTPAddr == "[::1]:65535" }},
		{"LOG_LEVEL", "Warn", func(c config.Config) bool { return c.LogLevel == slog.LevelWarn }},
		{"LOG_LEVEL", "error", func(c config.Config) bool { return c.LogLevel == slog.LevelError }},
		{"QUEUE_JOB_TIMEOUT", "100ms", func(c config.Config) bool { return c.QueueJobTimeout == 100*time.Millisecond }},
		{"QUEUE_JOB_TIMEOUT", "1h", func(c config.Config) bool { return c.QueueJobTimeout == time.Hour }},
		{"EXPIRY_SCAN_INTERVAL", "168h", func(c config.Config) bool { return c.ExpiryScanInterval == 168*time.Hour }},
		{"WHATSAPP_API_ENABLED", "FALSE", func(c config.Config) bool { return !c.WhatsAppEnabled }},
		{"EMAIL_QUEUE_ENABLED", "yes", func(c config.Config) bool { return c.EmailQueueEnabled }},
		{"RATE_TABLE_FILE", "", func(c config.Config) bool { return c.RateTableFile == "" }},
		{"DATABASE_URL", "/tmp/x.db", func(c config.Config) bool { return c.DatabaseURL == "/tmp/x.db" }},
		{"QUOTE_HIGH_VALUE_THRESHOLD", "9223372036854775807", func(c config.Config) bool { return c.QuoteHighValueThreshold == 1<<63-1 }},
		{"QUEUE_FETCH_COOLDOWN", "1ms", func(c config.Config) bool { return c.QueueFetchCooldown == time.Millisecond }},
		{"QUEUE_FETCH_COOLDOWN", "1m", func(c config.Config) bool { return c.QueueFetchCooldown == time.Minute }},
		{"QUEUE_FETCH_POLL_INTERVAL", "1ms", func(c config.Config) bool { return c.QueueFetchPollInterval == time.Millisecond }},
		{"QUEUE_FETCH_POLL_INTERVAL", "10m", func(c config.Config) bool { return c.QueueFetchPollInterval == 10*time.Minute }},
		{"DB_MAX_CONNS", "2", func(c config.Config) bool { return c.DBMaxConns == 2 }},
		{"DB_MAX_CONNS", "1000", func(c config.Config) bool { return c.DBMaxConns == 1000 }},
		{"TEMPLATES_DIR", "", func(c config.Config) bool { return c.TemplatesDir == "" }},
		{"PUBLIC_URL", "", func(c config.Config) bool { return c.PublicURL == "" }},
		{"PUBLIC_URL", "http://127.0.0.1:8080", func(c config.Config) bool { return c.PublicURL == "http://127.0.0.1:8080" }},
		{"PUBLIC_URL", "https://example.com/insure", func(c config.Config) bool { return c.PublicURL == "https://example.com/insure" }},
		{"SMTP_URL", "", func(c config.Config) bool { return c.SMTPURL == "" && c.EffectiveMailDriver() == "log" }},
		{"SMTP_URL", "smtp://mail.example.com", func(c config.Config) bool { return c.EffectiveMailDriver() == "smtp" }},
		{"SMTP_URL", "SMTP://mail.example.com:25/", func(c config.Config) bool { return c.SMTPURL == "SMTP://mail.example.com:25/" }},
		{"SMTP_URL", "smtp://[::1]:2525?security=none", func(c config.Config) bool { return c.SMTPURL == "smtp://[::1]:2525?security=none" }},
		{"SMTP_URL", "smtp://apikey:k@mail.example.com:587?security=opportunistic&timeout=5m&helo=insure-1", func(c config.Config) bool {
			return c.SMTPURL == "smtp://apikey:k@mail.example.com:587?security=opportunistic&timeout=5m&helo=insure-1"
		}},
		{"SMTP_URL", "smtps://u%40x:p%2Fw%23%3F@mail.example.com:465?security=tls&timeout=1ms", func(c config.Config) bool {
			return c.SMTPURL == "smtps://u%40x:p%2Fw%23%3F@mail.example.com:465?security=tls&timeout=1ms"
		}},
		{"WHATSAPP_API_URL", "https://graph.facebook.com:443", func(c config.Config) bool { return c.WhatsAppAPIURL == "https://graph.facebook.com:443" }},
		{"WHATSAPP_API_VERSION", "v1.10", func(c config.Config) bool { return c.WhatsAppAPIVersion == "v1.10" }},
		{"WHATSAPP_PHONE_NUMBER_ID", "", func(c config.Config) bool { return c.WhatsAppPhoneNumberID == "" }},
		{"WHATSAPP_TOKEN", "", func(c config.Config) bool { return c.WhatsAppToken == "" }},
		{"WHATSAPP_APP_SECRET", "", func(c config.Config) bool { return c.WhatsAppAppSecret == "" }},
		{"WHATSAPP_APP_SECRET", "  \t", func(c config.Config) bool { return c.WhatsAppAppSecret == "" }},
		{"WHATSAPP_WEBHOOK_VERIFY_TOKEN", "", func(c config.Config) bool { return c.WhatsAppWebhookVerifyToken == "" }},
		{"INSURE_ADMIN_TOKEN", "", func(c config.Config) bool { return c.AdminToken == "" }},
		{"INSURE_ADMIN_TOKEN", "  \t", func(c config.Config) bool { return c.AdminToken == "" }},
		{"INSURE_ADMIN_TOKEN", strings.Repeat("x", 32), func(c config.Config) bool { return c.AdminToken == strings.Repeat("x", 32) }},
		{"INSURE_ADMIN_TOKEN", strings.Repeat("~", 1024), func(c config.Config) bool { return c.AdminToken == strings.Repeat("~", 1024) }},
		{"INSURE_ADMIN_TOKEN", "!\"#$%&'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}~", func(c config.Config) bool {
			return c.AdminToken == "!\"#$%&'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}~"
		}},
		{"WHATSAPP_TEMPLATES", "", func(c config.Config) bool { return c.WhatsAppTemplates != nil && len(c.WhatsAppTemplates) == 0 }},
		{"WHATSAPP_TEMPLATES", "{}", func(c config.Config) bool { return c.WhatsAppTemplates != nil && len(c.WhatsAppTemplates) == 0 }},
		{"WHATSAPP_TEMPLATES", `{"policy_confirmation": {"name": "p", "language": "en", "params": []}}`, func(c config.Config) bool {
			p := c.WhatsAppTemplates["policy_confirmation"].Params
			return p != nil && len(p) == 0
		}},
		{"WHATSAPP_TEMPLATES", `{"quotation": {"name": "` + strings.Repeat("q", 512) + `", "language": "fil", "params": [` +
			strings.Repeat(`"P",`, 19) + `"P"]}}`, func(c config.Config) bool {
			return len(c.WhatsAppTemplates["quotation"].Params) == 20
		}},
		{"MAIL_DRIVER", "Auto", func(c config.Config) bool { return c.MailDriver == "auto" }},
		{"MAIL_DRIVER", "log", func(c config.Config) bool { return c.MailDriver == "log" && c.EffectiveMailDriver() == "log" }},
		{"WHATSAPP_DRIVER", "LOG", func(c config.Config) bool { return c.WhatsAppDriver == "log" }},
		{"BREAKER_FAILURES", "1", func(c config.Config) bool { return c.BreakerFailures == 1 }},
		{"BREAKER_FAILURES", "1000", func(c config.Config) bool { return c.BreakerFailures == 1000 }},
		{"BREAKER_OPEN_FOR", "100ms", func(c config.Config) bool { return c.BreakerOpenFor == 100*time.Millisecond }},
		{"BREAKER_OPEN_FOR", "1h", func(c config.Config) bool { return c.BreakerOpenFor == time.Hour }},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			c, err := config.FromEnv(env(map[string]string{tt.name: tt.value}))
			if err != nil {
				t.Fatalf("FromEnv(%s=%q) error: %v", tt.name, tt.value, err)
			}
			if !tt.check(c) {
				t.Errorf("FromEnv(%s=%q) did not apply the value: %v", tt.name, tt.value, c.Redacted())
			}
		})
	}
}

func TestValidateZeroConfig(t *testing.T) {
	t.Parallel()

	// A zero Config (someone forgot Default) fails loudly, naming every
	// variable without a usable zero value.
	var names []string
	for _, e := range configErrors(t, config.Config{}.Validate()) {
		names = append(names, e.Var)
	}
	want := []string{
		"DATABASE_URL", "SQLITE_SYNCHRONOUS", "HTTP_ADDR", "MAIL_FROM", "ADMIN_EMAIL", "QUEUE_BACKOFF",
		"QUEUE_MAX_ATTEMPTS", "QUEUE_JOB_TIMEOUT", "SHUTDOWN_GRACE", "QUEUE_FETCH_COOLDOWN", "QUEUE_FETCH_POLL_INTERVAL",
		"DB_MAX_CONNS", "HTTP_REQUEST_TIMEOUT", "QUEUE_SNOOZE", "BREAKER_FAILURES", "BREAKER_OPEN_FOR", "QUEUE_WORKERS", "MAX_EVENTS_PER_BATCH",
		"DOCUMENTS_DIR", "ARCHIVE_DIR", "CURRENCY", "EXPIRY_SCAN_INTERVAL", "EVENT_RETENTION_DAYS", "PDF_GENERATION_ASYNC",
		"LOG_FORMAT", "READY_QUEUE_LAG", "READY_PROJECTION_LAG", "DASHBOARD_SESSION_TTL", "IDEMPOTENCY_KEY_TTL", "OTEL_SERVICE_NAME",
		"MAIL_DRIVER", "WHATSAPP_DRIVER", "WHATSAPP_API_URL", "WHATSAPP_API_VERSION",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("Config{}.Validate() variables mismatch (-want +got):\n%s", diff)
	}
}

func TestSetUnknownVariable(t *testing.T) {
	t.Parallel()

	c := config.Default()
	err := c.Set("QUEUE_WORKER", "normal=1")
	if err == nil || !strings.HasPrefix(err.Error(), `config: unknown variable "QUEUE_WORKER"; known: DATABASE_URL, `) {
		t.Errorf("Set(unknown) = %v, want an unknown-variable error listing the known ones", err)
	}
}

func TestRedactedPostgresPassword(t *testing.T) {
	t.Parallel()

	const secret = "s3cret-Pa55"
	url := "postgres://app:" + secret + "@db.internal:5432/insure?sslmode=disable"

	c, err := config.FromEnv(env(map[string]string{"DATABASE_URL": url}))
	if err != nil {
		t.Fatalf("FromEnv error: %v", err)
	}
	if c.DatabaseURL != url {
		t.Errorf("DatabaseURL = %q, want the URL in clear for connecting", c.DatabaseURL)
	}
	r := c.Redacted()
	if got, want := r["DATABASE_URL"], "postgres://app:xxxxx@db.internal:5432/insure?sslmode=disable"; got != want {
		t.Errorf("Redacted()[DATABASE_URL] = %q, want %q", got, want)
	}
	if diff := cmp.Diff(len(config.Vars()), len(r)); diff != "" {
		t.Errorf("Redacted() has a different number of keys than Vars():\n%s", diff)
	}
	for k, v := range r {
		if strings.Contains(v, secret) {
			t.Errorf("Redacted()[%s] = %q leaks the password", k, v)
		}
	}

	// Errors from FromEnv, from Validate on the struct, and from
	// ParseDatabaseURL never echo it.
	bad := "postgres://app:" + secret + "@db.internal:abc/insure"
	_, envErr := config.FromEnv(env(map[string]string{"DATABASE_URL": bad, "QUEUE_MAX_ATTEMPTS": "0"}))
	c = config.Default()
	c.DatabaseURL = bad
	validateErr := c.Validate()
	_, parseErr := config.ParseDatabaseURL(bad)
	setErr := c.Set("DATABASE_URL", "mysql://app:"+secret+"@db/insure")
	for _, err := range []error{envErr, validateErr, parseErr, setErr} {
		if err == nil {
			t.Fatal("got nil error for an invalid DATABASE_URL")
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks the password: %v", err)
		}
		errs := configErrors(t, err)
		if errs[0].Var != "DATABASE_URL" || strings.Contains(errs[0].Value, secret) || !strings.Contains(errs[0].Value, "xxxxx") {
			t.Errorf("Error = %+v, want DATABASE_URL with the password redacted", errs[0])
		}
	}
	want := `DATABASE_URL="postgres://app:xxxxx@db.internal:abc/insure": expected a valid postgres:// URL ` +
		`(percent-encode reserved characters in the user name and password, e.g. "@" as %40)`
	if diff := cmp.Diff(want, validateErr.Error()); diff != "" {
		t.Errorf("Validate() error mismatch (-want +got):\n%s", diff)
	}
}

func TestRedactedRoundTrip(t *testing.T) {
	t.Parallel()

	// Redacted spells every value as its variable accepts it, so a
	// non-secret configuration survives a trip through it.
	c := config.Default()
	c.QueueBackoff = []time.Duration{1500 * time.Millisecond, 90 * time.Minute, 26 * time.Hour / 2}
	c.QueueWorkers["pdf-normal"] = 0
	c.LogLevel = slog.LevelWarn
	c.WhatsAppEnabled = false
	c.QuoteHighValueThreshold = 1
	c.RateTableFile = "rates.json"
	c.TemplatesDir = "templates"
	c.PublicURL = "https://insure.example.com/app"
	c.QueueFetchCooldown = 1500 * time.Microsecond
	c.QueueFetchPollInterval = 90 * time.Second
	c.DBMaxConns = 2
	c.MailDriver = "log"
	c.WhatsAppDriver = "log"
	c.WhatsAppAPIURL = "http://localhost:9090"
	c.WhatsAppAPIVersion = "v19.0"
	c.WhatsAppTemplates = map[string]config.WhatsAppTemplate{
		"quotation":           {Name: "q", Language: "en", Params: []string{"CustomerName", `Odd "name" <&>`}},
		"policy_confirmation": {Name: "p", Language: "en_GB", Params: []string{}},
		"renewal_reminder":    {Name: "r", Language: "fil"},
	}
	c.BreakerFailures = 1
	c.BreakerOpenFor = 1500 * time.Millisecond
	got, err := config.FromEnv(env(c.Redacted()))
	if err != nil {
		t.Fatalf("FromEnv(Redacted()) error: %v", err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

func TestWorkedQueues(t *testing.T) {
	t.Parallel()

	c := config.Default()
	c.QueueWorkers["pdf-normal"] = 0
	c.EmailQueueEnabled = false
	want := map[string]int{
		"high-priority": 10, "normal": 10, "low-priority": 5,
		"whatsapp-priority": 10, "whatsapp-normal": 10,
		"pdf-priority": 10, "audit-normal": 5,
	}
	if diff := cmp.Diff(want, c.WorkedQueues()); diff != "" {
		t.Errorf("WorkedQueues() mismatch (-want +got):\n%s", diff)
	}
	if got := config.Default().WorkedQueues(); !cmp.Equal(got, config.Default().QueueWorkers) {
		t.Errorf("Default().WorkedQueues() = %v, want every queue", got)
	}
}

func TestPublicURLRejectsCredentialsAndQuery(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"https://user:pw@insure.example", "https://insure.example?x=1", "https://insure.example#top"} {
		_, err := config.FromEnv(func(k string) (string, bool) {
			if k == "PUBLIC_URL" {
				return v, true
			}
			return "", false
		})
		if err == nil || !strings.Contains(err.Error(), "PUBLIC_URL") {
			t.Errorf("PUBLIC_URL=%q: want an error naming PUBLIC_URL, got %v", v, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("PUBLIC_URL error echoes the password: %v", err)
		}
	}
}

func TestCrossVariableRules(t *testing.T) {
	t.Parallel()

	const (
		smtpNeeded  = `SMTP_URL="": expected an smtp:// or smtps:// URL because MAIL_DRIVER is smtp (or set MAIL_DRIVER to auto or log)`
		idForDriver = `WHATSAPP_PHONE_NUMBER_ID="": expected the Cloud API phone number ID (1 to 32 digits) ` +
			`because WHATSAPP_DRIVER is cloudapi (or set WHATSAPP_DRIVER to auto or log)`
		tokenForDriver = `WHATSAPP_TOKEN="": expected a Cloud API access token ` +
			`because WHATSAPP_DRIVER is cloudapi (or set WHATSAPP_DRIVER to auto or log)`
		idForToken = `WHATSAPP_PHONE_NUMBER_ID="": expected the Cloud API phone number ID (1 to 32 digits) ` +
			`because WHATSAPP_TOKEN is set: the Cloud API needs both (or unset WHATSAPP_TOKEN)`
		tokenForID = `WHATSAPP_TOKEN="": expected a Cloud API access token ` +
			`because WHATSAPP_PHONE_NUMBER_ID is set: the Cloud API needs both (or unset WHATSAPP_PHONE_NUMBER_ID)`
		secretForVerify = `WHATSAPP_APP_SECRET="": expected the Meta app secret ` +
			`because WHATSAPP_WEBHOOK_VERIFY_TOKEN is set: the webhook needs both (or unset WHATSAPP_WEBHOOK_VERIFY_TOKEN)`
		verifyForSecret = `WHATSAPP_WEBHOOK_VERIFY_TOKEN="": expected a webhook verify token ` +
			`because WHATSAPP_APP_SECRET is set: the webhook needs both (or unset WHATSAPP_APP_SECRET)`
	)
	tests := []struct {
		name string
		env  map[string]string
		want []string // exact errors, in order; nil for valid
	}{
		{"smtp without SMTP_URL", map[string]string{"MAIL_DRIVER": "smtp"}, []string{smtpNeeded}},
		{"smtp with SMTP_URL", map[string]string{"MAIL_DRIVER": "smtp", "SMTP_URL": "smtp://mail.example.com"}, nil},
		{"log with SMTP_URL", map[string]string{"MAIL_DRIVER": "log", "SMTP_URL": "smtp://mail.example.com"}, nil},
		{"smtp with an invalid SMTP_URL reports it once", map[string]string{"MAIL_DRIVER": "smtp", "SMTP_URL": "smtp://:pw@"}, []string{
			`SMTP_URL="smtp://:xxxxx@": expected empty, or smtp://[user:password@]host[:port] (smtps:// for implicit TLS) ` +
				`with optional ?security=starttls|opportunistic|none (smtp:// only), timeout=<duration above 0, at most 5m> and helo=<name>; the host is missing`,
		}},
		{"cloudapi without either", map[string]string{"WHATSAPP_DRIVER": "cloudapi"}, []string{idForDriver, tokenForDriver}},
		{"cloudapi without the ID", map[string]string{"WHATSAPP_DRIVER": "cloudapi", "WHATSAPP_TOKEN": "t0ken"}, []string{idForDriver}},
		{"cloudapi without the token", map[string]string{"WHATSAPP_DRIVER": "cloudapi", "WHATSAPP_PHONE_NUMBER_ID": "1"}, []string{tokenForDriver}},
		{"cloudapi with both", map[string]string{"WHATSAPP_DRIVER": "cloudapi", "WHATSAPP_TOKEN": "t0ken", "WHATSAPP_PHONE_NUMBER_ID": "1"}, nil},
		{"token without the ID", map[string]string{"WHATSAPP_TOKEN": "t0ken"}, []string{idForToken}},
		{"ID without the token", map[string]string{"WHATSAPP_PHONE_NUMBER_ID": "1"}, []string{tokenForID}},
		{"token without the ID, log driver", map[string]string{"WHATSAPP_DRIVER": "log", "WHATSAPP_TOKEN": "t0ken"}, []string{idForToken}},
		{"an invalid ID is reported once", map[string]string{"WHATSAPP_TOKEN": "t0ken", "WHATSAPP_PHONE_NUMBER_ID": "x"}, []string{
			`WHATSAPP_PHONE_NUMBER_ID="x": expected the Cloud API phone number ID, 1 to 32 digits (not the phone number itself), or empty`,
		}},
		{"both drivers at once", map[string]string{"MAIL_DRIVER": "smtp", "WHATSAPP_PHONE_NUMBER_ID": "1"}, []string{smtpNeeded, tokenForID}},
		{"app secret without the verify token", map[string]string{"WHATSAPP_APP_SECRET": "s3cret"}, []string{verifyForSecret}},
		{"verify token without the app secret", map[string]string{"WHATSAPP_WEBHOOK_VERIFY_TOKEN": "v3rify"}, []string{secretForVerify}},
		{"app secret and verify token", map[string]string{"WHATSAPP_APP_SECRET": "s3cret", "WHATSAPP_WEBHOOK_VERIFY_TOKEN": "v3rify"}, nil},
		{"empty app secret and verify token", map[string]string{"WHATSAPP_APP_SECRET": "", "WHATSAPP_WEBHOOK_VERIFY_TOKEN": " "}, nil},
		{"webhook pair independent of the Cloud API pair", map[string]string{
			"WHATSAPP_APP_SECRET": "s3cret", "WHATSAPP_WEBHOOK_VERIFY_TOKEN": "v3rify", "WHATSAPP_DRIVER": "log",
		}, nil},
		{"webhook pair with cloudapi", map[string]string{
			"WHATSAPP_DRIVER": "cloudapi", "WHATSAPP_TOKEN": "t0ken", "WHATSAPP_PHONE_NUMBER_ID": "1", "WHATSAPP_APP_SECRET": "s3cret",
		}, []string{verifyForSecret}},
		{"both pairs half set", map[string]string{"WHATSAPP_TOKEN": "t0ken", "WHATSAPP_WEBHOOK_VERIFY_TOKEN": "v3rify"},
			[]string{idForToken, secretForVerify}},
		{"an invalid app secret is reported once", map[string]string{"WHATSAPP_APP_SECRET": "s3c ret", "WHATSAPP_WEBHOOK_VERIFY_TOKEN": "v3rify"}, []string{
			`WHATSAPP_APP_SECRET="(set)": expected the Meta app secret of at most 1024 printable ASCII characters without spaces, or empty; ` +
				`it holds a space or a character that is not printable ASCII`,
		}},
		{"an invalid verify token is reported once", map[string]string{"WHATSAPP_APP_SECRET": "s3cret", "WHATSAPP_WEBHOOK_VERIFY_TOKEN": "v3 rify"}, []string{
			`WHATSAPP_WEBHOOK_VERIFY_TOKEN="(set)": expected a webhook verify token of at most 1024 printable ASCII characters without spaces, or empty; ` +
				`it holds a space or a character that is not printable ASCII`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			_, err := config.FromEnv(env(tt.env))
			for _, e := range configErrors(t, err) {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FromEnv errors mismatch (-want +got):\n%s", diff)
			}

			// Validate on a Config set field by field says the same, unless
			// FromEnv rejected a value that Set rejects too.
			c := config.Default()
			for name, value := range tt.env {
				_ = c.Set(name, value)
			}
			got = nil
			for _, e := range configErrors(t, c.Validate()) {
				got = append(got, e.Error())
			}
			if strings.Contains(tt.name, "invalid") {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMasterKeyGivenOneWayOnly: INSURE_MASTER_KEY and INSURE_MASTER_KEY_FILE
// together are an error naming INSURE_MASTER_KEY_FILE, from FromEnv and from
// Validate, that never shows the key, valid or not.
func TestMasterKeyGivenOneWayOnly(t *testing.T) {
	t.Parallel()

	const (
		key      = "S3CRETkeyS3CRETkeyS3CRETkeyS3CRETkeyS3CRETA=" // 32 bytes in base64
		shortKey = "S3CRETkeyS3CRETkeyS3CRETkeyS3CRETkeyS3CREA==" // 31 bytes
		file     = "/etc/insure/master.key"
		twice    = `INSURE_MASTER_KEY_FILE="` + file + `": expected empty because INSURE_MASTER_KEY is set: give the master key one way only`
	)
	tests := []struct {
		name string
		env  map[string]string
		want []string // exact errors, in order; nil for valid
	}{
		{"key alone", map[string]string{"INSURE_MASTER_KEY": key}, nil},
		{"file alone", map[string]string{"INSURE_MASTER_KEY_FILE": file}, nil},
		{"both", map[string]string{"INSURE_MASTER_KEY": key, "INSURE_MASTER_KEY_FILE": file}, []string{twice}},
		{"both, the key padded with spaces", map[string]string{"INSURE_MASTER_KEY": "  " + key + "\n", "INSURE_MASTER_KEY_FILE": " " + file}, []string{twice}},
		// An invalid key is reported once, like the other rules' invalid
		// values, and still not shown.
		{"both, the key invalid", map[string]string{"INSURE_MASTER_KEY": shortKey, "INSURE_MASTER_KEY_FILE": file}, []string{
			`INSURE_MASTER_KEY="(set)": expected the base64 (standard, padded) encoding of 32 random bytes, e.g. from insure keys generate, or empty; ` +
				`it decodes to 31 bytes`,
		}},
		{"empty key and file", map[string]string{"INSURE_MASTER_KEY": " ", "INSURE_MASTER_KEY_FILE": ""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, envErr := config.FromEnv(env(tt.env))
			c := config.Default()
			for name, value := range tt.env {
				_ = c.Set(name, value)
			}
			validateErr := c.Validate()
			for _, check := range []struct {
				from string
				err  error
			}{{"FromEnv", envErr}, {"Validate", validateErr}} {
				var got []string
				for _, e := range configErrors(t, check.err) {
					got = append(got, e.Error())
					if strings.Contains(e.Error(), "S3CRET") || strings.Contains(e.Value, "S3CRET") {
						t.Errorf("%s error shows the master key: %v", check.from, e)
					}
				}
				if check.from == "Validate" && strings.Contains(tt.name, "invalid") {
					continue // Set refused the invalid key: Validate sees the file alone
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s errors mismatch (-want +got):\n%s", check.from, diff)
				}
			}
		})
	}
}

func TestEffectiveDrivers(t *testing.T) {
	t.Parallel()

	tests := []struct {
		env                 map[string]string
		wantMail, wantWhats string
	}{
		{nil, "log", "log"},
		{map[string]string{"SMTP_URL": "smtps://mail.example.com"}, "smtp", "log"},
		{map[string]string{"SMTP_URL": "smtps://mail.example.com", "MAIL_DRIVER": "log"}, "log", "log"},
		{map[string]string{"MAIL_DRIVER": "SMTP", "SMTP_URL": "smtp://mail.example.com"}, "smtp", "log"},
		{map[string]string{"WHATSAPP_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "1"}, "log", "cloudapi"},
		{map[string]string{"WHATSAPP_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "1", "WHATSAPP_DRIVER": "log"}, "log", "log"},
		{map[string]string{"WHATSAPP_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "1", "WHATSAPP_DRIVER": "cloudapi"}, "log", "cloudapi"},
		{map[string]string{"WHATSAPP_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "1", "WHATSAPP_API_ENABLED": "false"}, "log", "cloudapi"},
	}
	for _, tt := range tests {
		c, err := config.FromEnv(env(tt.env))
		if err != nil {
			t.Fatalf("FromEnv(%v) error: %v", tt.env, err)
		}
		if got := c.EffectiveMailDriver(); got != tt.wantMail {
			t.Errorf("FromEnv(%v).EffectiveMailDriver() = %q, want %q", tt.env, got, tt.wantMail)
		}
		if got := c.EffectiveWhatsAppDriver(); got != tt.wantWhats {
			t.Errorf("FromEnv(%v).EffectiveWhatsAppDriver() = %q, want %q", tt.env, got, tt.wantWhats)
		}
	}

	// Outside Validate, auto is resolved and anything else returned as is.
	c := config.Config{MailDriver: "auto", WhatsAppDriver: "auto", WhatsAppToken: "t"}
	if got, want := c.EffectiveMailDriver()+","+c.EffectiveWhatsAppDriver(), "log,log"; got != want {
		t.Errorf("zero-ish Config drivers = %s, want %s", got, want)
	}
	c = config.Config{MailDriver: "bogus", WhatsAppDriver: ""}
	if got, want := c.EffectiveMailDriver()+","+c.EffectiveWhatsAppDriver(), "bogus,"; got != want {
		t.Errorf("invalid Config drivers = %q, want %q", got, want)
	}
}

// TestSecretsNeverEchoed checks that the SMTP password, the WhatsApp token,
// the Meta app secret, the webhook verify token and the admin API token
// never reach Redacted,
// Vars or an error, from FromEnv, Set or Validate, whether the value is
// valid or not.
func TestSecretsNeverEchoed(t *testing.T) {
	t.Parallel()

	const (
		password    = "pa55-S3CRET"
		token       = "EAAG-T0KEN-S3CRET"
		appSecret   = "APP-S3CRET-0123456789abcdef"
		verifyToken = "VERIFY-S3CRET-t0ken"
		adminToken  = "ADMIN-S3CRET-0123456789abcdefghij+/="
		shortAdmin  = "ADMIN-S3CRET-short"
		metrics     = "METRICS-S3CRET-0123456789abcdefgh+/="
	)
	secrets := []string{password, token, appSecret, verifyToken, adminToken, shortAdmin, metrics, "S3CRET"}
	smtpURL := "smtp://mailer:" + password + "@mail.example.com:587?security=starttls"
	c, err := config.FromEnv(env(map[string]string{
		"SMTP_URL": smtpURL, "WHATSAPP_TOKEN": token, "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
		"WHATSAPP_APP_SECRET": appSecret, "WHATSAPP_WEBHOOK_VERIFY_TOKEN": verifyToken,
		"INSURE_ADMIN_TOKEN": adminToken, "METRICS_TOKEN": metrics,
	}))
	if err != nil {
		t.Fatalf("FromEnv error: %v", err)
	}
	if c.SMTPURL != smtpURL || c.WhatsAppToken != token || c.WhatsAppAppSecret != appSecret || c.WhatsAppWebhookVerifyToken != verifyToken {
		t.Errorf("SMTPURL, WhatsAppToken, WhatsAppAppSecret, WhatsAppWebhookVerifyToken = %q, %q, %q, %q; "+
			"want them in clear for the drivers and the webhook",
			c.SMTPURL, c.WhatsAppToken, c.WhatsAppAppSecret, c.WhatsAppWebhookVerifyToken)
	}
	if c.AdminToken != adminToken {
		t.Errorf("AdminToken = %q, want it in clear for seeding its hash", c.AdminToken)
	}
	r := c.Redacted()
	if got, want := r["SMTP_URL"], "smtp://mailer:xxxxx@mail.example.com:587?security=starttls"; got != want {
		t.Errorf("Redacted()[SMTP_URL] = %q, want %q", got, want)
	}
	for _, name := range []string{"WHATSAPP_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_WEBHOOK_VERIFY_TOKEN", "INSURE_ADMIN_TOKEN", "METRICS_TOKEN"} {
		if got := r[name]; got != "(set)" {
			t.Errorf("Redacted()[%s] = %q, want (set)", name, got)
		}
		if got := config.Default().Redacted()[name]; got != "" {
			t.Errorf("Default().Redacted()[%s] = %q, want empty", name, got)
		}
	}
	texts := []string{fmt.Sprint(r), fmt.Sprint(config.Vars())}

	// A lone secret breaks a rule across variables; that error names the
	// missing partner and never shows the secret that is set.
	for _, lone := range []map[string]string{
		{"WHATSAPP_TOKEN": token},
		{"WHATSAPP_APP_SECRET": appSecret},
		{"WHATSAPP_WEBHOOK_VERIFY_TOKEN": verifyToken},
	} {
		_, envErr := config.FromEnv(env(lone))
		d := config.Default()
		for k, v := range lone {
			if err := d.Set(k, v); err != nil {
				t.Fatalf("Set(%s) error: %v", k, err)
			}
		}
		validateErr := d.Validate()
		for _, err := range []error{envErr, validateErr} {
			if err == nil {
				t.Errorf("%v alone: got nil error", lone)
				continue
			}
			texts = append(texts, err.Error())
			for _, e := range configErrors(t, err) {
				texts = append(texts, e.Value, e.Expected)
			}
		}
		texts = append(texts, fmt.Sprint(d.Redacted()))
	}

	// Invalid values, each with the secret in it, through every entry point.
	bad := map[string][]string{
		"SMTP_URL": {
			"smtp://mailer:" + password + "@mail.example.com:0",
			"smtp://mailer:1?security=" + password + "@mail.example.com",
			"smtp://mailer:" + password + "#@mail.example.com",
			"smtp://mailer:" + password + "/x@mail.example.com",
			"smtp://mailer:" + password + "?x@mail.example.com",
			"smtp://mailer:" + password + "@",
			"smtp:mailer:" + password + "@mail.example.com",
			"smtp://mailer:" + password + "%zz@mail.example.com",
			"ftp://mailer:" + password + "@mail.example.com",
		},
		"WHATSAPP_TOKEN":                {token + " x", token + "\x00", token + "é", strings.Repeat(token, 100)},
		"WHATSAPP_APP_SECRET":           {appSecret + " x", appSecret + "\x7f", appSecret + "é", strings.Repeat(appSecret, 100)},
		"WHATSAPP_WEBHOOK_VERIFY_TOKEN": {verifyToken + "\tx", verifyToken + "\nx", "é" + verifyToken, strings.Repeat(verifyToken, 100)},
		"INSURE_ADMIN_TOKEN": {
			shortAdmin, adminToken + " x", adminToken + "\x00", "é" + adminToken, strings.Repeat(adminToken, 100),
		},
	}
	for name, values := range bad {
		for _, v := range values {
			_, envErr := config.FromEnv(env(map[string]string{name: v}))
			d := config.Default()
			setErr := d.Set(name, v)
			switch name {
			case "SMTP_URL":
				d.SMTPURL = v
			case "WHATSAPP_TOKEN":
				d.WhatsAppToken = v
			case "WHATSAPP_APP_SECRET":
				d.WhatsAppAppSecret = v
			case "WHATSAPP_WEBHOOK_VERIFY_TOKEN":
				d.WhatsAppWebhookVerifyToken = v
			case "INSURE_ADMIN_TOKEN":
				d.AdminToken = v
			}
			validateErr := d.Validate()
			for _, err := range []error{envErr, setErr, validateErr} {
				if err == nil {
					t.Errorf("%s=%q: got nil error", name, v)
					continue
				}
				texts = append(texts, err.Error())
				for _, e := range configErrors(t, err) {
					texts = append(texts, e.Value, e.Expected)
				}
			}
			texts = append(texts, d.Redacted()[name], fmt.Sprint(d.Redacted()))
		}
	}
	for _, s := range texts {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("a secret leaked: %s", s)
			}
		}
	}
}
