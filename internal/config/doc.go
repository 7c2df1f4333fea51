// Package config holds insure's configuration: the Config struct, its
// defaults, the environment variables that set it, and the rules that make
// it valid. Every subcommand (serve, worker, migrate, events, dlq) reads it
// the same way:
//
//	cfg, err := config.FromEnv(os.LookupEnv)
//	if err != nil {
//		return err // one line per invalid variable
//	}
//	// apply flags, with cfg.Set("HTTP_ADDR", flagValue) or by assignment
//	if err := cfg.Validate(); err != nil {
//		return err
//	}
//	logger.Info("config", "effective", cfg.Redacted())
//
// # One table
//
// A single table, one row per variable with its name, documentation, parser,
// check and formatter, drives FromEnv, Set, Validate, Vars and Redacted. A
// variable therefore cannot be parsed without being documented (Vars feeds
// the README's configuration table) or documented without being parsed, and
// its default in the docs is Default() formatted, so it cannot go stale.
//
// # Errors
//
// Every invalid value is an *Error naming the variable, the value it had and
// what was expected, for example
//
//	QUEUE_MAX_ATTEMPTS="abc": expected an integer from 1 to 100
//
// FromEnv and Validate report every invalid variable at once, joined with
// errors.Join. Values are trimmed of surrounding whitespace; a variable that
// is set to the empty string is parsed like any other value (empty is only
// valid where it means something, as for RATE_TABLE_FILE).
//
// # Secrets
//
// DATABASE_URL may hold a PostgreSQL password and SMTP_URL an SMTP one.
// Errors, Vars and Redacted show them as "xxxxx" (see RedactDatabaseURL),
// and WHATSAPP_TOKEN, WHATSAPP_APP_SECRET, WHATSAPP_WEBHOOK_VERIFY_TOKEN and
// INSURE_ADMIN_TOKEN as "(set)"; only the Config fields (and
// DatabaseTarget.URL) hold them in clear, for the drivers, the webhook and
// the seeding of the admin token.
//
// # Rules across variables
//
// Validate also checks what one variable needs of another: MAIL_DRIVER=smtp
// needs SMTP_URL, WHATSAPP_DRIVER=cloudapi needs WHATSAPP_TOKEN and
// WHATSAPP_PHONE_NUMBER_ID, and those two are set together, as are
// WHATSAPP_APP_SECRET and WHATSAPP_WEBHOOK_VERIFY_TOKEN. Each such error
// names the variable that is missing. With the default driver "auto",
// EffectiveMailDriver and EffectiveWhatsAppDriver pick the real driver when
// its settings are present and the log driver otherwise.
//
// # Databases
//
// ParseDatabaseURL turns DATABASE_URL into a DatabaseTarget: a SQLite file
// (sqlite:///abs/path.db, sqlite://./rel.db or a bare path) or a PostgreSQL
// URL (postgres:// or postgresql://). In-memory SQLite is refused: the queue
// and the event store share the database through several connection pools,
// which only a file allows.
package config
