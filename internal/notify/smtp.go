package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"insure/internal/database"
)

// SMTP security modes, the values of SMTPConfig.Security.
const (
	// SMTPStartTLS connects in plain text and requires the server to offer
	// STARTTLS; the message is sent only over TLS.
	SMTPStartTLS = "starttls"
	// SMTPOpportunistic upgrades with STARTTLS when the server offers it and
	// sends in plain text otherwise.
	SMTPOpportunistic = "opportunistic"
	// SMTPNoTLS never uses TLS (a local relay, a test server).
	SMTPNoTLS = "none"
	// SMTPImplicitTLS speaks TLS from the first byte ("smtps", port 465).
	SMTPImplicitTLS = "tls"
)

// DefaultSMTPTimeout bounds each step of an SMTP dialogue when
// SMTPConfig.Timeout is zero; MaxSMTPTimeout is the largest Timeout allowed.
const (
	DefaultSMTPTimeout = 30 * time.Second
	MaxSMTPTimeout     = 5 * time.Minute
)

// SMTPConfig says how SMTPMailer reaches its server. The zero values of
// Security, Port and Timeout mean SMTPStartTLS, the security's usual port
// (587, 465 for SMTPImplicitTLS, 25 for SMTPNoTLS) and DefaultSMTPTimeout.
// Its String and GoString methods hide the password.
type SMTPConfig struct {
	Host     string
	Port     int
	Security string // SMTPStartTLS, SMTPOpportunistic, SMTPNoTLS or SMTPImplicitTLS
	// Username and Password, when set, authenticate with AUTH, using the
	// best mechanism the server offers (SCRAM-SHA-256, SCRAM-SHA-1,
	// CRAM-MD5, PLAIN, LOGIN). PLAIN and LOGIN are never used without TLS,
	// except to a loopback address.
	Username, Password string
	// Timeout bounds connecting (with the TLS handshake), each command and
	// reply, and each write of the message.
	Timeout time.Duration
	// HeloName is the name sent with EHLO/HELO; empty means "localhost".
	HeloName string
	// TLSConfig is used for STARTTLS and implicit TLS. Nil means the system
	// roots, TLS 1.2 or later, and ServerName = Host; a config without a
	// ServerName gets Host.
	TLSConfig *tls.Config
}

// smtpURLForm describes a valid SMTP URL, for errors.
const smtpURLForm = "expected smtp://[user:password@]host[:port] (default port 587, or 25 with security=none) " +
	"or smtps://[user:password@]host[:port] for implicit TLS (default port 465), " +
	"with optional ?security=starttls|opportunistic|none (smtp:// only; default opportunistic), " +
	"timeout=<duration above 0, at most 5m> and helo=<name>"

// ParseSMTPURL parses an SMTP server URL:
//
//	smtp://user:password@mail.example.com:587?security=starttls&timeout=20s&helo=insure.example
//	smtps://user:password@mail.example.com
//
// smtp:// upgrades with STARTTLS when the server offers it (security
// opportunistic) unless ?security= says starttls (required) or none; its
// default port is 587, or 25 with security=none. smtps:// is implicit TLS
// on port 465 by default. The user name and password are percent-decoded
// and must come together. timeout is a Go duration (default 30s, at most
// 5m); helo is the EHLO name. The result has its defaults filled in.
//
// The errors say what is wrong without quoting any part of raw: a password
// with unencoded reserved characters can end up in any part of the parsed
// URL.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	bad := func(detail string) (SMTPConfig, error) {
		return SMTPConfig{}, fmt.Errorf("notify: SMTP URL: %s; %s", detail, smtpURLForm)
	}
	if strings.TrimSpace(raw) == "" {
		return bad("it is empty")
	}
	u, err := url.Parse(raw)
	if err != nil { // the error quotes raw: never shown
		return bad(`it is not a valid URL (percent-encode reserved characters in the user name and password, e.g. "@" as %40 and "/" as %2F)`)
	}
	var cfg SMTPConfig
	switch u.Scheme {
	case "smtp":
	case "smtps":
		cfg.Security = SMTPImplicitTLS
	default:
		return bad("the scheme must be smtp:// or smtps://")
	}
	switch {
	case u.Opaque != "" || u.Hostname() == "":
		return bad("the host is missing")
	case u.Path != "" && u.Path != "/":
		return bad(`a path is not allowed (percent-encode "/" in the password as %2F)`)
	case u.Fragment != "" || u.RawFragment != "" || strings.Contains(raw, "#"):
		return bad(`a fragment is not allowed (percent-encode "#" in the password as %23)`)
	}
	if port := u.Port(); port != "" || strings.HasSuffix(u.Host, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return bad("the port must be from 1 to 65535")
		}
		cfg.Port = n
	}
	cfg.Host = u.Hostname()
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
		switch {
		case cfg.Username == "":
			return bad("the user name is empty: give user:password@, or neither")
		case cfg.Password == "":
			return bad("the user has no password: give user:password@ (AUTH needs both), or neither")
		}
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad(`the options are not a valid query string (percent-encode "?" in the password as %3F)`)
	}
	for _, key := range slices.Sorted(maps.Keys(query)) {
		if len(query[key]) != 1 {
			return bad("each option may be given once")
		}
		value := query[key][0]
		switch key {
		case "security":
			switch {
			case u.Scheme == "smtps" && value != SMTPImplicitTLS:
				return bad("smtps:// always uses implicit TLS: leave out security=, or use smtp://")
			case u.Scheme == "smtp" && value == SMTPImplicitTLS:
				return bad("for implicit TLS use smtps://")
			case u.Scheme == "smtp" && value != SMTPStartTLS && value != SMTPOpportunistic && value != SMTPNoTLS:
				return bad("security must be starttls, opportunistic or none")
			}
			cfg.Security = value
		case "timeout":
			d, err := time.ParseDuration(value)
			if err != nil || d <= 0 || d > MaxSMTPTimeout {
				return bad("timeout must be a duration above 0 and at most 5m, with a unit (e.g. 30s)")
			}
			cfg.Timeout = d
		case "helo":
			if !isHeloName(value) {
				return bad("helo must be a host name (printable ASCII without spaces)")
			}
			cfg.HeloName = value
		default:
			return bad("the only options are security, timeout and helo")
		}
	}
	if cfg.Security == "" {
		cfg.Security = SMTPOpportunistic
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return SMTPConfig{}, err
	}
	return cfg, nil
}

// Redacted returns c as an SMTP URL with its defaults filled in and the
// password replaced by "xxxxx", for logs and error messages.
func (c SMTPConfig) Redacted() string {
	c = c.withDefaults()
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port))}
	q := url.Values{}
	if c.Security == SMTPImplicitTLS {
		u.Scheme = "smtps"
	} else {
		q.Set("security", c.Security)
	}
	switch {
	case c.Password != "":
		u.User = url.UserPassword(c.Username, "xxxxx")
	case c.Username != "":
		u.User = url.User(c.Username)
	}
	q.Set("timeout", c.Timeout.String())
	if c.HeloName != "" {
		q.Set("helo", c.HeloName)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// String returns c.Redacted(), so printing a config never shows the
// password.
func (c SMTPConfig) String() string { return c.Redacted() }

// GoString returns c.Redacted(), for %#v.
func (c SMTPConfig) GoString() string { return "notify.SMTPConfig(" + c.Redacted() + ")" }

func (c SMTPConfig) withDefaults() SMTPConfig {
	if c.Security == "" {
		c.Security = SMTPStartTLS
	}
	if c.Port == 0 {
		switch c.Security {
		case SMTPImplicitTLS:
			c.Port = 465
		case SMTPNoTLS:
			c.Port = 25
		default:
			c.Port = 587
		}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultSMTPTimeout
	}
	return c
}

// validate lists every problem of c (with defaults filled in). It quotes
// no value: see ParseSMTPURL.
func (c SMTPConfig) validate() error {
	var p []string
	switch {
	case c.Host == "":
		p = append(p, "host is empty")
	case strings.IndexFunc(c.Host, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`/\?#@[]%"'<>`, r)
	}) >= 0:
		p = append(p, "host is not a host name or IP address")
	}
	if c.Port < 1 || c.Port > 65535 {
		p = append(p, "port must be from 1 to 65535")
	}
	switch c.Security {
	case SMTPStartTLS, SMTPOpportunistic, SMTPNoTLS, SMTPImplicitTLS:
	default:
		p = append(p, "security must be starttls, opportunistic, none or tls")
	}
	if c.Timeout <= 0 || c.Timeout > MaxSMTPTimeout {
		p = append(p, "timeout must be above 0 and at most 5m")
	}
	if c.HeloName != "" && !isHeloName(c.HeloName) {
		p = append(p, "helo name must be a host name (printable ASCII without spaces)")
	}
	switch {
	case c.Username == "" && c.Password != "":
		p = append(p, "a password is set without a user name")
	case c.Username != "" && c.Password == "":
		p = append(p, "a user name is set without a password")
	case strings.ContainsAny(c.Username, "\x00\r\n"):
		p = append(p, "user name has a control character")
	}
	if len(p) > 0 {
		return fmt.Errorf("notify: SMTP config: %s", strings.Join(p, "; "))
	}
	return nil
}

func (c SMTPConfig) tlsConfig() *tls.Config {
	if c.TLSConfig == nil {
		return &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}
	}
	t := c.TLSConfig.Clone()
	if t.ServerName == "" {
		t.ServerName = c.Host
	}
	return t
}

// isHeloName reports whether s can follow EHLO/HELO: non-empty printable
// ASCII without spaces.
func isHeloName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}

// The states of a mail_deliveries row; see SMTPMailer.
const (
	MailSending    = "sending"
	MailCommitting = "committing"
	MailSent       = "sent"
	MailFailed     = "failed"
	MailUncertain  = "uncertain"
)

// The SQL of SMTPMailer, valid on SQLite and PostgreSQL alike. Every update
// of an attempt names its attempt number, so an attempt that lost the
// message to another (see smtpLeaseFactor) changes nothing.
const (
	qMailClaimNew = `INSERT INTO mail_deliveries (message_id, state, attempts, header_id, started_at)
	VALUES ($1, 'sending', 1, $2, $3)
	ON CONFLICT (message_id) DO NOTHING`

	qMailSelect = `SELECT state, attempts, started_at, committing_at, COALESCE(error, '')
	FROM mail_deliveries WHERE message_id = $1`

	// qMailClaimAgain takes a failed or abandoned delivery for a new
	// attempt, if it is still in the state and attempt the caller read.
	qMailClaimAgain = `UPDATE mail_deliveries SET state = 'sending', attempts = attempts + 1, header_id = $2,
		started_at = $3, committing_at = NULL, finished_at = NULL, response = NULL, error = NULL
	WHERE message_id = $1 AND state = $4 AND attempts = $5`

	qMailCommitting = `UPDATE mail_deliveries SET state = 'committing', committing_at = $3
	WHERE message_id = $1 AND attempts = $2 AND state = 'sending'`

	qMailFinish = `UPDATE mail_deliveries SET state = $3, finished_at = $4, response = $5, error = $6
	WHERE message_id = $1 AND attempts = $2 AND state IN ('sending', 'committing', 'uncertain')`

	qMailNoReply = `UPDATE mail_deliveries SET error = $3
	WHERE message_id = $1 AND attempts = $2 AND state = 'committing'`

	qMailUncertain = `UPDATE mail_deliveries SET state = 'uncertain', finished_at = $2,
		error = COALESCE(error, 'no reply to the end of the message')
	WHERE message_id = $1 AND state = 'committing'`

	qMailDelivery = `SELECT message_id, header_id, state, attempts, started_at, committing_at, finished_at,
	COALESCE(response, ''), COALESCE(error, '') FROM mail_deliveries WHERE message_id = $1`
)

// smtpLeaseFactor times SMTPConfig.Timeout is how long a 'sending' row
// (from started_at) or an unnoted 'committing' row (from committing_at)
// belongs to its attempt. An attempt has a handful of steps, each bounded
// by Timeout, so a row older than that was left by a process that stopped:
// the next Send takes a 'sending' one over, and finds a 'committing' one
// uncertain. Should the first attempt still be running, it cannot commit:
// its attempt number is no longer the row's.
const smtpLeaseFactor = 10

// recordTimeout bounds the database writes after the SMTP dialogue, which
// run even when the caller's context is done: they record what the server
// was told.
const recordTimeout = 30 * time.Second

// SMTPMailer is the Mailer that delivers through an SMTP server. It builds
// the MIME message with go-mail (text and HTML alternatives, attachments,
// Message-ID = Email.HeaderID(), Date from the clock) and speaks SMTP with
// go-mail's smtp client. It is safe for concurrent use.
//
// SMTP has no idempotency key, and the moment the server takes a message is
// the reply to the final "." of DATA. So every message id has a row in
// mail_deliveries that says how far its send went:
//
//   - sending: an attempt holds the message (attempts counts them). Send
//     claims a new, failed or abandoned row before connecting; a row another
//     attempt holds (for up to 10×Timeout) makes Send return ErrUnavailable
//     without connecting.
//   - committing: set, in its own statement, after the whole message was
//     written and flushed and just before the final "." is sent. With no
//     reply to the "." (timeout, reset, EOF) the attempt notes it in error
//     and the row stays here: the server may have accepted the message. A
//     Send while the attempt still waits for the reply returns
//     ErrUnavailable; if the process died waiting, the lease runs out.
//   - sent: the server replied 250 to the "."; response is its reply.
//   - failed: not delivered; error says why. A later Send tries again.
//   - uncertain: a later Send found the row 'committing' with its attempt
//     over. It does not send again and returns Receipt{Duplicate: true,
//     Uncertain: true}; an operator checks the server's log for the
//     Message-ID (header_id). Should the late reply still come to a live
//     attempt, it records 'sent' or 'failed'.
//
// Guarantees: insure never sends a message id twice through SMTPMailer, as
// long as the rows are kept. A message is delivered at most once; when the
// server's answer to the final "." was lost it may have been delivered or
// not, and Send says so (Uncertain) instead of sending it again.
//
// Send returns:
//   - a Receipt with ProviderID = e.HeaderID(); Duplicate when the row was
//     already 'sent' (nothing is sent), Duplicate and Uncertain when it was
//     'uncertain', or 'committing' with its attempt over;
//   - ErrRejected and ErrInvalid: e fails Validate (nothing is recorded);
//   - ErrRejected and *SMTPError: a 5xx reply to MAIL, RCPT, DATA or the
//     final "."; the row is 'failed';
//   - a plain error wrapping *SMTPError: a 4xx reply (temporary: retry), or
//     a reply to the greeting, EHLO, STARTTLS or AUTH that refuses the
//     session (the configuration, not the message, is at fault); 'failed';
//   - a plain error: the server does not offer STARTTLS although it is
//     required, or no AUTH mechanism insure can use safely; 'failed';
//   - ErrUnavailable: the server could not be reached or the connection
//     broke before the final "." (refused, DNS, timeout, TLS handshake,
//     reset, EOF), or ctx ended before it; nothing was delivered and the row
//     is 'failed'. Or the row is held by another attempt, or the database is
//     unavailable (wrapping database.ErrUnavailable too);
//   - ErrUnavailable after the final ".": no reply came. The row stays
//     'committing' and the next Send of the id will not send it again.
//
// ctx is honoured up to the final ".": cancelling it aborts the dialogue
// and nothing is delivered. Once the "." is on its way, Send waits for the
// reply (at most Timeout) even if ctx ends, since giving up then would turn
// a probable delivery into an uncertain one. If the server accepted the
// message but recording 'sent' fails, Send still returns the receipt; the
// row stays 'committing', and a repeated Send answers ErrUnavailable until
// the lease runs out and Uncertain after, rather than sending again.
//
// Neither errors nor the rows hold the recipient's address or the content:
// addresses in the server's replies are blanked.
type SMTPMailer struct {
	cfg SMTPConfig
	tls *tls.Config
	db  database.DB
	now func() time.Time
}

var _ Mailer = (*SMTPMailer)(nil)

// NewSMTPMailer returns an SMTPMailer for cfg (defaults filled in, see
// SMTPConfig) that records its deliveries in db's mail_deliveries table and
// stamps messages and rows with now (time.Now when nil). It returns an
// error, without connecting, when cfg is invalid or db is nil.
func NewSMTPMailer(cfg SMTPConfig, db database.DB, now func() time.Time) (*SMTPMailer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if db == nil {
		return nil, errors.New("notify: new SMTP mailer: the database is nil: the mailer records every delivery in mail_deliveries")
	}
	if now == nil {
		now = time.Now
	}
	return &SMTPMailer{cfg: cfg, tls: cfg.tlsConfig(), db: db, now: now}, nil
}

// SMTPError is an SMTP server's negative reply to one command of the
// dialogue. Temporary (4xx) replies may succeed when retried.
type SMTPError struct {
	// Command is what was refused: "greeting", "EHLO", "STARTTLS", "AUTH",
	// "MAIL", "RCPT", "DATA" or "end of data" (the final ".").
	Command string
	Code    int
	// Message is the server's text with the message's addresses blanked.
	Message string
}

func (e *SMTPError) Error() string {
	hint := ""
	if e.Temporary() {
		hint = " (temporary: try again later)"
	}
	return fmt.Sprintf("SMTP server replied to %s: %d %s%s", e.Command, e.Code, e.Message, hint)
}

// Temporary reports whether the reply was 4xx.
func (e *SMTPError) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// Send delivers e; see SMTPMailer for the states, guarantees and errors.
func (m *SMTPMailer) Send(ctx context.Context, e Email) (Receipt, error) {
	if err := e.Validate(); err != nil {
		return Receipt{}, fmt.Errorf("notify: send email: %w: %w", ErrRejected, err)
	}
	msg, env, err := buildMIME(e, m.now())
	if err != nil {
		return Receipt{}, fmt.Errorf("notify: send email %s: %w: %w", e.MessageID, ErrRejected, err)
	}
	headerID := e.HeaderID()
	attempt, r, done, err := m.claim(ctx, e.MessageID, headerID)
	if done {
		return r, err
	}
	a := &smtpAttempt{m: m, id: e.MessageID, headerID: headerID, attempt: attempt, env: env}
	return a.run(ctx, msg)
}

// envelope is the SMTP envelope of a message and the addresses to blank in
// the server's replies.
type envelope struct {
	from, to string // "<addr>"
	blank    *regexp.Regexp
}

// buildMIME renders e as a go-mail message dated now.
func buildMIME(e Email, now time.Time) (*gomail.Msg, envelope, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	// The addresses passed Validate; go-mail's errors would quote them.
	if err := msg.From(e.From); err != nil {
		return nil, envelope{}, fmt.Errorf("%w: the from address cannot be encoded", ErrInvalid)
	}
	if err := msg.To(e.To); err != nil {
		return nil, envelope{}, fmt.Errorf("%w: the to address cannot be encoded", ErrInvalid)
	}
	msg.Subject(e.Subject)
	msg.SetMessageIDWithValue(strings.TrimSuffix(strings.TrimPrefix(e.HeaderID(), "<"), ">")) // go-mail adds the <>
	msg.SetDateWithValue(now)
	msg.SetBodyString(gomail.TypeTextPlain, e.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, e.HTML)
	for _, a := range e.Attachments {
		ct := a.ContentType
		if ct == "" {
			ct = defaultContentType
		}
		msg.AttachReadSeeker(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(ct)))
	}
	from, err := msg.GetSender(false)
	if err != nil {
		return nil, envelope{}, fmt.Errorf("%w: no envelope sender", ErrInvalid)
	}
	rcpts, err := msg.GetRecipients()
	if err != nil || len(rcpts) != 1 {
		return nil, envelope{}, fmt.Errorf("%w: no single envelope recipient", ErrInvalid)
	}
	env := envelope{from: from, to: rcpts[0]}
	var alts []string
	for _, raw := range []string{e.To, e.From} {
		if a, err := mail.ParseAddress(raw); err == nil && a.Address != "" {
			alts = append(alts, regexp.QuoteMeta(a.Address))
			if local, _, ok := strings.Cut(a.Address, "@"); ok && len(local) >= 3 {
				alts = append(alts, regexp.QuoteMeta(local)+"@")
			}
		}
	}
	if len(alts) > 0 {
		env.blank = regexp.MustCompile("(?i)" + strings.Join(alts, "|"))
	}
	return msg, env, nil
}

// redact blanks the message's addresses in s, a server reply or an error.
func (env envelope) redact(s string) string {
	if env.blank == nil {
		return s
	}
	return env.blank.ReplaceAllString(s, "[address]")
}

// claim records the start of an attempt, or answers without one (done).
func (m *SMTPMailer) claim(ctx context.Context, id, headerID string) (attempt int, r Receipt, done bool, err error) {
	for range 3 {
		n, err := m.db.Exec(ctx, qMailClaimNew, id, headerID, m.stamp())
		if err != nil {
			return 0, Receipt{}, true, storeError("mail delivery", id, err)
		}
		if n == 1 {
			return 1, Receipt{}, false, nil
		}
		var (
			state      string
			attempts   int
			started    time.Time
			committing *time.Time
			note       string
		)
		err = m.db.QueryRow(ctx, qMailSelect, id).Scan(&state, &attempts, &started, &committing, &note)
		switch {
		case errors.Is(err, database.ErrNoRows): // removed meanwhile
			continue
		case err != nil:
			return 0, Receipt{}, true, storeError("mail delivery", id, err)
		}
		switch state {
		case MailSent:
			return 0, Receipt{ProviderID: headerID, Duplicate: true}, true, nil
		case MailCommitting:
			// An attempt that got no reply notes it; one that still waits
			// for the reply has no note and is recent.
			if note == "" && committing != nil && m.now().Sub(*committing) < m.lease() {
				return 0, Receipt{}, true, fmt.Errorf("notify: send email %s: another attempt is waiting for the server to accept it; try again later: %w",
					id, ErrUnavailable)
			}
			if _, err := m.db.Exec(ctx, qMailUncertain, id, m.stamp()); err != nil {
				return 0, Receipt{}, true, storeError("mail delivery", id, err)
			}
			return 0, uncertainMail(headerID), true, nil
		case MailUncertain:
			return 0, uncertainMail(headerID), true, nil
		case MailSending:
			if held := m.now().Sub(started); held < m.lease() {
				return 0, Receipt{}, true, fmt.Errorf("notify: send email %s: another attempt has been sending it for %s; try again later: %w",
					id, held.Round(time.Second), ErrUnavailable)
			}
		}
		// failed, or abandoned while sending
		n, err = m.db.Exec(ctx, qMailClaimAgain, id, headerID, m.stamp(), state, attempts)
		if err != nil {
			return 0, Receipt{}, true, storeError("mail delivery", id, err)
		}
		if n == 1 {
			return attempts + 1, Receipt{}, false, nil
		}
	}
	return 0, Receipt{}, true, fmt.Errorf("notify: send email %s: concurrent sends of the same message; try again later: %w", id, ErrUnavailable)
}

// lease is how long a 'sending' or 'committing' row belongs to its attempt.
func (m *SMTPMailer) lease() time.Duration { return smtpLeaseFactor * m.cfg.Timeout }

// uncertainMail is the answer for a message whose final "." got no reply:
// it is not sent again, and whether the server has it is unknown.
func uncertainMail(headerID string) Receipt {
	return Receipt{ProviderID: headerID, Duplicate: true, Uncertain: true}
}

// stamp is now in UTC, to the microsecond.
func (m *SMTPMailer) stamp() time.Time { return recordedAt(m.now) }

// smtpAttempt is one claimed attempt to deliver a message.
type smtpAttempt struct {
	m        *SMTPMailer
	id       string
	headerID string
	attempt  int
	env      envelope
	conn     net.Conn
	c        *smtp.Client
}

// smtpConfigError is a failure the configuration or the server's
// capabilities cause, not the network or the message.
type smtpConfigError struct{ msg string }

func (e *smtpConfigError) Error() string { return e.msg }

// longAgo is a deadline in the past: it aborts pending I/O at once.
var longAgo = time.Unix(1, 0)

// run speaks SMTP for the claimed message and records the outcome.
func (a *smtpAttempt) run(ctx context.Context, msg *gomail.Msg) (Receipt, error) {
	cfg := a.m.cfg
	if err := ctx.Err(); err != nil {
		return a.failed(ctx, "connect", err)
	}
	conn, err := a.dial(ctx)
	if err != nil {
		return a.failed(ctx, "connect", err)
	}
	a.conn = conn
	defer conn.Close()
	// Cancelling ctx aborts whatever I/O is pending, up to the final ".".
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(longAgo) })
	defer stop()

	if err := conn.SetDeadline(time.Now().Add(cfg.Timeout)); err != nil {
		return a.failed(ctx, "connect", err)
	}
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		return a.failed(ctx, "greeting", err)
	}
	a.c = c
	helo := cfg.HeloName
	if helo == "" {
		helo = "localhost"
	}
	if err := a.step(ctx, func() error { return c.Hello(helo) }); err != nil {
		return a.failed(ctx, "EHLO", err)
	}
	if err := a.startTLS(ctx); err != nil {
		return a.failed(ctx, "STARTTLS", err)
	}
	if cfg.Username != "" {
		if err := a.step(ctx, a.auth); err != nil {
			return a.failed(ctx, "AUTH", err)
		}
	}
	if err := a.step(ctx, func() error { return c.Mail(a.env.from) }); err != nil {
		return a.failed(ctx, "MAIL", err)
	}
	if err := a.step(ctx, func() error { return c.Rcpt(a.env.to) }); err != nil {
		return a.failed(ctx, "RCPT", err)
	}
	var w io.WriteCloser
	if err := a.step(ctx, func() (err error) { w, err = c.Data(); return err }); err != nil {
		return a.failed(ctx, "DATA", err)
	}
	// Write the message and push it to the server, all but the final ".".
	if _, err := msg.WriteTo(&deadlineWriter{ctx: ctx, a: a, w: w}); err != nil {
		return a.failed(ctx, "message", err)
	}
	if err := a.step(ctx, c.Text.W.Flush); err != nil {
		return a.failed(ctx, "message", err)
	}
	if !stop() || ctx.Err() != nil { // cancelled: the "." was not sent
		return a.failed(ctx, "message", context.Cause(ctx))
	}

	// The commit: record it first, in its own statement, then send the ".".
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	n, err := a.m.db.Exec(rctx, qMailCommitting, a.id, a.attempt, a.m.stamp())
	switch {
	case err != nil:
		a.record(rctx, MailFailed, "", "not sent: could not record the commit: "+err.Error())
		return Receipt{}, storeError("mail delivery", a.id, err)
	case n == 0:
		return Receipt{}, fmt.Errorf("notify: send email %s: another attempt took the message over; not sent by this one: %w", a.id, ErrUnavailable)
	}
	if err := c.UpdateDeadline(cfg.Timeout); err != nil {
		return a.noReply(rctx, err)
	}
	if err := w.Close(); err != nil {
		var te *textproto.Error
		if errors.As(err, &te) {
			return a.refused(rctx, "end of data", te)
		}
		return a.noReply(rctx, err)
	}
	response := ""
	if sr, ok := w.(interface{ ServerResponse() string }); ok {
		response = a.env.redact(sr.ServerResponse())
	}
	a.record(rctx, MailSent, response, "")
	if err := c.UpdateDeadline(cfg.Timeout); err == nil {
		_ = c.Quit() // the message is delivered; a failed QUIT changes nothing
	}
	return Receipt{ProviderID: a.headerID}, nil
}

// dial connects, with the TLS handshake for implicit TLS.
func (a *smtpAttempt) dial(ctx context.Context) (net.Conn, error) {
	cfg := a.m.cfg
	d := &net.Dialer{Timeout: cfg.Timeout}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	if cfg.Security == SMTPImplicitTLS {
		return (&tls.Dialer{NetDialer: d, Config: a.m.tls}).DialContext(ctx, "tcp", addr)
	}
	return d.DialContext(ctx, "tcp", addr)
}

// step runs one command with a fresh deadline, unless ctx is done.
func (a *smtpAttempt) step(ctx context.Context, fn func() error) error {
	if err := a.c.UpdateDeadline(a.m.cfg.Timeout); err != nil {
		return err
	}
	// Checked after the deadline is set: a cancellation racing with it has
	// either set its past deadline afterwards or is seen here.
	if err := ctx.Err(); err != nil {
		return err
	}
	return fn()
}

func (a *smtpAttempt) startTLS(ctx context.Context) error {
	security := a.m.cfg.Security
	if security != SMTPStartTLS && security != SMTPOpportunistic {
		return nil
	}
	if ok, _ := a.c.Extension("STARTTLS"); !ok {
		if security == SMTPOpportunistic {
			return nil
		}
		return &smtpConfigError{"the server does not offer STARTTLS, which security=starttls requires " +
			"(use security=opportunistic or none only on a trusted network)"}
	}
	return a.step(ctx, func() error { return a.c.StartTLS(a.m.tls) })
}

// auth authenticates with the best mechanism the server offers.
func (a *smtpAttempt) auth() error {
	cfg := a.m.cfg
	ok, offered := a.c.Extension("AUTH")
	if !ok {
		return &smtpConfigError{"the server does not offer AUTH, but a user name is configured"}
	}
	mechs := strings.Fields(strings.ToUpper(offered))
	var mech smtp.Auth
	switch {
	case slices.Contains(mechs, "SCRAM-SHA-256"):
		mech = smtp.ScramSHA256Auth(cfg.Username, cfg.Password)
	case slices.Contains(mechs, "SCRAM-SHA-1"):
		mech = smtp.ScramSHA1Auth(cfg.Username, cfg.Password)
	case slices.Contains(mechs, "CRAM-MD5"):
		mech = smtp.CRAMMD5Auth(cfg.Username, cfg.Password)
	case slices.Contains(mechs, "PLAIN"):
		mech = smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host, false)
	case slices.Contains(mechs, "LOGIN"):
		mech = smtp.LoginAuth(cfg.Username, cfg.Password, cfg.Host, false)
	default:
		return &smtpConfigError{"the server offers no AUTH mechanism insure supports (SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN)"}
	}
	err := a.c.Auth(mech)
	if errors.Is(err, smtp.ErrUnencrypted) {
		return &smtpConfigError{"refusing to send the password unencrypted: the server offers only PLAIN or LOGIN " +
			"without TLS; use security=starttls or smtps://"}
	}
	return err
}

// deadlineWriter gives each write of the message a fresh deadline, so a
// large message may take longer than Timeout as long as it moves.
type deadlineWriter struct {
	ctx context.Context
	a   *smtpAttempt
	w   io.Writer
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if err := d.a.step(d.ctx, func() error { return nil }); err != nil {
		return 0, err
	}
	return d.w.Write(p)
}

// failed records and returns a failure before the final ".": nothing was
// delivered.
func (a *smtpAttempt) failed(ctx context.Context, step string, err error) (Receipt, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	what := "notify: send email " + a.id
	var te *textproto.Error
	switch {
	case ctx.Err() != nil:
		cause := context.Cause(ctx)
		a.record(rctx, MailFailed, "", "not sent: cancelled at "+step+": "+cause.Error())
		return Receipt{}, fmt.Errorf("%s: cancelled at %s; not sent: %w: %w", what, step, ErrUnavailable, cause)
	case errors.As(err, &te):
		return a.refused(rctx, step, te)
	}
	msg := a.env.redact(err.Error())
	var ce *smtpConfigError
	if errors.As(err, &ce) || !isConnectionError(err) {
		a.record(rctx, MailFailed, "", "not sent: "+step+": "+msg)
		a.quit()
		return Receipt{}, fmt.Errorf("%s: %s: %s", what, step, msg)
	}
	a.record(rctx, MailFailed, "", "not sent: "+step+": "+msg)
	// A connection error names the server, never the message's addresses.
	return Receipt{}, fmt.Errorf("%s: %s: the SMTP server %s is unavailable; not sent, try again later: %w: %w",
		what, step, net.JoinHostPort(a.m.cfg.Host, strconv.Itoa(a.m.cfg.Port)), ErrUnavailable, err)
}

// refused records and returns the server's negative reply to step.
func (a *smtpAttempt) refused(rctx context.Context, step string, te *textproto.Error) (Receipt, error) {
	se := &SMTPError{Command: step, Code: te.Code, Message: a.env.redact(te.Msg)}
	a.record(rctx, MailFailed, "", se.Error())
	a.quit()
	what := "notify: send email " + a.id
	switch step {
	case "MAIL", "RCPT", "DATA", "end of data":
		if te.Code >= 500 && te.Code < 600 {
			return Receipt{}, fmt.Errorf("%s: %w: %w", what, ErrRejected, se)
		}
	}
	return Receipt{}, fmt.Errorf("%s: %w", what, se)
}

// noReply handles the ambiguous case: the final "." may have reached the
// server, and no reply came. The row stays 'committing'.
func (a *smtpAttempt) noReply(rctx context.Context, err error) (Receipt, error) {
	// The row says 'committing' whether or not the note is written.
	_, _ = a.m.db.Exec(rctx, qMailNoReply, a.id, a.attempt, "no reply to the end of the message: "+a.env.redact(err.Error()))
	return Receipt{}, fmt.Errorf("notify: send email %s: no reply to the end of the message, so the server may have accepted it; "+
		"it will not be sent again: %w: %w", a.id, ErrUnavailable, err)
}

// record writes the attempt's outcome. A failure to write leaves the row as
// it was ('sending' is taken over after the lease; 'committing' is reported
// uncertain), which never causes a second delivery.
func (a *smtpAttempt) record(rctx context.Context, state, response, errText string) {
	_, _ = a.m.db.Exec(rctx, qMailFinish, a.id, a.attempt, state, a.m.stamp(), nullIfEmpty(response), nullIfEmpty(errText))
}

// quit ends a session that is still in step after a refusal, politely.
func (a *smtpAttempt) quit() {
	if a.c == nil || !a.c.HasConnection() {
		return
	}
	if err := a.c.UpdateDeadline(a.m.cfg.Timeout); err == nil {
		_ = a.c.Quit()
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// isConnectionError reports whether err means the server could not be
// reached or the connection broke: a retry later may succeed.
func isConnectionError(err error) bool {
	var (
		netErr   net.Error
		protoErr textproto.ProtocolError
		certErr  *tls.CertificateVerificationError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
	)
	return errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &protoErr) || errors.As(err, &certErr) || errors.As(err, &recErr) || errors.As(err, &alertErr)
}

// MailDelivery is SMTPMailer's record of one message (a mail_deliveries
// row). It holds no address or content.
type MailDelivery struct {
	MessageID    string
	HeaderID     string // the Message-ID header, to find the message in the server's log
	State        string // MailSending, MailCommitting, MailSent, MailFailed or MailUncertain
	Attempts     int
	StartedAt    time.Time // of the last attempt, UTC
	CommittingAt time.Time // zero until the final "." was sent
	FinishedAt   time.Time // zero while sending or committing
	Response     string    // the server's reply to the final "." when sent
	Error        string    // why the last attempt failed, or how it ended uncertain
}

// FindMailDelivery returns the delivery record of messageID, and false when
// SMTPMailer never tried to send it.
func FindMailDelivery(ctx context.Context, q database.Querier, messageID string) (MailDelivery, bool, error) {
	var (
		d                  MailDelivery
		committing, finish *time.Time
	)
	err := q.QueryRow(ctx, qMailDelivery, messageID).Scan(&d.MessageID, &d.HeaderID, &d.State, &d.Attempts,
		&d.StartedAt, &committing, &finish, &d.Response, &d.Error)
	switch {
	case errors.Is(err, database.ErrNoRows):
		return MailDelivery{}, false, nil
	case err != nil:
		return MailDelivery{}, false, fmt.Errorf("notify: read mail delivery %s: %w", messageID, err)
	}
	d.StartedAt = d.StartedAt.UTC()
	if committing != nil {
		d.CommittingAt = committing.UTC()
	}
	if finish != nil {
		d.FinishedAt = finish.UTC()
	}
	return d, true, nil
}
