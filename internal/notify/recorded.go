package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"insure/internal/database"
)

// RecordedEmail is an email as LogMailer recorded it.
type RecordedEmail struct {
	MessageID, HeaderID string
	To, From            string
	Subject             string
	Text, HTML          string
	Attachments         []RecordedAttachment // nil when there were none
	RecordedAt          time.Time            // UTC
}

// RecordedAttachment is the metadata LogMailer keeps of an attachment; the
// bytes are not kept (the document itself is stored elsewhere).
type RecordedAttachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	DocumentID  string `json:"document_id"`
	Size        int    `json:"size"`   // bytes
	SHA256      string `json:"sha256"` // lowercase hex digest of the bytes
}

// RecordedWhatsApp is a WhatsApp message as LogWhatsApp recorded it.
type RecordedWhatsApp struct {
	MessageID, ProviderMessageID string
	To                           string
	Template, Language           string
	Params                       []string // nil when there were none
	DocumentID, DocumentName     string   // empty when no document was attached
	// Body is the stored Cloud API request body. PostgreSQL keeps JSON in
	// its own normal form, so compare it decoded, not byte for byte.
	Body       json.RawMessage
	RecordedAt time.Time // UTC
}

// RecordedEmails returns the emails LogMailer recorded with the given
// message ids, or all of them when none are given, oldest first (ties by
// message id). Ids that were never recorded are left out.
func RecordedEmails(ctx context.Context, q database.Querier, messageIDs ...string) ([]RecordedEmail, error) {
	var out []RecordedEmail
	err := queryByIDs(ctx, q, qSelectMail, messageIDs, func(rows database.Rows) error {
		var (
			r    RecordedEmail
			atts []byte
		)
		if err := rows.Scan(&r.MessageID, &r.HeaderID, &r.To, &r.From, &r.Subject, &r.Text, &r.HTML, &atts, &r.RecordedAt); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		if err := json.Unmarshal(atts, &r.Attachments); err != nil {
			return fmt.Errorf("email %s: attachments: %w", r.MessageID, err)
		}
		if len(r.Attachments) == 0 {
			r.Attachments = nil
		}
		r.RecordedAt = r.RecordedAt.UTC()
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("notify: read recorded emails: %w", err)
	}
	slices.SortFunc(out, func(a, b RecordedEmail) int {
		return cmpRecorded(a.RecordedAt, b.RecordedAt, a.MessageID, b.MessageID)
	})
	return out, nil
}

// RecordedWhatsApps returns the WhatsApp messages LogWhatsApp recorded with
// the given message ids, or all of them when none are given, oldest first
// (ties by message id). Ids that were never recorded are left out.
func RecordedWhatsApps(ctx context.Context, q database.Querier, messageIDs ...string) ([]RecordedWhatsApp, error) {
	var out []RecordedWhatsApp
	err := queryByIDs(ctx, q, qSelectWhatsApp, messageIDs, func(rows database.Rows) error {
		var (
			r    RecordedWhatsApp
			body []byte
		)
		if err := rows.Scan(&r.MessageID, &r.ProviderMessageID, &r.To, &r.Template, &r.Language, &body, &r.RecordedAt); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		params, doc, err := decodeCloudAPIBody(body)
		if err != nil {
			return fmt.Errorf("whatsapp message %s: body: %w", r.MessageID, err)
		}
		r.Params = params
		if doc != nil {
			r.DocumentID = doc.ID
			if r.DocumentID == "" {
				r.DocumentID = doc.Link
			}
			r.DocumentName = doc.Filename
		}
		r.Body = json.RawMessage(body)
		r.RecordedAt = r.RecordedAt.UTC()
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("notify: read recorded whatsapp messages: %w", err)
	}
	slices.SortFunc(out, func(a, b RecordedWhatsApp) int {
		return cmpRecorded(a.RecordedAt, b.RecordedAt, a.MessageID, b.MessageID)
	})
	return out, nil
}

// queryByIDs runs selectQ for all rows, or for the given ids in batches, and
// calls scan for every row.
func queryByIDs(ctx context.Context, q database.Querier, selectQ string, ids []string, scan func(database.Rows) error) error {
	if len(ids) == 0 {
		return queryRows(ctx, q, selectQ+qOrder, nil, scan)
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for batch := range slices.Chunk(ids, maxIDsPerQuery) {
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		if err := queryRows(ctx, q, selectQ+whereIDs(len(batch))+qOrder, args, scan); err != nil {
			return err
		}
	}
	return nil
}

func queryRows(ctx context.Context, q database.Querier, query string, args []any, scan func(database.Rows) error) error {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func cmpRecorded(ta, tb time.Time, ida, idb string) int {
	if c := ta.Compare(tb); c != 0 {
		return c
	}
	return strings.Compare(ida, idb)
}
