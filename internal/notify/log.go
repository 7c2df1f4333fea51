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
)

// defaultContentType is recorded for an attachment without a content type.
const defaultContentType = "application/octet-stream"

// LogMailer is the development Mailer: instead of delivering an email it
// records the whole message (addresses, subject, both bodies and the
// attachments' metadata) in the outbound_mail table. It is safe for
// concurrent use.
type LogMailer struct {
	db  database.DB
	now func() time.Time
}

var _ Mailer = (*LogMailer)(nil)

// NewLogMailer returns a LogMailer that records into db, stamping each
// message with now (time.Now when nil).
func NewLogMailer(db database.DB, now func() time.Time) *LogMailer {
	if now == nil {
		now = time.Now
	}
	return &LogMailer{db: db, now: now}
}

// Send records e. The receipt's ProviderID is e.HeaderID(). When e's
// MessageID was recorded before, Send records nothing (even if the content
// differs) and returns Duplicate=true with the same ProviderID.
//
// Send returns an error wrapping ErrRejected and ErrInvalid when e fails
// Validate, and one wrapping ErrUnavailable (and database.ErrUnavailable)
// when the database cannot take the write now.
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
	n, err := m.db.Exec(ctx, qInsertMail, e.MessageID, e.HeaderID(), e.To, e.From, e.Subject,
		e.Text, e.HTML, string(attJSON), recordedAt(m.now))
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
// media id of the uploaded document. It is safe for concurrent use.
type LogWhatsApp struct {
	db  database.DB
	now func() time.Time
}

var _ WhatsAppSender = (*LogWhatsApp)(nil)

// NewLogWhatsApp returns a LogWhatsApp that records into db, stamping each
// message with now (time.Now when nil).
func NewLogWhatsApp(db database.DB, now func() time.Time) *LogWhatsApp {
	if now == nil {
		now = time.Now
	}
	return &LogWhatsApp{db: db, now: now}
}

// LogProviderID is the provider message id LogWhatsApp gives the message
// with insure id messageID: "wamid.log." + messageID.
func LogProviderID(messageID string) string { return "wamid.log." + messageID }

// Send records w. The receipt's ProviderID is LogProviderID(w.MessageID).
// When w's MessageID was recorded before, Send records nothing (even if the
// content differs) and returns Duplicate=true with the same ProviderID.
//
// Send returns an error wrapping ErrRejected and ErrInvalid when w fails
// Validate, and one wrapping ErrUnavailable (and database.ErrUnavailable)
// when the database cannot take the write now.
func (s *LogWhatsApp) Send(ctx context.Context, w WhatsApp) (Receipt, error) {
	body, err := CloudAPIBody(w, w.DocumentID)
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return Receipt{}, fmt.Errorf("notify: send whatsapp message: %w: %w", ErrRejected, err)
		}
		return Receipt{}, err
	}
	receipt := Receipt{ProviderID: LogProviderID(w.MessageID)}
	n, err := s.db.Exec(ctx, qInsertWhatsApp, w.MessageID, receipt.ProviderID, w.To, w.Template,
		w.Language, string(body), recordedAt(s.now))
	if err != nil {
		return Receipt{}, storeError("whatsapp message", w.MessageID, err)
	}
	receipt.Duplicate = n == 0
	return receipt, nil
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
