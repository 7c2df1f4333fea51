package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"insure/internal/database"
	"insure/internal/event"
)

// RecordedEmail is an email as LogMailer recorded it, opened: To, Subject,
// Text and HTML read "[erased]" (event.Erased) once the customer's personal
// data was erased.
type RecordedEmail struct {
	MessageID, HeaderID string
	CustomerID          string // the customer the email is about; empty for none
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

// RecordedWhatsApp is a WhatsApp message as LogWhatsApp recorded it,
// opened. Once the customer's personal data was erased, To reads "[erased]"
// (event.Erased), Body is the JSON string "[erased]", and Params and the
// document are empty: they were in the sealed body.
type RecordedWhatsApp struct {
	MessageID, ProviderMessageID string
	CustomerID                   string // the customer the message is about; empty for none
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
// message id). Ids that were never recorded are left out. Sealed values are
// opened with o; a nil o leaves them sealed ("enc:v1:…").
func RecordedEmails(ctx context.Context, q database.Querier, o Opener, messageIDs ...string) ([]RecordedEmail, error) {
	var out []RecordedEmail
	err := queryByIDs(ctx, q, qSelectMail, messageIDs, func(rows database.Rows) error {
		var (
			r    RecordedEmail
			atts []byte
		)
		if err := rows.Scan(&r.MessageID, &r.CustomerID, &r.HeaderID, &r.To, &r.From, &r.Subject, &r.Text, &r.HTML, &atts, &r.RecordedAt); err != nil {
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
	// Opened once the rows are closed: opening may query q (the data key),
	// which a transaction cannot do while it reads rows.
	for i := range out {
		r := &out[i]
		op := opening{ctx: ctx, q: q, o: o, subject: r.CustomerID}
		r.To, r.Subject = op.value(fieldMailTo, r.To), op.value(fieldMailSubj, r.Subject)
		r.Text, r.HTML = op.value(fieldMailText, r.Text), op.value(fieldMailHTML, r.HTML)
		if op.err != nil {
			return nil, fmt.Errorf("notify: read recorded email %s: %w", r.MessageID, op.err)
		}
	}
	slices.SortFunc(out, func(a, b RecordedEmail) int {
		return cmpRecorded(a.RecordedAt, b.RecordedAt, a.MessageID, b.MessageID)
	})
	return out, nil
}

// RecordedWhatsApps returns the WhatsApp messages LogWhatsApp recorded with
// the given message ids, or all of them when none are given, oldest first
// (ties by message id). Ids that were never recorded are left out. Sealed
// values are opened with o; a nil o leaves them sealed (To is "enc:v1:…",
// Body that as a JSON string, and Params and the document are empty).
func RecordedWhatsApps(ctx context.Context, q database.Querier, o Opener, messageIDs ...string) ([]RecordedWhatsApp, error) {
	var out []RecordedWhatsApp
	err := queryByIDs(ctx, q, qSelectWhatsApp, messageIDs, func(rows database.Rows) error {
		var (
			r    RecordedWhatsApp
			body []byte
		)
		if err := rows.Scan(&r.MessageID, &r.CustomerID, &r.ProviderMessageID, &r.To, &r.Template, &r.Language, &body, &r.RecordedAt); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		r.Body = json.RawMessage(body)
		r.RecordedAt = r.RecordedAt.UTC()
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("notify: read recorded whatsapp messages: %w", err)
	}
	for i := range out {
		if err := openWhatsApp(ctx, q, o, &out[i]); err != nil {
			return nil, fmt.Errorf("notify: read recorded whatsapp message %s: %w", out[i].MessageID, err)
		}
	}
	slices.SortFunc(out, func(a, b RecordedWhatsApp) int {
		return cmpRecorded(a.RecordedAt, b.RecordedAt, a.MessageID, b.MessageID)
	})
	return out, nil
}

// openWhatsApp opens r's phone number and body and reads the parameters
// and document from the body. A sealed body is stored as a JSON string.
func openWhatsApp(ctx context.Context, q database.Querier, o Opener, r *RecordedWhatsApp) error {
	op := opening{ctx: ctx, q: q, o: o, subject: r.CustomerID}
	r.To = op.value(fieldWhatsTo, r.To)
	body := []byte(r.Body)
	var sealed string
	if json.Unmarshal(body, &sealed) == nil {
		if o == nil {
			return op.err
		}
		opened := op.value(fieldWhatsBody, sealed)
		if op.err != nil {
			return op.err
		}
		if opened == event.Erased {
			r.Body = json.RawMessage(`"` + event.Erased + `"`)
			return nil
		}
		body = []byte(opened)
		r.Body = json.RawMessage(body)
	}
	if op.err != nil {
		return op.err
	}
	params, doc, err := decodeCloudAPIBody(body)
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	r.Params = params
	if doc != nil {
		r.DocumentID = doc.ID
		if r.DocumentID == "" {
			r.DocumentID = doc.Link
		}
		r.DocumentName = doc.Filename
	}
	return nil
}

// opening opens the values of one recorded message, keeping the first
// error. Values of a message about no customer, or read without an Opener,
// stay as they are.
type opening struct {
	ctx     context.Context
	q       database.Querier
	o       Opener
	subject string
	err     error
}

func (op *opening) value(field, v string) string {
	if op.o == nil || op.subject == "" || op.err != nil {
		return v
	}
	out, err := op.o.Open(op.ctx, op.q, op.subject, field, v)
	if err != nil {
		op.err = err
		return ""
	}
	return out
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
