package config_test

import (
	"fmt"

	"insure/internal/config"
)

func ExampleFromEnv() {
	// In production the lookup is os.LookupEnv.
	vars := map[string]string{
		"DATABASE_URL":       "postgres://app:s3cret@db.internal:5432/insure",
		"QUEUE_MAX_ATTEMPTS": "abc",
		"QUEUE_WORKERS":      "pdf-normal=2",
	}
	_, err := config.FromEnv(func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	})
	fmt.Println(err)

	vars["QUEUE_MAX_ATTEMPTS"] = "5"
	cfg, err := config.FromEnv(func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.Redacted()["DATABASE_URL"], cfg.QueueMaxAttempts, cfg.QueueWorkers["pdf-normal"])
	db, _ := cfg.Database()
	fmt.Println(db.Driver)
	// Output:
	// QUEUE_MAX_ATTEMPTS="abc": expected an integer from 1 to 100
	// postgres://app:xxxxx@db.internal:5432/insure 5 2
	// postgres
}

func ExampleConfig_Set() {
	// Flags override the environment through the same parsing.
	cfg := config.Default()
	if err := cfg.Set("HTTP_ADDR", ":0"); err != nil {
		panic(err)
	}
	fmt.Println(cfg.HTTPAddr)
	fmt.Println(cfg.Set("LOG_LEVEL", "verbose"))
	// Output:
	// :0
	// LOG_LEVEL="verbose": expected debug, info, warn or error
}

func ExampleConfig_EffectiveMailDriver() {
	// With the default MAIL_DRIVER=auto, setting SMTP_URL turns SMTP on.
	cfg, err := config.FromEnv(func(name string) (string, bool) {
		if name == "SMTP_URL" {
			return "smtps://mailer:s3cret@smtp.example.com:465", true
		}
		return "", false
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.EffectiveMailDriver(), cfg.EffectiveWhatsAppDriver())
	fmt.Println(cfg.Redacted()["SMTP_URL"])

	// MAIL_DRIVER=smtp without SMTP_URL names what is missing.
	cfg = config.Default()
	cfg.MailDriver = config.DriverSMTP
	fmt.Println(cfg.Validate())
	// Output:
	// smtp log
	// smtps://mailer:xxxxx@smtp.example.com:465
	// SMTP_URL="": expected an smtp:// or smtps:// URL because MAIL_DRIVER is smtp (or set MAIL_DRIVER to auto or log)
}
