package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"insure/internal/database"
	"insure/internal/keyring"
)

// defaultContentType is recorded for an attachment without a content type.
const defaultContentType = "application/octet-stream"

// Sealer seals a personal value of subjectID (a customer) stored in field
// ("outbound_mail.subject"); "" stays "". q is where a subject's first seal
// creates their data key. Sealing for an erased subject fails with an error
// wrapping keyring.ErrErased. *personal.Vault implements it.
type Sealer interface {
	Seal(ctx context.Context, q database.Querier, subjectID, field, value string) (string, error)
}

// Opener opens a value a Sealer sealed. An erased subject's value opens to
// "[erased]" (event.Erased); a value that is not sealed is returned as it
// is. *personal.Vault implements it.
type Opener interface {
	Open(ctx context.Context, q database.Querier, subjectID, field, value string) (string, error)
}

// The fields (table.column) the log drivers seal values in.
const (
	fieldMailTo    = "outbound_mail.to_addr"
	fieldMailSubj  = "outbound_mail.subject"
	fieldMailText  = "outbound_mail.text_body"
	fieldMailHTML  = "outbound_mail.html_body"
	fieldWhatsTo   = "outbound_whatsapp.to_phone"
	fieldWhatsBody = "outbound_whatsapp.body"
)

// LogMailer is the development Mailer: instead of delivering an email it
// records the whole message (addresses, subject, both bodies and the
// attachments' metadata) in the outbound_mail table. The recipient, subject
// and both bodies of a message about a customer (Email.CustomerID) are
// sealed under that customer's data key. It is safe for concurrent use.
type LogMailer struct {
	db     database.DB
	sealer Sealer
	now    func() time.Time
}

var _ Mailer = (*LogMailer)(nil)

// NewLogMailer returns a LogMailer that records into db, sealing the
// personal columns of messages about a customer with sealer, and stamping
// each message with now (time.Now when nil). With a nil sealer, Send refuses
// messages about a customer rather than store them in clear.
func NewLogMailer(db database.DB, sealer Sealer, now func() time.Time) *LogMailer {
	if now == nil {
		now = time.Now
	}
	return &LogMailer{db: db, sealer: sealer, now: now}
}

// Send records e. The receipt's ProviderID is e.HeaderID(). When e's
// MessageID was recorded before, Send records nothing (even if the content
// differs) and returns Duplicate=true with the same ProviderID.
//
// When e.CustomerID is set, to_addr, subject, text_body and html_body are
// sealed under that customer (fields "outbound_mail.<column>"); otherwise
// they are stored as they are.
//
// Send returns an error wrapping ErrRejected and ErrInvalid when e fails
// Validate; one wrapping ErrRejected when the customer's personal data was
// erased (nothing is recorded); and one wrapping ErrUnavailable (and
// database.ErrUnavailable) when the database cannot take the write now.
func (m *LogMailer) Send(ctx context.Context, e Email) (Receipt, error) {
	if err := e.Validate(); err != nil {
		return Receipt{}, fmt.Errorf("notify: send email: %w: %w", ErrRejected, err)
	}
	atts := make([]RecordedAttachment, len(e.Attachments))
	for i, a := range e.Attachments {
		sum := sha256.Sum256(a.Data)
		atts[i] = RecordedAttachment{
			Name:        a.Name,
			ContentType: a.ContentType,
			DocumentID:  a.DocumentID,
			Size:        len(a.Data),
			SHA256:      hex.EncodeToString(sum[:]),
		}
		if atts[i].ContentType == "" {
			atts[i].ContentType = defaultContentType
		}
	}
	attJSON, err := json.Marshal(atts)
	if err != nil {
		return Receipt{}, fmt.Errorf("notify: send email %s: encode attachments: %w", e.MessageID, err)
	}
	receipt := Receipt{ProviderID: e.HeaderID()}
	s := seal{ctx: ctx, db: m.db, sealer: m.sealer, subject: e.CustomerID}
	to, subject := s.value(fieldMailTo, e.To), s.value(fieldMailSubj, e.Subject)
	text, html := s.value(fieldMailText, e.Text), s.value(fieldMailHTML, e.HTML)
	if s.err != nil {
		return recordedBefore(ctx, m.db, qMailExists, "email", e.MessageID, receipt, s.err)
	}
	n, err := m.db.Exec(ctx, qInsertMail, e.MessageID, e.HeaderID(), to, e.From, subject,
		text, html, string(attJSON), recordedAt(m.now), e.CustomerID)
	if err != nil {
		return Receipt{}, storeError("email", e.MessageID, err)
	}
	receipt.Duplicate = n == 0
	return receipt, nil
}

// LogWhatsApp is the development WhatsAppSender: instead of calling the
// Cloud API it records the request body the API would receive (see
// CloudAPIBody) in the outbound_whatsapp table. The document reference in
// that body is insure's document id, where the Cloud API adapter puts the
// media id of the uploaded document. The phone number and the body of a
// message about a customer (WhatsApp.CustomerID) are sealed under that
// customer's data key. It is safe for concurrent use.
type LogWhatsApp struct {
	db     database.DB
	sealer Sealer
	now    func() time.Time
}

var _ WhatsAppSender = (*LogWhatsApp)(nil)

// NewLogWhatsApp returns a LogWhatsApp that records into db, sealing the
// personal columns of messages about a customer with sealer, and stamping
// each message with now (time.Now when nil). With a nil sealer, Send refuses
// messages about a customer rather than store them in clear.
func NewLogWhatsApp(db database.DB, sealer Sealer, now func() time.Time) *LogWhatsApp {
	if now == nil {
		now = time.Now
	}
	return &LogWhatsApp{db: db, sealer: sealer, now: now}
}

// LogProviderID is the provider message id LogWhatsApp gives the message
// with insure id messageID: "wamid.log." + messageID.
func LogProviderID(messageID string) string { return "wamid.log." + messageID }

// Send records w. The receipt's ProviderID is LogProviderID(w.MessageID).
// When w's MessageID was recorded before, Send records nothing (even if the
// content differs) and returns Duplicate=true with the same ProviderID.
//
// When w.CustomerID is set, to_phone and body are sealed under that
// customer (fields "outbound_whatsapp.<column>"); the body column then holds
// the sealed value as a JSON string. Otherwise they are stored as they are.
//
// Send returns an error wrapping ErrRejected and ErrInvalid when w fails
// Validate; one wrapping ErrRejected when the customer's personal data was
// erased (nothing is recorded); and one wrapping ErrUnavailable (and
// database.ErrUnavailable) when the database cannot take the write now.
func (s *LogWhatsApp) Send(ctx context.Context, w WhatsApp) (Receipt, error) {
	body, err := CloudAPIBody(w, w.DocumentID)
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return Receipt{}, fmt.Errorf("notify: send whatsapp message: %w: %w", ErrRejected, err)
		}
		return Receipt{}, err
	}
	receipt := Receipt{ProviderID: LogProviderID(w.MessageID)}
	sl := seal{ctx: ctx, db: s.db, sealer: s.sealer, subject: w.CustomerID}
	to, stored := sl.value(fieldWhatsTo, w.To), string(body)
	if w.CustomerID != "" {
		// The column is JSON: the sealed body is kept as a JSON string.
		sealed, err := json.Marshal(sl.value(fieldWhatsBody, stored))
		if err != nil {
			return Receipt{}, fmt.Errorf("notify: send whatsapp message %s: encode sealed body: %w", w.MessageID, err)
		}
		stored = string(sealed)
	}
	if sl.err != nil {
		return recordedBefore(ctx, s.db, qWhatsAppExists, "whatsapp message", w.MessageID, receipt, sl.err)
	}
	n, err := s.db.Exec(ctx, qInsertWhatsApp, w.MessageID, receipt.ProviderID, to, w.Template,
		w.Language, stored, recordedAt(s.now), w.CustomerID)
	if err != nil {
		return Receipt{}, storeError("whatsapp message", w.MessageID, err)
	}
	receipt.Duplicate = n == 0
	return receipt, nil
}

// seal seals the values of one message under its subject, keeping the
// first error. With no subject the values stay as they are.
type seal struct {
	ctx     context.Context
	db      database.DB
	sealer  Sealer
	subject string
	err     error
}

func (s *seal) value(field, v string) string {
	if s.subject == "" || s.err != nil {
		return v
	}
	if s.sealer == nil {
		s.err = errors.New("no sealer is configured, and a message about a customer is not stored in clear")
		return ""
	}
	out, err := s.sealer.Seal(s.ctx, s.db, s.subject, field, v)
	if err != nil {
		s.err = err
		return ""
	}
	return out
}

// recordedBefore answers a Send whose sealing failed with err. A message
// recorded before is a duplicate, as for any repeated Send (its customer
// was erased since, which is why sealing failed). Otherwise: an erased
// customer is ErrRejected, an unreachable database ErrUnavailable.
func recordedBefore(ctx context.Context, db database.DB, existsQ, what, id string, r Receipt, err error) (Receipt, error) {
	var one int
	switch qerr := db.QueryRow(ctx, existsQ, id).Scan(&one); {
	case qerr == nil:
		r.Duplicate = true
		return r, nil
	case !errors.Is(qerr, database.ErrNoRows):
		return Receipt{}, storeError(what, id, qerr)
	}
	if errors.Is(err, keyring.ErrErased) {
		return Receipt{}, fmt.Errorf("notify: send %s %s: the customer's personal data was erased; "+
			"nothing about them may be sent or stored: %w: %w", what, id, ErrRejected, err)
	}
	return Receipt{}, storeError(what, id, fmt.Errorf("seal: %w", err))
}

// recordedAt is now in UTC, to the microsecond, which both engines keep.
func recordedAt(now func() time.Time) time.Time {
	return now().UTC().Truncate(time.Microsecond)
}

func storeError(what, id string, err error) error {
	if errors.Is(err, database.ErrUnavailable) {
		return fmt.Errorf("notify: record %s %s: %w: %w", what, id, ErrUnavailable, err)
	}
	return fmt.Errorf("notify: record %s %s: %w", what, id, err)
}
