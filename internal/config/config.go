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

	// QueueRescueAfter (QUEUE_RESCUE_AFTER) is how long a job may stay
	// running before another worker takes it over (its process is deemed
	// dead, e.g. killed). Longer than QueueJobTimeout; 0 means the larger
	// of 1h and twice QueueJobTimeout (see EffectiveRescueAfter).
	QueueRescueAfter time.Duration

	// ShutdownGrace (SHUTDOWN_GRACE) is how long insure serve and insure
	// worker give in-flight requests and jobs to finish after SIGTERM
	// before the jobs still running are cancelled and released for retry.
	// The --shutdown-grace flag overrides it. 100ms to 1h.
	ShutdownGrace time.Duration

	// EventBusURL (EVENT_BUS_URL) is the NATS server that the relay
	// publishes every stored event to (JetStream); empty: no relay. It may
	// hold a password: log it through RedactDatabaseURL.
	EventBusURL string

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

	// SnapshotEvery (SNAPSHOT_EVERY) is how many events a load of a
	// customer, policy or quotation must replay past its newest snapshot
	// before a new snapshot is saved. 0 turns snapshots off (neither read
	// nor taken). 0 to 1000000.
	SnapshotEvery int

	// DocumentsDir (DOCUMENTS_DIR) is the directory where generated PDF
	// documents are stored. Not empty.
	DocumentsDir string

	// ArchiveDir (ARCHIVE_DIR) is the directory where insure events archive
	// writes the segment files of the events it moves out of the event
	// store, and where readers of the whole history find them. Not empty.
	ArchiveDir string

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
	// RequestTimeout (HTTP_REQUEST_TIMEOUT) is the longest an API request
	// may take before its work is cancelled and it is answered with 503
	// (the event stream excepted).
	RequestTimeout time.Duration

	// ExpiryScanInterval (EXPIRY_SCAN_INTERVAL) is how often the worker looks
	// for policies nearing or past expiry. 1m to 168h.
	ExpiryScanInterval time.Duration

	// EventRetentionDays (EVENT_RETENTION_DAYS) is how old an event must be
	// before insure events archive may move it from the event store to a
	// verified segment file in ArchiveDir (it is never deleted outright),
	// and how long the queue keeps the records of completed listener jobs.
	// 1 to 36500.
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

	// ReadyQueueLag (READY_QUEUE_LAG) is how old the oldest runnable job of
	// a queue may be before /readyz reports the queue lag as degraded.
	ReadyQueueLag time.Duration

	// ReadyProjectionLag (READY_PROJECTION_LAG) is how far behind the
	// stream head (by the age of its oldest unapplied event) a read model
	// may be before /readyz reports it as degraded.
	ReadyProjectionLag time.Duration

	// DashboardSessionTTL (DASHBOARD_SESSION_TTL) is how long an operator
	// dashboard session lasts after its login.
	DashboardSessionTTL time.Duration

	// IdempotencyKeyTTL (IDEMPOTENCY_KEY_TTL) is how long the API keeps an
	// Idempotency-Key after its first use: a repeat within it is answered
	// with the first response; after it, the request runs again.
	IdempotencyKeyTTL time.Duration

	// OTLPEndpoint (OTEL_EXPORTER_OTLP_ENDPOINT) is the OpenTelemetry
	// collector that spans are exported to over OTLP/HTTP. Empty: tracing is
	// off (a no-op tracer).
	OTLPEndpoint string

	// OTelServiceName (OTEL_SERVICE_NAME) is the service name spans carry.
	OTelServiceName string

	// MailDriver (MAIL_DRIVER) selects how email is delivered: "auto" (smtp
	// when SMTPURL is set, else log), "log" (the development driver that
	// records each message in the database) or "smtp" (send through
	// SMTPURL, which must then be set). See EffectiveMailDriver.
	MailDriver string

	// SMTPURL (SMTP_URL) is the SMTP server email is sent through:
	// smtp://[user[:password]@]host[:port][?security=…&timeout=…&helo=…], or
	// smtps://… for implicit TLS. Empty: no SMTP server. Validate checks only
	// its shape; the mail driver parses it in full. It may hold a password:
	// log Redacted(), never this field.
	SMTPURL string

	// WhatsAppDriver (WHATSAPP_DRIVER) selects how WhatsApp messages are
	// delivered: "auto" (cloudapi when WhatsAppToken and
	// WhatsAppPhoneNumberID are set, else log), "log" (the development
	// driver that records each message in the database) or "cloudapi" (send
	// through the WhatsApp Cloud API, which needs both). See
	// EffectiveWhatsAppDriver. WhatsAppEnabled false skips every message
	// whatever the driver.
	WhatsAppDriver string

	// WhatsAppAPIURL (WHATSAPP_API_URL) is the base URL of the WhatsApp
	// Cloud API (the Graph API): absolute http or https, without
	// credentials, query, fragment or trailing slash.
	WhatsAppAPIURL string

	// WhatsAppAPIVersion (WHATSAPP_API_VERSION) is the Graph API version in
	// request paths, such as "v21.0".
	WhatsAppAPIVersion string

	// WhatsAppPhoneNumberID (WHATSAPP_PHONE_NUMBER_ID) is the Cloud API ID
	// of the sending phone number (1 to 32 digits, not the number itself),
	// or empty. It and WhatsAppToken are set together or not at all.
	WhatsAppPhoneNumberID string

	// WhatsAppToken (WHATSAPP_TOKEN) is the Cloud API access token, up to
	// 1024 printable ASCII characters without spaces, or empty. It is a
	// secret: Redacted and errors show "(set)" instead.
	WhatsAppToken string

	// WhatsAppTemplates (WHATSAPP_TEMPLATES) overrides the WhatsApp template
	// of some of insure's template names ("quotation", "renewal_reminder",
	// "policy_confirmation"); a name not in the map keeps its built-in
	// template. Empty or nil: the built-in templates.
	WhatsAppTemplates map[string]WhatsAppTemplate

	// WhatsAppAppSecret (WHATSAPP_APP_SECRET) is the secret of the Meta app
	// that signs every delivery to the WhatsApp webhook
	// (X-Hub-Signature-256), up to 1024 printable ASCII characters without
	// spaces, or empty: the webhook is off. It and
	// WhatsAppWebhookVerifyToken are set together or not at all. It is a
	// secret: Redacted and errors show "(set)" instead.
	WhatsAppAppSecret string

	// WhatsAppWebhookVerifyToken (WHATSAPP_WEBHOOK_VERIFY_TOKEN) is the token
	// Meta echoes when it subscribes the WhatsApp webhook, up to 1024
	// printable ASCII characters without spaces, or empty: the webhook is
	// off. It and WhatsAppAppSecret are set together or not at all. It is a
	// secret: Redacted and errors show "(set)" instead.
	WhatsAppWebhookVerifyToken string

	// BreakerFailures (BREAKER_FAILURES) is how many consecutive failures of
	// a provider (mail, WhatsApp) open its circuit breaker. 1 to 1000.
	BreakerFailures int

	// BreakerOpenFor (BREAKER_OPEN_FOR) is how long an open circuit breaker
	// stays open before it lets one trial request through. 100ms to 1h.
	BreakerOpenFor time.Duration

	// AdminToken (INSURE_ADMIN_TOKEN) is an API token with the admin role
	// that insure serve and insure worker seed at start-up, for automation;
	// only its SHA-256 is stored. 32 to 1024 printable ASCII characters
	// without spaces, or empty: none is seeded. It is a secret: Redacted
	// and errors show "(set)" instead.
	AdminToken string

	// MetricsToken (METRICS_TOKEN), when set, is the bearer token GET
	// /metrics asks for (on the API port and on a worker's --addr); empty,
	// /metrics is public (it holds ids and counts, no personal data). 32 to
	// 1024 printable ASCII characters without spaces. A secret: Redacted
	// and errors show "(set)".
	MetricsToken string

	// MasterKey (INSURE_MASTER_KEY) is the base64 of the 32-byte master key
	// that wraps the customers' data keys (see internal/keyring). A secret:
	// Redacted and errors show "(set)".
	MasterKey string

	// MasterKeyFile (INSURE_MASTER_KEY_FILE) is a file holding the master
	// key instead. With neither set, a SQLite database uses a key file next
	// to it; see MasterKeySource.
	MasterKeyFile string
}

// Mail and WhatsApp drivers, the values of MailDriver and WhatsAppDriver.
const (
	// DriverAuto picks a real driver when its settings are present, else
	// DriverLog; see EffectiveMailDriver and EffectiveWhatsAppDriver.
	DriverAuto = "auto"
	// DriverLog records each message in the database instead of sending it.
	DriverLog = "log"
	// DriverSMTP sends email through SMTPURL.
	DriverSMTP = "smtp"
	// DriverCloudAPI sends WhatsApp messages through the WhatsApp Cloud API.
	DriverCloudAPI = "cloudapi"
)

// Default returns the default configuration, which is valid. Its map and
// slice are new on each call.
func Default() Config {
	return Config{
		DatabaseURL:                "sqlite://./insure.db",
		SQLiteSynchronous:          "FULL",
		HTTPAddr:                   "127.0.0.1:8080",
		MailFrom:                   "insure <no-reply@insure.local>",
		AdminEmail:                 "admin@insure.local",
		QueueBackoff:               []time.Duration{60 * time.Second, 300 * time.Second, 900 * time.Second},
		QueueMaxAttempts:           3,
		QueueJobTimeout:            60 * time.Second,
		QueueSnooze:                60 * time.Second,
		QueueRescueAfter:           0,
		ShutdownGrace:              30 * time.Second,
		EventBusURL:                "",
		QueueWorkers:               defaultQueueWorkers(),
		MaxEventsPerBatch:          100,
		SnapshotEvery:              50,
		DocumentsDir:               "./documents",
		ArchiveDir:                 "./archive",
		QuoteHighValueThreshold:    100_000_000, // ₹10 lakh in paise
		Currency:                   "INR",
		RateTableFile:              "",
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
		OTLPEndpoint:               "",
		OTelServiceName:            "insure",
		MailDriver:                 DriverAuto,
		SMTPURL:                    "",
		WhatsAppDriver:             DriverAuto,
		WhatsAppAPIURL:             "https://graph.facebook.com",
		WhatsAppAPIVersion:         "v21.0",
		WhatsAppPhoneNumberID:      "",
		WhatsAppToken:              "",
		WhatsAppTemplates:          map[string]WhatsAppTemplate{},
		WhatsAppAppSecret:          "",
		WhatsAppWebhookVerifyToken: "",
		BreakerFailures:            5,
		BreakerOpenFor:             30 * time.Second,
		AdminToken:                 "",
		MetricsToken:               "",
	}
}

// EffectiveRescueAfter is QueueRescueAfter, or when it is 0 the larger of
// an hour and twice QueueJobTimeout.
func (c Config) EffectiveRescueAfter() time.Duration {
	if c.QueueRescueAfter > 0 {
		return c.QueueRescueAfter
	}
	return max(time.Hour, 2*c.QueueJobTimeout)
}

// EffectiveMailDriver returns the mail driver to run: DriverSMTP or
// DriverLog, with DriverAuto resolved (smtp when SMTPURL is set). On a
// Config that fails Validate it returns MailDriver as it is.
func (c Config) EffectiveMailDriver() string {
	if c.MailDriver != DriverAuto {
		return c.MailDriver
	}
	if c.SMTPURL != "" {
		return DriverSMTP
	}
	return DriverLog
}

// EffectiveWhatsAppDriver returns the WhatsApp driver to run:
// DriverCloudAPI or DriverLog, with DriverAuto resolved (cloudapi when
// WhatsAppToken and WhatsAppPhoneNumberID are both set). On a Config that
// fails Validate it returns WhatsAppDriver as it is. WhatsAppEnabled is not
// considered: when it is false no message reaches a driver.
func (c Config) EffectiveWhatsAppDriver() string {
	if c.WhatsAppDriver != DriverAuto {
		return c.WhatsAppDriver
	}
	if c.WhatsAppToken != "" && c.WhatsAppPhoneNumberID != "" {
		return DriverCloudAPI
	}
	return DriverLog
}

// Error is one invalid configuration value. Validate, FromEnv and Set
// return them, joined with errors.Join; use errors.As to get one.
type Error struct {
	// Var is the environment variable, e.g. "QUEUE_MAX_ATTEMPTS".
	Var string
	// Value is the value it had, trimmed, with secrets redacted (a
	// DATABASE_URL or SMTP_URL password reads "xxxxx", a WHATSAPP_TOKEN,
	// WHATSAPP_APP_SECRET, WHATSAPP_WEBHOOK_VERIFY_TOKEN or
	// INSURE_ADMIN_TOKEN "(set)").
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
	failed := make(map[string]bool)
	for _, v := range variables() {
		raw, ok := lookup(v.name)
		if !ok {
			continue
		}
		if err := v.apply(&c, raw); err != nil {
			errs = append(errs, err)
			failed[v.name] = true
		}
	}
	// Invalid values were not applied, so this only reports the rules
	// across variables (say MAIL_DRIVER=smtp without SMTP_URL); it keeps
	// FromEnv's result exactly as valid as Validate demands. A variable
	// already reported is not reported again as missing.
	for _, e := range c.validate() {
		if !failed[e.Var] {
			errs = append(errs, e)
		}
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
//
// After the fields one by one it checks the rules across variables, each
// reported once as an *Error naming the variable that is missing:
// MAIL_DRIVER=smtp needs SMTP_URL; WHATSAPP_DRIVER=cloudapi needs
// WHATSAPP_TOKEN and WHATSAPP_PHONE_NUMBER_ID; either of those two set
// without the other names the other; and so does either of
// WHATSAPP_APP_SECRET and WHATSAPP_WEBHOOK_VERIFY_TOKEN without the other.
func (c Config) Validate() error {
	errs := c.validate()
	joined := make([]error, len(errs))
	for i, e := range errs {
		joined[i] = e
	}
	return errors.Join(joined...)
}

// validate returns Validate's errors: the fields in table order, then the
// rules across variables.
func (c Config) validate() []*Error {
	var errs []*Error
	vars := variables()
	for _, v := range vars {
		if v.check == nil {
			continue
		}
		if expected := v.check(&c); expected != "" {
			errs = append(errs, v.error(v.format(&c), expected))
		}
	}
	for _, m := range c.missing() {
		for _, v := range vars {
			if v.name == m.name {
				errs = append(errs, v.error(v.format(&c), m.expected))
			}
		}
	}
	return errs
}

// Redacted returns the configuration keyed by environment variable, each
// value spelled as the variable accepts it, with secrets redacted (a
// DATABASE_URL or SMTP_URL password reads "xxxxx", a WHATSAPP_TOKEN,
// WHATSAPP_APP_SECRET, WHATSAPP_WEBHOOK_VERIFY_TOKEN or INSURE_ADMIN_TOKEN
// "(set)", or "" when empty). It is meant for logging the effective
// configuration.
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

// missingVar is a variable that a rule across variables requires.
type missingVar struct {
	name, expected string
}

// missing returns the variables that other variables require but that are
// empty, each once: SMTP_URL for MAIL_DRIVER=smtp, WHATSAPP_TOKEN and
// WHATSAPP_PHONE_NUMBER_ID for WHATSAPP_DRIVER=cloudapi or for each other,
// and WHATSAPP_APP_SECRET and WHATSAPP_WEBHOOK_VERIFY_TOKEN for each other.
func (c Config) missing() []missingVar {
	var out []missingVar
	if c.MasterKey != "" && c.MasterKeyFile != "" {
		out = append(out, missingVar{"INSURE_MASTER_KEY_FILE",
			"empty because INSURE_MASTER_KEY is set: give the master key one way only"})
	}
	if c.MailDriver == DriverSMTP && c.SMTPURL == "" {
		out = append(out, missingVar{"SMTP_URL",
			"an smtp:// or smtps:// URL because MAIL_DRIVER is smtp (or set MAIL_DRIVER to auto or log)"})
	}
	need := func(name, what, other, otherValue string) {
		switch {
		case c.WhatsAppDriver == DriverCloudAPI:
			out = append(out, missingVar{name,
				what + " because WHATSAPP_DRIVER is cloudapi (or set WHATSAPP_DRIVER to auto or log)"})
		case otherValue != "":
			out = append(out, missingVar{name,
				fmt.Sprintf("%s because %s is set: the Cloud API needs both (or unset %s)", what, other, other)})
		}
	}
	if c.WhatsAppPhoneNumberID == "" {
		need("WHATSAPP_PHONE_NUMBER_ID", "the Cloud API phone number ID (1 to 32 digits)", "WHATSAPP_TOKEN", c.WhatsAppToken)
	}
	if c.WhatsAppToken == "" {
		need("WHATSAPP_TOKEN", "a Cloud API access token", "WHATSAPP_PHONE_NUMBER_ID", c.WhatsAppPhoneNumberID)
	}
	// The webhook checks signatures with the app secret and answers
	// subscriptions with the verify token: one without the other is a
	// half-configured webhook.
	if c.WhatsAppAppSecret == "" && c.WhatsAppWebhookVerifyToken != "" {
		out = append(out, missingVar{"WHATSAPP_APP_SECRET",
			"the Meta app secret because WHATSAPP_WEBHOOK_VERIFY_TOKEN is set: " +
				"the webhook needs both (or unset WHATSAPP_WEBHOOK_VERIFY_TOKEN)"})
	}
	if c.WhatsAppWebhookVerifyToken == "" && c.WhatsAppAppSecret != "" {
		out = append(out, missingVar{"WHATSAPP_WEBHOOK_VERIFY_TOKEN",
			"a webhook verify token because WHATSAPP_APP_SECRET is set: " +
				"the webhook needs both (or unset WHATSAPP_APP_SECRET)"})
	}
	return out
}

func varNames() []string {
	vars := variables()
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v.name
	}
	return names
}
