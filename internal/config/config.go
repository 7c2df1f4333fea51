package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Config is the configuration of every insure subcommand. Start from
// Default or FromEnv, change fields if needed (for example from flags, or
// with Set), then call Validate before use. Each field names the
// environment variable that sets it; Vars documents them all.
type Config struct {
	// DatabaseURL (DATABASE_URL) says where the event store, read models and
	// queue live: a SQLite file or a PostgreSQL URL. See ParseDatabaseURL for
	// the accepted forms and Database for the parsed target. It may hold a
	// password: log Redacted(), never this field.
	DatabaseURL string

	// SQLiteSynchronous (SQLITE_SYNCHRONOUS) is SQLite's synchronous pragma,
	// "FULL" or "NORMAL" (upper case). FULL makes every acknowledged commit
	// durable. NORMAL is a faster, explicit opt-in: in WAL mode a power loss
	// can lose the last acknowledged commits, but never corrupts the
	// database. Ignored for PostgreSQL.
	SQLiteSynchronous string

	// HTTPAddr (HTTP_ADDR) is the host:port the HTTP API listens on; port 0
	// picks a free port.
	HTTPAddr string

	// MailFrom (MAIL_FROM) is the sender of outgoing email, an address with
	// an optional display name, as net/mail parses it.
	MailFrom string

	// AdminEmail (ADMIN_EMAIL) is the bare address that receives
	// administrative notifications.
	AdminEmail string

	// QueueBackoff (QUEUE_BACKOFF) holds the delays before retrying a failed
	// listener job: entry n is the delay before retry n, and retries beyond
	// the list reuse the last entry. 1 to 20 entries, each in (0, 24h].
	QueueBackoff []time.Duration

	// QueueMaxAttempts (QUEUE_MAX_ATTEMPTS) is how many times a listener job
	// runs, the first attempt included, before it is given up and becomes a
	// dead letter. 1 to 100.
	QueueMaxAttempts int

	// QueueJobTimeout (QUEUE_JOB_TIMEOUT) is how long one attempt of a
	// listener job may run before it is cancelled and counts as failed.
	// 100ms to 1h.
	QueueJobTimeout time.Duration

	// QueueSnooze (QUEUE_SNOOZE) is how long a listener waits before trying
	// again when a provider is unavailable. 10ms to 24h.
	QueueSnooze time.Duration

	// QueueWorkers (QUEUE_WORKERS) maps every queue in Queues() to the
	// number of workers this process runs for it, 0 to 1000; 0 means this
	// process does not work that queue. It must hold every queue and no
	// other name. See also WorkedQueues.
	QueueWorkers map[string]int

	// MaxEventsPerBatch (MAX_EVENTS_PER_BATCH) is the largest number of
	// events read from the event store in one batch (projections, rebuilds,
	// replays). 1 to 10000.
	MaxEventsPerBatch int

	// DocumentsDir (DOCUMENTS_DIR) is the directory where generated PDF
	// documents are stored. Not empty.
	DocumentsDir string

	// QuoteHighValueThreshold (QUOTE_HIGH_VALUE_THRESHOLD) is the amount, in
	// minor units of Currency (paise for INR), at or above which a quotation
	// counts as high value. 0 or more.
	QuoteHighValueThreshold int64

	// Currency (CURRENCY) is the ISO 4217 code of every amount: three
	// upper-case letters.
	Currency string

	// RateTableFile (RATE_TABLE_FILE) is the file holding the insurers' rate
	// tables; empty means the built-in table. Validate does not open it.
	RateTableFile string
	// TemplatesDir (TEMPLATES_DIR) is a directory whose message templates
	// replace the built-in ones of the same name. Empty: built-in only.
	TemplatesDir string
	// PublicURL (PUBLIC_URL) is the base URL customers reach the API at;
	// the welcome email's verification link starts with it. Empty: derived
	// from HTTP_ADDR.
	PublicURL string
	// QueueFetchCooldown (QUEUE_FETCH_COOLDOWN) is the shortest time between
	// two fetches of jobs by one queue's workers.
	QueueFetchCooldown time.Duration
	// QueueFetchPollInterval (QUEUE_FETCH_POLL_INTERVAL) is how often idle
	// workers look for new jobs when no notification arrives.
	QueueFetchPollInterval time.Duration
	// DBMaxConns (DB_MAX_CONNS) is the PostgreSQL connection pool size.
	DBMaxConns int

	// ExpiryScanInterval (EXPIRY_SCAN_INTERVAL) is how often the worker looks
	// for policies nearing or past expiry. 1m to 168h.
	ExpiryScanInterval time.Duration

	// EventRetentionDays (EVENT_RETENTION_DAYS) is how long the queue keeps
	// the records of completed listener jobs. Events themselves are never
	// deleted: the event store is the source of truth. 1 to 36500.
	EventRetentionDays int

	// WhatsAppEnabled (WHATSAPP_API_ENABLED): when false, WhatsApp messages
	// are recorded as skipped, never sent.
	WhatsAppEnabled bool

	// EmailQueueEnabled (EMAIL_QUEUE_ENABLED): when false, this process does
	// not work the email queues, so email jobs stay queued until a process
	// with it enabled works them; nothing is lost.
	EmailQueueEnabled bool

	// PDFGenerationAsync (PDF_GENERATION_ASYNC) must be true: documents are
	// always rendered by queued listeners after the command commits, so a
	// request never waits for a PDF. The field exists so that deployments
	// that set the variable keep working and a false value is reported.
	PDFGenerationAsync bool

	// LogLevel (LOG_LEVEL) is the least severe level logged: slog.LevelDebug,
	// LevelInfo, LevelWarn or LevelError.
	LogLevel slog.Level

	// LogFormat (LOG_FORMAT) is "json" or "text".
	LogFormat string

	// MailDriver (MAIL_DRIVER) selects how email is delivered. Only "log",
	// the development driver that records each message in the database.
	MailDriver string

	// WhatsAppDriver (WHATSAPP_DRIVER) selects how WhatsApp messages are
	// delivered. Only "log", the development driver that records each
	// message in the database.
	WhatsAppDriver string
}

// Default returns the default configuration, which is valid. Its map and
// slice are new on each call.
func Default() Config {
	return Config{
		DatabaseURL:             "sqlite://./insure.db",
		SQLiteSynchronous:       "FULL",
		HTTPAddr:                "127.0.0.1:8080",
		MailFrom:                "insure <no-reply@insure.local>",
		AdminEmail:              "admin@insure.local",
		QueueBackoff:            []time.Duration{60 * time.Second, 300 * time.Second, 900 * time.Second},
		QueueMaxAttempts:        3,
		QueueJobTimeout:         60 * time.Second,
		QueueSnooze:             60 * time.Second,
		QueueWorkers:            defaultQueueWorkers(),
		MaxEventsPerBatch:       100,
		DocumentsDir:            "./documents",
		QuoteHighValueThreshold: 100_000_000, // ₹10 lakh in paise
		Currency:                "INR",
		RateTableFile:           "",
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
}

// Error is one invalid configuration value. Validate, FromEnv and Set
// return them, joined with errors.Join; use errors.As to get one.
type Error struct {
	// Var is the environment variable, e.g. "QUEUE_MAX_ATTEMPTS".
	Var string
	// Value is the value it had, trimmed, with secrets redacted (a
	// DATABASE_URL password reads "xxxxx").
	Value string
	// Expected says what a valid value looks like, and why when that is not
	// obvious.
	Expected string
}

// Error returns, for example,
// `QUEUE_MAX_ATTEMPTS="abc": expected an integer from 1 to 100`.
func (e *Error) Error() string {
	return fmt.Sprintf("%s=%q: expected %s", e.Var, e.Value, e.Expected)
}

// VarDoc documents one environment variable, for the README's
// configuration table and for `--help` output.
type VarDoc struct {
	// Name is the environment variable, e.g. "QUEUE_MAX_ATTEMPTS".
	Name string
	// Default is the default value, spelled as the variable accepts it.
	Default string
	// Description says what the variable does and which values it accepts.
	Description string
}

// Vars documents every environment variable that FromEnv reads, once each,
// in a fixed order. It is built from the same table that FromEnv parses
// with, so the two cannot drift apart.
func Vars() []VarDoc {
	def := Default()
	vars := variables()
	docs := make([]VarDoc, 0, len(vars))
	for _, v := range vars {
		docs = append(docs, VarDoc{
			Name:        v.name,
			Default:     v.redactValue(v.format(&def)),
			Description: v.doc + " Accepted: " + v.expected + ".",
		})
	}
	return docs
}

// FromEnv returns Default() with every variable in Vars() that lookup finds
// applied, then validated. lookup is os.LookupEnv in production and a map
// lookup in tests. A variable that is set, even to the empty string, is
// parsed; surrounding whitespace is ignored. The error joins one *Error per
// invalid variable, each naming the variable, its (redacted) value and what
// was expected; on error the Config is the zero value.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	c := Default()
	var errs []error
	for _, v := range variables() {
		raw, ok := lookup(v.name)
		if !ok {
			continue
		}
		if err := v.apply(&c, raw); err != nil {
			errs = append(errs, err)
		}
	}
	// Invalid values were not applied, so this only reports what the
	// variables above cannot (today nothing); it keeps FromEnv's result
	// exactly as valid as Validate demands.
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Set applies value to the field of environment variable name exactly as
// FromEnv would, for flags that override the environment. On error, an
// *Error, c is unchanged. An unknown name is an error too.
func (c *Config) Set(name, value string) error {
	for _, v := range variables() {
		if v.name == name {
			return v.apply(c, value)
		}
	}
	return fmt.Errorf("config: unknown variable %q; known: %s", name, strings.Join(varNames(), ", "))
}

// Validate reports every invalid field, as *Error values joined with
// errors.Join, or nil. It checks the struct as it is, so values set
// directly (say from flags after FromEnv) are checked with the same rules
// as FromEnv applies. Error values are the fields spelled as their
// variables would be, with secrets redacted.
func (c Config) Validate() error {
	var errs []error
	for _, v := range variables() {
		if v.check == nil {
			continue
		}
		if expected := v.check(&c); expected != "" {
			errs = append(errs, v.error(v.format(&c), expected))
		}
	}
	return errors.Join(errs...)
}

// Redacted returns the configuration keyed by environment variable, each
// value spelled as the variable accepts it, with secrets redacted (the
// DATABASE_URL password reads "xxxxx"). It is meant for logging the
// effective configuration.
func (c Config) Redacted() map[string]string {
	vars := variables()
	m := make(map[string]string, len(vars))
	for _, v := range vars {
		m[v.name] = v.redactValue(v.format(&c))
	}
	return m
}

// Database parses DatabaseURL; see ParseDatabaseURL.
func (c Config) Database() (DatabaseTarget, error) {
	return ParseDatabaseURL(c.DatabaseURL)
}

func varNames() []string {
	vars := variables()
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v.name
	}
	return names
}
