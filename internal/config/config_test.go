package config_test

import (
	"errors"
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
		MaxEventsPerBatch:       100,
		DocumentsDir:            "./documents",
		QuoteHighValueThreshold: 100000000,
		Currency:                "INR",
		RateTableFile:           "",
		TemplatesDir:            "",
		PublicURL:               "",
		QueueFetchCooldown:      20 * time.Millisecond,
		QueueFetchPollInterval:  200 * time.Millisecond,
		DBMaxConns:              16,
		ExpiryScanInterval:      24 * time.Hour,
		EventRetentionDays:      365,
		WhatsAppEnabled:         true,
		EmailQueueEnabled:       true,
		PDFGenerationAsync:      true,
		LogLevel:                slog.LevelInfo,
		LogFormat:               "json",
		MailDriver:              "log",
		WhatsAppDriver:          "log",
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

	// Each call returns fresh map and slice.
	a, b := config.Default(), config.Default()
	a.QueueWorkers["normal"] = 1
	a.QueueBackoff[0] = time.Hour
	if b.QueueWorkers["normal"] != 10 || b.QueueBackoff[0] != time.Minute {
		t.Error("Default() shares its map or slice between calls")
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
}

// variableTests has one row per environment variable; TestVariablesCovered
// checks that it matches Vars() and Config.
func variableTests() []variableTest {
	const (
		dbForms      = "one of sqlite:///abs/path.db, sqlite://./rel.db, a file path such as insure.db, or postgres://user:password@host:5432/dbname"
		durationHint = "with a unit (e.g. 90s, 15m, 2h)"
		workers      = "comma-separated queue=N overrides, N from 0 to 1000 (0: this process does not work that queue), " +
			"queue one of high-priority, normal, low-priority, email-priority, email-normal, whatsapp-priority, " +
			"whatsapp-normal, pdf-priority, pdf-normal, audit-normal (e.g. pdf-normal=2,audit-normal=0)"
		backoff   = "1 to 20 comma-separated durations, each above 0 and at most 24h (e.g. 60s,300s,900s)"
		boolHint  = "true or false (also 1/0, yes/no, any case)"
		addrHint  = "host:port with a port from 0 to 65535 (e.g. 127.0.0.1:8080 or :8080)"
		threshold = "a whole number of minor units, 0 or more (e.g. 100000000 paise for ₹10 lakh)"
		logDriver = "log (the development driver that records each message in the database)"
		publicURL = "an absolute http or https URL without credentials, query, fragment or trailing slash, or empty"
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
			name: "DOCUMENTS_DIR", field: "DocumentsDir",
			good:       "/var/lib/insure/documents",
			want:       func(c *config.Config) { c.DocumentsDir = "/var/lib/insure/documents" },
			bad:        "   ",
			badErr:     `DOCUMENTS_DIR="": expected a non-empty directory path`,
			corrupt:    func(c *config.Config) { c.DocumentsDir = "" },
			corruptErr: `DOCUMENTS_DIR="": expected a non-empty directory path`,
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
			name: "MAIL_DRIVER", field: "MailDriver",
			good:       "LOG",
			want:       func(*config.Config) {},
			bad:        "smtp",
			badErr:     `MAIL_DRIVER="smtp": expected ` + logDriver,
			corrupt:    func(c *config.Config) { c.MailDriver = "smtp" },
			corruptErr: `MAIL_DRIVER="smtp": expected ` + logDriver,
		},
		{
			name: "WHATSAPP_DRIVER", field: "WhatsAppDriver",
			good:       "log",
			want:       func(*config.Config) {},
			bad:        "cloud",
			badErr:     `WHATSAPP_DRIVER="cloud": expected ` + logDriver,
			corrupt:    func(c *config.Config) { c.WhatsAppDriver = "" },
			corruptErr: `WHATSAPP_DRIVER="": expected ` + logDriver,
		},
	}
}

func TestVariables(t *testing.T) {
	t.Parallel()

	for _, tt := range variableTests() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			t.Run("good", func(t *testing.T) {
				got, err := config.FromEnv(env(map[string]string{tt.name: " " + tt.good + "\t"}))
				if err != nil {
					t.Fatalf("FromEnv(%s=%q) error: %v", tt.name, tt.good, err)
				}
				want := config.Default()
				tt.want(&want)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("FromEnv(%s=%q) mismatch (-want +got):\n%s", tt.name, tt.good, diff)
				}
				// The variable sets its own field and nothing else.
				for _, f := range changedFields(config.Default(), got) {
					if f != tt.field {
						t.Errorf("FromEnv(%s=%q) changed field %s, want only %q", tt.name, tt.good, f, tt.field)
					}
				}
				// Set applies the same value the same way.
				c := config.Default()
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
				c := config.Default()
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
				if diff := changedFields(config.Default(), c); tt.field != "" && !slices.Equal(diff, []string{tt.field}) {
					t.Errorf("corrupt changed fields %v, want [%s]", diff, tt.field)
				}
			})
		})
	}
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
	tests := []struct {
		name, value, want string
	}{
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
		"QUEUE_MAX_ATTEMPTS", "QUEUE_JOB_TIMEOUT", "QUEUE_FETCH_COOLDOWN", "QUEUE_FETCH_POLL_INTERVAL",
		"DB_MAX_CONNS", "QUEUE_SNOOZE", "QUEUE_WORKERS", "MAX_EVENTS_PER_BATCH",
		"DOCUMENTS_DIR", "CURRENCY", "EXPIRY_SCAN_INTERVAL", "EVENT_RETENTION_DAYS", "PDF_GENERATION_ASYNC",
		"LOG_FORMAT", "MAIL_DRIVER", "WHATSAPP_DRIVER",
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
