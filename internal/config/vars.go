package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// variable is one environment variable. The table returned by variables
// drives FromEnv, Set, Validate, Vars and Redacted, so parsing, checking and
// documentation cannot drift apart.
type variable struct {
	name string
	// doc says what the variable does, in full sentences.
	doc string
	// expected says what a valid value looks like; it completes both
	// "expected …" in errors and "Accepted: …" in docs.
	expected string
	// parse stores s, already trimmed, in its field of c. It returns "" on
	// success or what was expected instead. It need not check ranges: check
	// runs next.
	parse func(c *Config, s string) string
	// check returns "" if the field is valid, or what was expected instead.
	// nil for a variable without a field.
	check func(c *Config) string
	// format spells the field as the variable accepts it.
	format func(c *Config) string
	// redact hides secrets in a value; nil if the variable holds none.
	redact func(string) string
}

// apply parses raw into a copy of c and checks it; c changes only if both
// succeed.
func (v variable) apply(c *Config, raw string) error {
	s := strings.TrimSpace(raw)
	next := *c
	if expected := v.parse(&next, s); expected != "" {
		return v.error(s, expected)
	}
	if v.check != nil {
		if expected := v.check(&next); expected != "" {
			return v.error(s, expected)
		}
	}
	*c = next
	return nil
}

func (v variable) error(value, expected string) *Error {
	return &Error{Var: v.name, Value: v.redactValue(value), Expected: expected}
}

func (v variable) redactValue(s string) string {
	if v.redact == nil {
		return s
	}
	return v.redact(s)
}

// Texts of expected values used more than once.
const (
	httpAddrExpected     = "host:port with a port from 0 to 65535 (e.g. 127.0.0.1:8080 or :8080)"
	mailFromExpected     = "an email address, optionally with a display name (e.g. insure <no-reply@insure.local>)"
	adminEmailExpected   = "a bare email address without a display name (e.g. admin@insure.local)"
	documentsDirExpected = "a non-empty directory path"
	currencyExpected     = "an ISO 4217 code of three upper-case letters (e.g. INR)"
	logLevelExpected     = "debug, info, warn or error"
	baseURLExpected      = "an absolute http or https URL without credentials, query, fragment or trailing slash"

	mailDriverExpected = "auto (smtp when SMTP_URL is set, else log), " +
		"log (the development driver that records each message in the database) or smtp (send through SMTP_URL)"
	whatsAppDriverExpected = "auto (cloudapi when WHATSAPP_TOKEN and WHATSAPP_PHONE_NUMBER_ID are set, else log), " +
		"log (the development driver that records each message in the database) " +
		"or cloudapi (send through the WhatsApp Cloud API)"
)

// variables returns the table of every environment variable, in the order
// they are documented.
func variables() []variable {
	return []variable{
		{
			name: "DATABASE_URL",
			doc: "Where the event store, read models and job queue live: a SQLite file or a PostgreSQL database. " +
				"A password is never logged or echoed in errors.",
			expected: databaseForms,
			parse:    func(c *Config, s string) string { c.DatabaseURL = s; return "" },
			check: func(c *Config) string {
				if _, err := ParseDatabaseURL(c.DatabaseURL); err != nil {
					return expectedOf(err)
				}
				return ""
			},
			format: func(c *Config) string { return c.DatabaseURL },
			redact: RedactDatabaseURL,
		},
		enumVar("SQLITE_SYNCHRONOUS",
			"SQLite's synchronous setting (ignored for PostgreSQL). FULL makes every acknowledged commit durable. "+
				"NORMAL is a faster, explicit opt-in: in WAL mode a power loss can lose the last acknowledged commits, "+
				"but never corrupts the database. Case-insensitive.",
			"FULL or NORMAL", strings.ToUpper, []string{"FULL", "NORMAL"},
			func(c *Config) *string { return &c.SQLiteSynchronous }),
		{
			name:     "HTTP_ADDR",
			doc:      "Address the HTTP API listens on (insure serve). Port 0 picks a free port.",
			expected: httpAddrExpected,
			parse:    func(c *Config, s string) string { c.HTTPAddr = s; return "" },
			check: func(c *Config) string {
				_, port, err := net.SplitHostPort(c.HTTPAddr)
				if err != nil || !isDigits(port) {
					return httpAddrExpected
				}
				if _, err := strconv.ParseUint(port, 10, 16); err != nil {
					return httpAddrExpected
				}
				return ""
			},
			format: func(c *Config) string { return c.HTTPAddr },
		},
		{
			name:     "MAIL_FROM",
			doc:      "Sender of outgoing email.",
			expected: mailFromExpected,
			parse:    func(c *Config, s string) string { c.MailFrom = s; return "" },
			check: func(c *Config) string {
				if _, err := mail.ParseAddress(c.MailFrom); err != nil {
					return mailFromExpected
				}
				return ""
			},
			format: func(c *Config) string { return c.MailFrom },
		},
		{
			name:     "ADMIN_EMAIL",
			doc:      "Address that receives administrative notifications.",
			expected: adminEmailExpected,
			parse:    func(c *Config, s string) string { c.AdminEmail = s; return "" },
			check: func(c *Config) string {
				if a, err := mail.ParseAddress(c.AdminEmail); err != nil || a.Address != c.AdminEmail {
					return adminEmailExpected
				}
				return ""
			},
			format: func(c *Config) string { return c.AdminEmail },
		},
		backoffVar(),
		intVar("QUEUE_MAX_ATTEMPTS",
			"How many times a listener job runs, the first attempt included, before it is given up "+
				"and becomes a dead letter (see insure dlq).",
			1, 100, func(c *Config) *int { return &c.QueueMaxAttempts }),
		durationVar("QUEUE_JOB_TIMEOUT",
			"How long one attempt of a listener job may run before it is cancelled and counts as failed.",
			100*time.Millisecond, time.Hour, func(c *Config) *time.Duration { return &c.QueueJobTimeout }),
		{
			name: "QUEUE_RESCUE_AFTER",
			doc: "How long a listener job may stay running before another worker takes it over: the process " +
				"that ran it is deemed dead (killed, lost its machine). Must be longer than QUEUE_JOB_TIMEOUT, " +
				"or a slow job could run twice at once. 0: the larger of 1h and twice QUEUE_JOB_TIMEOUT.",
			expected: rescueAfterExpected,
			parse: func(c *Config, s string) string {
				d, err := time.ParseDuration(s)
				if err != nil {
					return rescueAfterExpected
				}
				c.QueueRescueAfter = d
				return ""
			},
			check: func(c *Config) string {
				if c.QueueRescueAfter != 0 && (c.QueueRescueAfter < time.Second || c.QueueRescueAfter > 24*time.Hour || c.QueueRescueAfter <= c.QueueJobTimeout) {
					return rescueAfterExpected
				}
				return ""
			},
			format: func(c *Config) string { return formatDuration(c.QueueRescueAfter) },
		},
		durationVar("SHUTDOWN_GRACE",
			"How long insure serve and insure worker give in-flight HTTP requests and listener jobs to finish after "+
				"SIGTERM (new connections are refused at once); then the jobs still running are cancelled and released "+
				"for retry (a retry does not repeat a message already sent). The --shutdown-grace flag overrides it.",
			100*time.Millisecond, time.Hour, func(c *Config) *time.Duration { return &c.ShutdownGrace }),
		durationVar("QUEUE_FETCH_COOLDOWN",
			"Shortest time between two job fetches by one queue's workers in this process (lower: less latency, more queries).",
			time.Millisecond, time.Minute, func(c *Config) *time.Duration { return &c.QueueFetchCooldown }),
		durationVar("QUEUE_FETCH_POLL_INTERVAL",
			"How often idle workers poll for new jobs when no notification arrives (SQLite always polls).",
			time.Millisecond, 10*time.Minute, func(c *Config) *time.Duration { return &c.QueueFetchPollInterval }),
		intVar("DB_MAX_CONNS", "PostgreSQL connection pool size of this process (ignored for SQLite, which writes through one connection).",
			2, 1000, func(c *Config) *int { return &c.DBMaxConns }),
		durationVar("HTTP_REQUEST_TIMEOUT",
			"Longest an API request may take: past it its work is cancelled and it is answered with 503, so a database "+
				"that stops answering cannot hold requests (GET /api/v1/events/stream, which stays open, excepted).",
			100*time.Millisecond, 2*time.Minute, func(c *Config) *time.Duration { return &c.RequestTimeout }),
		{
			name:     "TEMPLATES_DIR",
			doc:      "Directory of message templates that replace the built-in ones of the same file name. Empty: the built-in templates.",
			expected: "a directory path, or empty",
			parse:    func(c *Config, s string) string { c.TemplatesDir = s; return "" },
			format:   func(c *Config) string { return c.TemplatesDir },
		},
		{
			name:     "PUBLIC_URL",
			doc:      "Base URL customers reach the API at, used in the verification link of the welcome email. Empty: http://HTTP_ADDR.",
			expected: baseURLExpected + ", or empty",
			parse:    func(c *Config, s string) string { c.PublicURL = s; return "" },
			check: func(c *Config) string {
				if c.PublicURL != "" && !isBaseURL(c.PublicURL) {
					return baseURLExpected + ", or empty"
				}
				return ""
			},
			format: func(c *Config) string { return c.PublicURL },
			redact: RedactDatabaseURL,
		},
		durationVar("QUEUE_SNOOZE",
			"How long a listener waits before trying again when a provider (mail, WhatsApp) is unavailable.",
			10*time.Millisecond, 24*time.Hour, func(c *Config) *time.Duration { return &c.QueueSnooze }),
		intVar("BREAKER_FAILURES",
			"How many consecutive failures of a provider (mail, WhatsApp) open its circuit breaker, "+
				"which then turns requests to that provider away until BREAKER_OPEN_FOR has passed.",
			1, 1000, func(c *Config) *int { return &c.BreakerFailures }),
		durationVar("BREAKER_OPEN_FOR",
			"How long an open circuit breaker stays open before it lets one trial request through to the provider.",
			100*time.Millisecond, time.Hour, func(c *Config) *time.Duration { return &c.BreakerOpenFor }),
		{
			name: "QUEUE_WORKERS",
			doc: "Workers this process runs per queue, as overrides of the defaults " +
				"(10 per queue; low-priority and audit-normal 5). 0 means this process does not work that queue.",
			expected: queueWorkersExpected(),
			parse: func(c *Config, s string) string {
				m, expected := parseQueueWorkers(c.QueueWorkers, s)
				if expected != "" {
					return expected
				}
				c.QueueWorkers = m
				return ""
			},
			check:  func(c *Config) string { return checkQueueWorkers(c.QueueWorkers) },
			format: func(c *Config) string { return formatQueueWorkers(c.QueueWorkers) },
		},
		intVar("MAX_EVENTS_PER_BATCH",
			"Largest number of events read from the event store in one batch (projections, rebuilds, replays).",
			1, 10000, func(c *Config) *int { return &c.MaxEventsPerBatch }),
		intVar("SNAPSHOT_EVERY",
			"Save a snapshot of a customer, policy or quotation when loading it replays at least this many events "+
				"past its newest snapshot, so later loads replay only the events after it. 0 turns snapshots off.",
			0, 1000000, func(c *Config) *int { return &c.SnapshotEvery }),
		{
			name:     "DOCUMENTS_DIR",
			doc:      "Directory where generated PDF documents are stored.",
			expected: documentsDirExpected,
			parse:    func(c *Config, s string) string { c.DocumentsDir = s; return "" },
			check: func(c *Config) string {
				if strings.TrimSpace(c.DocumentsDir) == "" {
					return documentsDirExpected
				}
				return ""
			},
			format: func(c *Config) string { return c.DocumentsDir },
		},
		{
			name: "ARCHIVE_DIR",
			doc: "Directory of the segment files (zstd JSON Lines, checksummed) that insure events archive moves " +
				"events older than EVENT_RETENTION_DAYS into; back it up with the database.",
			expected: documentsDirExpected,
			parse:    func(c *Config, s string) string { c.ArchiveDir = s; return "" },
			check: func(c *Config) string {
				if strings.TrimSpace(c.ArchiveDir) == "" {
					return documentsDirExpected
				}
				return ""
			},
			format: func(c *Config) string { return c.ArchiveDir },
		},
		thresholdVar(),
		{
			name:     "CURRENCY",
			doc:      "Currency of every amount.",
			expected: currencyExpected,
			parse:    func(c *Config, s string) string { c.Currency = s; return "" },
			check: func(c *Config) string {
				if len(c.Currency) != 3 || strings.IndexFunc(c.Currency, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
					return currencyExpected
				}
				return ""
			},
			format: func(c *Config) string { return c.Currency },
		},
		{
			name:     "RATE_TABLE_FILE",
			doc:      "File holding the insurers' rate tables; empty means the built-in table.",
			expected: "a file path, or empty for the built-in table",
			parse:    func(c *Config, s string) string { c.RateTableFile = s; return "" },
			format:   func(c *Config) string { return c.RateTableFile },
		},
		durationVar("EXPIRY_SCAN_INTERVAL",
			"How often the worker looks for policies nearing or past expiry.",
			time.Minute, 168*time.Hour, func(c *Config) *time.Duration { return &c.ExpiryScanInterval }),
		intVar("EVENT_RETENTION_DAYS",
			"Events older than this may be moved by insure events archive from the event store to verified segment "+
				"files in ARCHIVE_DIR (never deleted outright); also how long the queue keeps the records of completed "+
				"listener jobs.",
			1, 36500, func(c *Config) *int { return &c.EventRetentionDays }),
		boolVar("WHATSAPP_API_ENABLED",
			"When false, WhatsApp messages are recorded as skipped, never sent.",
			func(c *Config) *bool { return &c.WhatsAppEnabled }),
		boolVar("EMAIL_QUEUE_ENABLED",
			"When false, this process does not work the email queues: email jobs stay queued until it is "+
				"re-enabled; nothing is lost.",
			func(c *Config) *bool { return &c.EmailQueueEnabled }),
		mustBeTrueVar("PDF_GENERATION_ASYNC",
			"Documents are always rendered by queued listeners after the command commits, so a request never "+
				"waits for a PDF; only true is accepted.",
			"documents are always rendered by queued listeners after the command commits, "+
				"so a request never waits for a PDF",
			func(c *Config) *bool { return &c.PDFGenerationAsync }),
		mustBeTrueVar("EVENT_SOURCING_ENABLED",
			"The event store is always the source of truth; only true is accepted.",
			"the event store is always the source of truth here",
			nil),
		{
			name:     "LOG_LEVEL",
			doc:      "Least severe level that is logged. Case-insensitive.",
			expected: logLevelExpected,
			parse: func(c *Config, s string) string {
				for _, l := range logLevels() {
					if strings.EqualFold(s, formatLevel(l)) {
						c.LogLevel = l
						return ""
					}
				}
				return logLevelExpected
			},
			check: func(c *Config) string {
				if !slices.Contains(logLevels(), c.LogLevel) {
					return logLevelExpected
				}
				return ""
			},
			format: func(c *Config) string { return formatLevel(c.LogLevel) },
		},
		enumVar("LOG_FORMAT", "Log output format: json for machines, text for people. Case-insensitive.",
			"json or text", strings.ToLower, []string{"json", "text"},
			func(c *Config) *string { return &c.LogFormat }),
		durationVar("READY_QUEUE_LAG",
			"How old the oldest runnable job of a queue may be before GET /readyz reports the queue lag as degraded "+
				"(a warning: the API keeps answering 200).",
			time.Second, 24*time.Hour, func(c *Config) *time.Duration { return &c.ReadyQueueLag }),
		durationVar("READY_PROJECTION_LAG",
			"How old the oldest event a read model has not applied yet may be before GET /readyz reports it as "+
				"degraded (a warning: the API keeps answering 200).",
			time.Second, 24*time.Hour, func(c *Config) *time.Duration { return &c.ReadyProjectionLag }),
		durationVar("DASHBOARD_SESSION_TTL",
			"How long an operator dashboard session (/dashboard) lasts after its login.",
			5*time.Minute, 7*24*time.Hour, func(c *Config) *time.Duration { return &c.DashboardSessionTTL }),
		durationVar("IDEMPOTENCY_KEY_TTL",
			"How long the API keeps an Idempotency-Key after its first use: a POST repeated with the same key and body within it is answered with the first response and does nothing again; after it, the request runs again. Expired keys are deleted by the workers every 10 minutes.",
			time.Minute, 720*time.Hour, func(c *Config) *time.Duration { return &c.IdempotencyKeyTTL }),
		{
			name: "OTEL_EXPORTER_OTLP_ENDPOINT",
			doc: "OpenTelemetry collector that traces are exported to over OTLP/HTTP (protobuf); spans go to " +
				"<endpoint>/v1/traces. Empty: tracing is off and costs next to nothing.",
			expected: baseURLExpected + ", or empty (e.g. http://127.0.0.1:4318)",
			parse:    func(c *Config, s string) string { c.OTLPEndpoint = s; return "" },
			check: func(c *Config) string {
				if c.OTLPEndpoint != "" && !isBaseURL(c.OTLPEndpoint) {
					return baseURLExpected + ", or empty (e.g. http://127.0.0.1:4318)"
				}
				return ""
			},
			format: func(c *Config) string { return c.OTLPEndpoint },
			redact: RedactDatabaseURL,
		},
		{
			name: "EVENT_BUS_URL",
			doc: "NATS server (with JetStream) that a relay publishes every stored event to, in order per " +
				"aggregate, on subject insure.events.<aggregate_type>.<event_name>. Empty: no relay. " +
				"A password is never logged or echoed in errors.",
			expected: eventBusExpected,
			parse:    func(c *Config, s string) string { c.EventBusURL = s; return "" },
			check: func(c *Config) string {
				if c.EventBusURL != "" && !isNATSURL(c.EventBusURL) {
					return eventBusExpected
				}
				return ""
			},
			format: func(c *Config) string { return c.EventBusURL },
			redact: RedactDatabaseURL,
		},
		{
			name:     "OTEL_SERVICE_NAME",
			doc:      "Service name that exported spans carry (service.name).",
			expected: serviceNameExpected,
			parse:    func(c *Config, s string) string { c.OTelServiceName = s; return "" },
			check: func(c *Config) string {
				if !isServiceName(c.OTelServiceName) {
					return serviceNameExpected
				}
				return ""
			},
			format: func(c *Config) string { return c.OTelServiceName },
		},
		enumVar("MAIL_DRIVER", "How email is delivered. Case-insensitive.",
			mailDriverExpected, strings.ToLower, []string{DriverAuto, DriverLog, DriverSMTP},
			func(c *Config) *string { return &c.MailDriver }),
		{
			name: "SMTP_URL",
			doc: "SMTP server that email is sent through (MAIL_DRIVER smtp, or auto). Empty: no SMTP server. " +
				"security=starttls requires STARTTLS, opportunistic (the default) uses it when the server offers it, " +
				"none never does; " +
				"smtps:// uses implicit TLS. " +
				"A password is never logged or echoed in errors.",
			expected: smtpURLExpected,
			parse:    func(c *Config, s string) string { c.SMTPURL = s; return "" },
			check:    func(c *Config) string { return checkSMTPURL(c.SMTPURL) },
			format:   func(c *Config) string { return c.SMTPURL },
			redact:   RedactDatabaseURL,
		},
		enumVar("WHATSAPP_DRIVER", "How WhatsApp messages are delivered. Case-insensitive.",
			whatsAppDriverExpected, strings.ToLower, []string{DriverAuto, DriverLog, DriverCloudAPI},
			func(c *Config) *string { return &c.WhatsAppDriver }),
		{
			name:     "WHATSAPP_API_URL",
			doc:      "Base URL of the WhatsApp Cloud API (the Graph API); change it only for a proxy or a test server.",
			expected: baseURLExpected + " (e.g. https://graph.facebook.com)",
			parse:    func(c *Config, s string) string { c.WhatsAppAPIURL = s; return "" },
			check: func(c *Config) string {
				if !isBaseURL(c.WhatsAppAPIURL) {
					return baseURLExpected + " (e.g. https://graph.facebook.com)"
				}
				return ""
			},
			format: func(c *Config) string { return c.WhatsAppAPIURL },
			redact: RedactDatabaseURL,
		},
		{
			name:     "WHATSAPP_API_VERSION",
			doc:      "Graph API version of the WhatsApp Cloud API requests.",
			expected: whatsAppAPIVersionExpected,
			parse:    func(c *Config, s string) string { c.WhatsAppAPIVersion = s; return "" },
			check: func(c *Config) string {
				if !isAPIVersion(c.WhatsAppAPIVersion) {
					return whatsAppAPIVersionExpected
				}
				return ""
			},
			format: func(c *Config) string { return c.WhatsAppAPIVersion },
		},
		{
			name: "WHATSAPP_PHONE_NUMBER_ID",
			doc: "Cloud API ID of the phone number WhatsApp messages are sent from (WhatsApp Manager, API setup). " +
				"Set it together with WHATSAPP_TOKEN, or neither.",
			expected: phoneNumberIDExpected,
			parse:    func(c *Config, s string) string { c.WhatsAppPhoneNumberID = s; return "" },
			check: func(c *Config) string {
				if id := c.WhatsAppPhoneNumberID; id != "" && (len(id) > 32 || !isDigits(id)) {
					return phoneNumberIDExpected
				}
				return ""
			},
			format: func(c *Config) string { return c.WhatsAppPhoneNumberID },
		},
		secretVar("WHATSAPP_TOKEN",
			"Access token of the WhatsApp Cloud API. Set it together with WHATSAPP_PHONE_NUMBER_ID, or neither. "+
				"It is never logged or echoed in errors: they show (set).",
			whatsAppTokenExpected, func(c *Config) *string { return &c.WhatsAppToken }),
		{
			name: "WHATSAPP_TEMPLATES",
			doc: "WhatsApp templates approved at the provider that replace the built-in ones, as a JSON object keyed by " +
				"insure's message; a message left out keeps its built-in template, and a template without params keeps " +
				"the built-in params. Empty: the built-in templates.",
			expected: whatsAppTemplatesExpected,
			parse: func(c *Config, s string) string {
				m, expected := parseWhatsAppTemplates(s)
				if expected != "" {
					return expected
				}
				c.WhatsAppTemplates = m
				return ""
			},
			check:  func(c *Config) string { return checkWhatsAppTemplates(c.WhatsAppTemplates) },
			format: func(c *Config) string { return formatWhatsAppTemplates(c.WhatsAppTemplates) },
		},
		secretVar("WHATSAPP_APP_SECRET",
			"App secret of the Meta app, which signs every delivery to the WhatsApp webhook (X-Hub-Signature-256). "+
				"Set it together with WHATSAPP_WEBHOOK_VERIFY_TOKEN, or neither. Empty: the webhook is off. "+
				"It is never logged or echoed in errors: they show (set).",
			whatsAppAppSecretExpected, func(c *Config) *string { return &c.WhatsAppAppSecret }),
		secretVar("WHATSAPP_WEBHOOK_VERIFY_TOKEN",
			"Token that Meta echoes when it subscribes the WhatsApp webhook; the webhook answers only a subscription "+
				"that carries it. Set it together with WHATSAPP_APP_SECRET, or neither. Empty: the webhook is off. "+
				"It is never logged or echoed in errors: they show (set).",
			whatsAppVerifyTokenExpected, func(c *Config) *string { return &c.WhatsAppWebhookVerifyToken }),
		adminTokenVar(),
		metricsTokenVar(),
		masterKeyVar(),
		{
			name: "INSURE_MASTER_KEY_FILE",
			doc: "File holding the master key (the same base64 text as INSURE_MASTER_KEY, surrounding white space " +
				"ignored); it must not be readable by group or others. Set this or INSURE_MASTER_KEY, not both. " +
				"With neither, a SQLite database uses the file next to it named after it plus .master-key, made " +
				"(mode 0600) on first start; PostgreSQL needs one of them.",
			expected: masterKeyFileExpected,
			parse:    func(c *Config, s string) string { c.MasterKeyFile = s; return "" },
			check: func(c *Config) string {
				if strings.ContainsRune(c.MasterKeyFile, 0) {
					return masterKeyFileExpected
				}
				return ""
			},
			format: func(c *Config) string { return c.MasterKeyFile },
		},
	}
}

// Texts of INSURE_MASTER_KEY and INSURE_MASTER_KEY_FILE.
const (
	masterKeyExpected     = "the base64 (standard, padded) encoding of 32 random bytes, e.g. from insure keys generate, or empty"
	masterKeyFileExpected = "a file path, or empty"
)

// masterKeyVar is INSURE_MASTER_KEY: the key that wraps every customer's
// data key. A secret: errors and Redacted show (set).
func masterKeyVar() variable {
	v := secretVar("INSURE_MASTER_KEY",
		"Master key that wraps the per-customer keys encrypting personal data at rest: the base64 of 32 random "+
			"bytes (insure keys generate makes one). Keep it out of the database and its backups; without it the "+
			"personal data cannot be read. Set this or INSURE_MASTER_KEY_FILE, not both. "+
			"It is never logged or echoed in errors: they show (set).",
		masterKeyExpected, func(c *Config) *string { return &c.MasterKey })
	v.check = func(c *Config) string {
		if c.MasterKey == "" {
			return ""
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(c.MasterKey)
		if err != nil {
			return masterKeyExpected + "; it is not valid base64"
		}
		if len(raw) != 32 {
			return fmt.Sprintf("%s; it decodes to %d bytes", masterKeyExpected, len(raw))
		}
		return ""
	}
	return v
}

// Texts and limits of INSURE_ADMIN_TOKEN.
const (
	adminTokenExpected = "an API token of 32 to 1024 printable ASCII characters without spaces, or empty"
	minAdminTokenLen   = 32
)

// adminTokenVar is INSURE_ADMIN_TOKEN: a secret like secretVar's that must
// also be long enough not to be guessed, since it carries the admin role.
func adminTokenVar() variable {
	v := secretVar("INSURE_ADMIN_TOKEN",
		"API token with the admin role that insure serve and insure worker seed at start-up, for automation "+
			"(scripts, CI, provisioning); only its SHA-256 is stored. Empty: none is seeded. "+
			"It is never logged or echoed in errors: they show (set).",
		adminTokenExpected, func(c *Config) *string { return &c.AdminToken })
	v.check = func(c *Config) string { return checkLongSecret(c.AdminToken, adminTokenExpected) }
	return v
}

// checkLongSecret returns "" if s is empty or a usable token (see
// checkSecret, and at least minAdminTokenLen characters), else expected
// with the reason. The text never quotes s.
func checkLongSecret(s, expected string) string {
	if why := checkSecret(s, expected); why != "" {
		return why
	}
	if s != "" && len(s) < minAdminTokenLen {
		length := fmt.Sprintf("%d characters", len(s))
		if len(s) == 1 {
			length = "1 character"
		}
		return fmt.Sprintf("%s; it is %s long: the token must be at least %d characters "+
			"(e.g. generated with openssl rand -base64 32 or insure token create)", expected, length, minAdminTokenLen)
	}
	return ""
}

// Texts of METRICS_TOKEN.
const metricsTokenExpected = "a token of 32 to 1024 printable ASCII characters without spaces, or empty"

// metricsTokenVar is METRICS_TOKEN: a secret as long as an admin token, since
// whoever holds it reads the operational figures.
func metricsTokenVar() variable {
	v := secretVar("METRICS_TOKEN",
		"Bearer token that GET /metrics asks for, on the API port and on insure worker --addr "+
			"(Prometheus: authorization { credentials: ... }). Empty: /metrics is public (ids and counts, no personal data). "+
			"It is never logged or echoed in errors: they show (set).",
		metricsTokenExpected, func(c *Config) *string { return &c.MetricsToken })
	v.check = func(c *Config) string { return checkLongSecret(c.MetricsToken, metricsTokenExpected) }
	return v
}

// secretVar is a secret string variable: empty, or at most 1024 printable
// ASCII characters without spaces. Errors, Vars and Redacted show "(set)"
// instead of the value, and expected never quotes it.
func secretVar(name, doc, expected string, field func(*Config) *string) variable {
	return variable{
		name:     name,
		doc:      doc,
		expected: expected,
		parse:    func(c *Config, s string) string { *field(c) = s; return "" },
		check:    func(c *Config) string { return checkSecret(*field(c), expected) },
		format:   func(c *Config) string { return *field(c) },
		redact:   redactSecret,
	}
}

// intVar is an integer variable from lo to hi.
func intVar(name, doc string, lo, hi int, field func(*Config) *int) variable {
	expected := fmt.Sprintf("an integer from %d to %d", lo, hi)
	return variable{
		name:     name,
		doc:      doc,
		expected: expected,
		parse: func(c *Config, s string) string {
			n, err := strconv.Atoi(s)
			if err != nil {
				return expected
			}
			*field(c) = n
			return ""
		},
		check: func(c *Config) string {
			if n := *field(c); n < lo || n > hi {
				return expected
			}
			return ""
		},
		format: func(c *Config) string { return strconv.Itoa(*field(c)) },
	}
}

// durationVar is a time.Duration variable from lo to hi.
func durationVar(name, doc string, lo, hi time.Duration, field func(*Config) *time.Duration) variable {
	expected := fmt.Sprintf("a duration from %s to %s with a unit (e.g. 90s, 15m, 2h)",
		formatDuration(lo), formatDuration(hi))
	return variable{
		name:     name,
		doc:      doc,
		expected: expected,
		parse: func(c *Config, s string) string {
			d, err := time.ParseDuration(s)
			if err != nil {
				return expected
			}
			*field(c) = d
			return ""
		},
		check: func(c *Config) string {
			if d := *field(c); d < lo || d > hi {
				return expected
			}
			return ""
		},
		format: func(c *Config) string { return formatDuration(*field(c)) },
	}
}

// boolExpected describes a valid boolean.
const boolExpected = "true or false (also 1/0, yes/no, any case)"

// boolVar is a boolean variable.
func boolVar(name, doc string, field func(*Config) *bool) variable {
	return variable{
		name:     name,
		doc:      doc,
		expected: boolExpected,
		parse: func(c *Config, s string) string {
			b, ok := parseBool(s)
			if !ok {
				return boolExpected
			}
			*field(c) = b
			return ""
		},
		format: func(c *Config) string { return strconv.FormatBool(*field(c)) },
	}
}

// mustBeTrueVar is a boolean variable kept for compatibility that only
// accepts true; why says why false is not an option. field may be nil for a
// variable that is only validated.
func mustBeTrueVar(name, doc, why string, field func(*Config) *bool) variable {
	onFalse := fmt.Sprintf("true: %s; remove %s or set it to true", why, name)
	v := variable{
		name:     name,
		doc:      doc,
		expected: "true (also 1, yes, any case)",
		parse: func(c *Config, s string) string {
			b, ok := parseBool(s)
			switch {
			case !ok:
				return "true (also 1, yes, any case)"
			case !b:
				return onFalse
			}
			if field != nil {
				*field(c) = b
			}
			return ""
		},
		format: func(*Config) string { return "true" },
	}
	if field != nil {
		v.check = func(c *Config) string {
			if !*field(c) {
				return onFalse
			}
			return ""
		}
		v.format = func(c *Config) string { return strconv.FormatBool(*field(c)) }
	}
	return v
}

// enumVar is a string variable with a fixed set of values; normalize maps
// any case to the stored one.
func enumVar(name, doc, expected string, normalize func(string) string, allowed []string, field func(*Config) *string) variable {
	return variable{
		name:     name,
		doc:      doc,
		expected: expected,
		parse:    func(c *Config, s string) string { *field(c) = normalize(s); return "" },
		check: func(c *Config) string {
			if !slices.Contains(allowed, *field(c)) {
				return expected
			}
			return ""
		},
		format: func(c *Config) string { return *field(c) },
	}
}

// backoffVar is QUEUE_BACKOFF.
func backoffVar() variable {
	const (
		maxEntries = 20
		maxDelay   = 24 * time.Hour
	)
	expected := fmt.Sprintf("1 to %d comma-separated durations, each above 0 and at most %s (e.g. 60s,300s,900s)",
		maxEntries, formatDuration(maxDelay))
	return variable{
		name: "QUEUE_BACKOFF",
		doc: "Delays before retrying a failed listener job: entry n is the delay before retry n; " +
			"retries beyond the list reuse the last entry.",
		expected: expected,
		parse: func(c *Config, s string) string {
			parts := strings.Split(s, ",")
			delays := make([]time.Duration, 0, len(parts))
			for _, p := range parts {
				p = strings.TrimSpace(p)
				d, err := time.ParseDuration(p)
				if err != nil {
					return fmt.Sprintf("%s; %q is not a duration with a unit", expected, p)
				}
				delays = append(delays, d)
			}
			c.QueueBackoff = delays
			return ""
		},
		check: func(c *Config) string {
			switch n := len(c.QueueBackoff); {
			case n == 0:
				return expected + "; the list is empty"
			case n > maxEntries:
				return fmt.Sprintf("%s; got %d", expected, n)
			}
			for _, d := range c.QueueBackoff {
				if d <= 0 || d > maxDelay {
					return fmt.Sprintf("%s; %s is out of range", expected, formatDuration(d))
				}
			}
			return ""
		},
		format: func(c *Config) string {
			parts := make([]string, len(c.QueueBackoff))
			for i, d := range c.QueueBackoff {
				parts[i] = formatDuration(d)
			}
			return strings.Join(parts, ",")
		},
	}
}

// thresholdVar is QUOTE_HIGH_VALUE_THRESHOLD.
func thresholdVar() variable {
	const expected = "a whole number of minor units, 0 or more (e.g. 100000000 paise for ₹10 lakh)"
	return variable{
		name: "QUOTE_HIGH_VALUE_THRESHOLD",
		doc: "Amount in minor units of CURRENCY (paise for INR) at or above which a quotation counts as high value; " +
			"the default is ₹10 lakh.",
		expected: expected,
		parse: func(c *Config, s string) string {
			n, err := strconv.ParseInt(s, 10, 64)
			switch {
			case err == nil:
				c.QuoteHighValueThreshold = n
				return ""
			case strings.Contains(s, "."):
				return expected + "; give the amount in minor units, without decimals"
			case strings.ContainsAny(s, ",_ "):
				return expected + "; write it without digit separators"
			}
			return expected
		},
		check: func(c *Config) string {
			if c.QuoteHighValueThreshold < 0 {
				return expected
			}
			return ""
		},
		format: func(c *Config) string { return strconv.FormatInt(c.QuoteHighValueThreshold, 10) },
	}
}

// parseBool accepts true/false, 1/0 and yes/no in any case.
func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(s) {
	case "true", "1", "yes":
		return true, true
	case "false", "0", "no":
		return false, true
	}
	return false, false
}

func logLevels() []slog.Level {
	return []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
}

// formatLevel spells l as LOG_LEVEL does: "debug", "info", "warn", "error".
func formatLevel(l slog.Level) string {
	return strings.ToLower(l.String())
}

// formatDuration is d.String() without zero trailing units: 1m, 24h, 1h30m.
func formatDuration(d time.Duration) string {
	s := d.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// isBaseURL reports whether s is an absolute http or https URL without
// credentials, query, fragment or trailing slash.
func isBaseURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && !strings.HasSuffix(s, "/") &&
		u.User == nil && u.RawQuery == "" && u.Fragment == "" && !strings.ContainsAny(s, "?#")
}

// Texts of QUEUE_RESCUE_AFTER and EVENT_BUS_URL.
const (
	rescueAfterExpected = "0 (automatic), or a duration from 1s to 24h with a unit (e.g. 90s, 15m, 2h) longer than QUEUE_JOB_TIMEOUT"
	eventBusExpected    = "nats://[user:password@]host[:port] or tls://…, without path or query, or empty"
)

// isNATSURL reports whether s is a usable EVENT_BUS_URL.
func isNATSURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "nats" || u.Scheme == "tls") && u.Hostname() != "" &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" && !strings.ContainsAny(s, "?#")
}

// serviceNameExpected is what OTEL_SERVICE_NAME accepts.
const serviceNameExpected = "1 to 100 letters, digits, '.', '-' or '_' (e.g. insure)"

// isServiceName reports whether s is a usable OTEL_SERVICE_NAME.
func isServiceName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}

// expectedOf returns the Expected of an *Error, or err's text.
func expectedOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Expected
	}
	return err.Error()
}
