package notify

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Errors returned by senders and by Validate.
var (
	// ErrUnavailable means the provider (for the log drivers: the database)
	// cannot be reached now. Nothing was sent; the caller releases the job
	// and retries later without using up an attempt.
	ErrUnavailable = errors.New("message provider unavailable")

	// ErrRejected means the message was refused for good (a bad address, an
	// invalid message); retrying the same message cannot help.
	ErrRejected = errors.New("message rejected")

	// ErrInvalid is wrapped by the error Validate returns. The message lists
	// every problem found. Send wraps it together with ErrRejected.
	ErrInvalid = errors.New("invalid message")
)

// headerDomain is the right-hand side of every RFC 5322 Message-ID insure
// generates.
const headerDomain = "insure.local"

// Attachment is a file sent with an email. DocumentID names the stored
// document the bytes came from, when there is one.
type Attachment struct {
	Name        string // file name shown to the recipient, without a directory
	ContentType string // MIME type; empty means application/octet-stream
	DocumentID  string
	Data        []byte
}

// Email is one outbound email. MessageID is insure's id for the message (a
// canonical lowercase UUID); senders are idempotent on it. CustomerID is the
// customer the message is about, also when it goes to someone else (the
// administrators' notice of a registration); empty for a message about no
// customer. The log driver seals its stored copy under that customer's data
// key.
type Email struct {
	MessageID   string
	CustomerID  string
	From, To    string // single RFC 5322 addresses, display names allowed
	Subject     string
	Text, HTML  string // both bodies are required (multipart/alternative)
	Attachments []Attachment
}

// HeaderID returns the RFC 5322 Message-ID header value for e, derived only
// from MessageID: "<" + MessageID + "@insure.local>". A retried send
// therefore carries the same header, which lets mail servers and clients
// recognise the copy.
func (e Email) HeaderID() string {
	return "<" + e.MessageID + "@" + headerDomain + ">"
}

// Validate checks e before it is sent. It returns nil or an error wrapping
// ErrInvalid that lists every problem: the message id must be a canonical
// lowercase UUID, From and To single addresses net/mail accepts, the subject
// non-empty and on one line, both bodies non-empty, and each attachment must
// have content and a name without a path separator. No text may contain
// invalid UTF-8 or NUL bytes.
func (e Email) Validate() error {
	var p problems
	p.messageID(e.MessageID)
	p.text("customer id", e.CustomerID)
	p.address("from", e.From)
	p.address("to", e.To)
	switch {
	case strings.TrimSpace(e.Subject) == "":
		p.add("subject is empty")
	case strings.ContainsAny(e.Subject, "\r\n"):
		p.add("subject has a line break: it must be a single line")
	default:
		p.text("subject", e.Subject)
	}
	if strings.TrimSpace(e.Text) == "" {
		p.add("text body is empty")
	} else {
		p.text("text body", e.Text)
	}
	if strings.TrimSpace(e.HTML) == "" {
		p.add("html body is empty")
	} else {
		p.text("html body", e.HTML)
	}
	for i, a := range e.Attachments {
		what := fmt.Sprintf("attachment %d", i+1)
		p.fileName(what+" name", a.Name)
		if a.ContentType != "" {
			if _, _, err := mime.ParseMediaType(a.ContentType); err != nil {
				p.add(fmt.Sprintf("%s content type %q: %v", what, a.ContentType, err))
			}
		}
		p.text(what+" document id", a.DocumentID)
		if len(a.Data) == 0 {
			p.add(what + " has no content")
		}
	}
	return p.err(strings.TrimSpace("email " + e.MessageID))
}

// WhatsApp is one outbound WhatsApp template message. Template and Language
// name an approved template at the provider; Params fill its body variables
// in order. DocumentID, when set, attaches that stored document as the
// template's header, shown to the recipient as DocumentName. Document holds
// its bytes (a PDF) for the senders that upload it (CloudAPI requires them;
// the log driver records only the id). CustomerID is the customer the
// message is about, as for Email.
type WhatsApp struct {
	MessageID    string // insure's id, a canonical lowercase UUID
	CustomerID   string
	To           string // E.164, e.g. +919812345678
	Template     string
	Language     string // e.g. "en", "en_US"
	Params       []string
	DocumentID   string
	DocumentName string
	Document     []byte
}

// Validate checks w before it is sent. It returns nil or an error wrapping
// ErrInvalid that lists every problem: the message id must be a canonical
// lowercase UUID; To a + followed by 8 to 15 digits; Template lowercase
// letters, digits and underscores; Language a code such as "en" or "en_US";
// each parameter non-empty, without newlines or tabs and without more than
// four consecutive spaces (the Cloud API refuses those); and a document
// needs a file name without a path separator, and a file name or document
// bytes need a document id. Document itself is optional here.
func (w WhatsApp) Validate() error {
	var p problems
	p.messageID(w.MessageID)
	p.text("customer id", w.CustomerID)
	if !isE164(w.To) {
		p.add(fmt.Sprintf("to %q is not an E.164 number (+ and 8 to 15 digits, e.g. +919812345678)", w.To))
	}
	if !isTemplateName(w.Template) {
		p.add(fmt.Sprintf("template %q: use 1 to 512 lowercase letters, digits and underscores", w.Template))
	}
	if !isLanguage(w.Language) {
		p.add(fmt.Sprintf("language %q: use a code such as en or en_US", w.Language))
	}
	for i, v := range w.Params {
		what := fmt.Sprintf("parameter %d", i+1)
		switch {
		case strings.TrimSpace(v) == "":
			p.add(what + " is empty")
		case strings.ContainsAny(v, "\r\n\t"):
			p.add(what + " has a newline or tab")
		case strings.Contains(v, "     "):
			p.add(what + " has more than four consecutive spaces")
		default:
			p.text(what, v)
		}
	}
	switch {
	case w.DocumentID != "":
		p.text("document id", w.DocumentID)
		p.fileName("document name", w.DocumentName)
	case w.DocumentName != "":
		p.add("document name is set but document id is empty")
	}
	if len(w.Document) > 0 && w.DocumentID == "" {
		p.add("document bytes are set but document id is empty")
	}
	return p.err(strings.TrimSpace("whatsapp message " + w.MessageID))
}

// Receipt is what a provider answered for a sent message.
type Receipt struct {
	// ProviderID is the provider's id for the message.
	ProviderID string
	// Duplicate reports that the provider already had this message id:
	// nothing was sent again, and ProviderID is the one from the first send.
	Duplicate bool
	// Uncertain reports that the provider may or may not have accepted an
	// earlier attempt; insure did not send again, to avoid a duplicate.
	// Duplicate is set too.
	Uncertain bool
}

// Mailer sends emails. Send is idempotent on Email.MessageID. It returns an
// error wrapping ErrUnavailable when the provider cannot be reached now, and
// one wrapping ErrRejected when the message can never be sent (this includes
// a message that fails Validate, which also wraps ErrInvalid).
type Mailer interface {
	Send(ctx context.Context, e Email) (Receipt, error)
}

// WhatsAppSender sends WhatsApp template messages, with the same idempotency
// and errors as Mailer.
type WhatsAppSender interface {
	Send(ctx context.Context, w WhatsApp) (Receipt, error)
}

// problems collects validation failures.
type problems []string

func (p *problems) add(s string) { *p = append(*p, s) }

func (p problems) err(what string) error {
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalid, what, strings.Join(p, "; "))
}

func (p *problems) messageID(id string) {
	if !isUUID(id) {
		p.add(fmt.Sprintf("message id %q is not a canonical lowercase UUID", id))
	}
}

func (p *problems) address(field, addr string) {
	if strings.TrimSpace(addr) == "" {
		p.add(field + " address is empty")
		return
	}
	if strings.ContainsAny(addr, "\r\n") {
		p.add(field + " address has a line break")
		return
	}
	if _, err := mail.ParseAddress(addr); err != nil {
		p.add(fmt.Sprintf("%s address is not valid: %v", field, err)) // the address itself is personal data: not echoed
	}
}

func (p *problems) fileName(field, name string) {
	switch {
	case strings.TrimSpace(name) == "":
		p.add(field + " is empty")
	case strings.ContainsAny(name, `/\`):
		p.add(fmt.Sprintf("%s %q has a path separator: give the bare file name", field, name))
	case name == "." || name == "..":
		p.add(fmt.Sprintf("%s %q is not a file name", field, name))
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		p.add(fmt.Sprintf("%s %q has a control character", field, name))
	default:
		p.text(field, name)
	}
}

// text rejects what neither the databases nor the providers store: invalid
// UTF-8 and NUL bytes.
func (p *problems) text(field, s string) {
	if !utf8.ValidString(s) {
		p.add(field + " is not valid UTF-8")
	} else if strings.IndexByte(s, 0) >= 0 {
		p.add(field + " has a NUL byte")
	}
}

// isUUID reports whether s is a canonical lowercase UUID (8-4-4-4-12 hex).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

func isE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isTemplateName(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// isLanguage accepts ll, lll, ll_CC and lll_CC.
func isLanguage(s string) bool {
	lang, region, hasRegion := strings.Cut(s, "_")
	if len(lang) < 2 || len(lang) > 3 || !allIn(lang, 'a', 'z') {
		return false
	}
	return !hasRegion || len(region) == 2 && allIn(region, 'A', 'Z')
}

func allIn(s string, lo, hi byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < lo || s[i] > hi {
			return false
		}
	}
	return true
}
