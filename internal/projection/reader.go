package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"insure/internal/apperr"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/personal"
	"insure/internal/policy"
)

// Reader answers queries from the read models. It opens the customers'
// sealed personal data with its vault.
type Reader struct {
	db    database.DB
	vault *personal.Vault
}

// NewReader returns a reader on db that opens personal data with vault
// (the one the Projector seals with).
func NewReader(db database.DB, vault *personal.Vault) *Reader { return &Reader{db: db, vault: vault} }

func notFound(what, id string) error {
	return apperr.New(apperr.NotFound, "%s %s not found", what, id)
}

func clampLimit(limit, def, max int) int {
	if limit <= 0 {
		return def
	}
	return min(limit, max)
}

const quotationCols = `id, customer_id, product, sum_insured, currency, details, status, quotes, document_id, failure_reason, version, created_at, updated_at`

// Quotation returns one quotation.
func (r *Reader) Quotation(ctx context.Context, id string) (Quotation, error) {
	var (
		qt             Quotation
		details, quote []byte
	)
	if !event.ValidID(id) {
		return qt, notFound("quotation", id)
	}
	err := r.db.QueryRow(ctx, `SELECT `+quotationCols+` FROM quotations WHERE id = $1`, id).Scan(
		&qt.ID, &qt.CustomerID, &qt.Product, &qt.SumInsured, &qt.Currency, &details, &qt.Status, &quote,
		&qt.DocumentID, &qt.FailureReason, &qt.Version, &qt.CreatedAt, &qt.UpdatedAt)
	if errors.Is(err, database.ErrNoRows) {
		return qt, notFound("quotation", id)
	}
	if err != nil {
		return qt, fmt.Errorf("quotation %s: %w", id, err)
	}
	qt.Details = json.RawMessage(details)
	if len(quote) > 0 {
		if err := json.Unmarshal(quote, &qt.Quotes); err != nil {
			return qt, fmt.Errorf("quotation %s quotes: %w", id, err)
		}
	}
	if qt.Quotes == nil {
		qt.Quotes = nil
	}
	qt.CreatedAt, qt.UpdatedAt = qt.CreatedAt.UTC(), qt.UpdatedAt.UTC()
	return qt, nil
}

const policyCols = `id, customer_id, quotation_id, policy_number, insurer, product, premium, sum_insured, currency,
	start_date, end_date, previous_start_date, renewals, document_id, version, created_at, updated_at`

func scanPolicy(row database.Row, today time.Time) (Policy, error) {
	var (
		p             Policy
		start, end    time.Time
		previousStart *time.Time
	)
	err := row.Scan(&p.ID, &p.CustomerID, &p.QuotationID, &p.PolicyNumber, &p.Insurer, &p.Product, &p.Premium, &p.SumInsured,
		&p.Currency, &start, &end, &previousStart, &p.Renewals, &p.DocumentID, &p.Version, &p.CreatedAt, &p.UpdatedAt)
	if err != nil {
		return p, err
	}
	p.StartDate, p.EndDate = start.UTC().Format(time.DateOnly), end.UTC().Format(time.DateOnly)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	// The status rules are the aggregate's own (a renewal before the end
	// keeps the policy in force until the new term starts).
	term := policy.Policy{StartDate: policy.DateOf(start.UTC()), EndDate: policy.DateOf(end.UTC()), Renewals: p.Renewals}
	if previousStart != nil {
		term.PreviousStartDate = policy.DateOf(previousStart.UTC())
	}
	day := policy.DateOf(today.UTC())
	p.Status = term.Status(day)
	p.DaysToExpiry = policy.DaysBetween(day, term.EndDate)
	return p, nil
}

// Policy returns one policy, with status computed for today.
func (r *Reader) Policy(ctx context.Context, id string, today time.Time) (Policy, error) {
	if !event.ValidID(id) {
		return Policy{}, notFound("policy", id)
	}
	p, err := scanPolicy(r.db.QueryRow(ctx, `SELECT `+policyCols+` FROM policies WHERE id = $1`, id), today)
	if errors.Is(err, database.ErrNoRows) {
		return p, notFound("policy", id)
	}
	if err != nil {
		return p, fmt.Errorf("policy %s: %w", id, err)
	}
	return p, nil
}

// Policies lists policies by expiry date (then id). With expiringWithin set,
// only policies ending between today and today+N days are listed. after is
// the cursor returned by the previous page.
func (r *Reader) Policies(ctx context.Context, expiringWithin *int, today time.Time, after string, limit int) ([]Policy, string, error) {
	limit = clampLimit(limit, 50, 200)
	day := policy.DateOf(today.UTC()).Time
	afterDate, afterID := time.Time{}, ""
	if after != "" {
		d, id, ok := strings.Cut(after, "_")
		t, err := time.Parse(time.DateOnly, d)
		if !ok || err != nil {
			return nil, "", apperr.Field("after", "is not a cursor returned by this endpoint")
		}
		afterDate, afterID = t, id
	}
	var (
		rows database.Rows
		err  error
	)
	if expiringWithin != nil {
		rows, err = r.db.Query(ctx, `SELECT `+policyCols+` FROM policies
			WHERE end_date >= $1 AND end_date <= $2 AND (end_date > $3 OR (end_date = $3 AND id > $4))
			ORDER BY end_date, id LIMIT $5`, day, day.AddDate(0, 0, *expiringWithin), afterDate, afterID, limit+1)
	} else {
		rows, err = r.db.Query(ctx, `SELECT `+policyCols+` FROM policies
			WHERE (end_date > $1 OR (end_date = $1 AND id > $2))
			ORDER BY end_date, id LIMIT $3`, afterDate, afterID, limit+1)
	}
	if err != nil {
		return nil, "", fmt.Errorf("list policies: %w", err)
	}
	defer rows.Close()
	out := []Policy{}
	for rows.Next() {
		p, err := scanPolicy(rows, today)
		if err != nil {
			return nil, "", fmt.Errorf("list policies: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = last.EndDate + "_" + last.ID
	}
	return out, next, nil
}

// ExpiringPolicyIDs returns the ids of policies ending between from and to
// (inclusive), for the expiry scan.
func (r *Reader) ExpiringPolicyIDs(ctx context.Context, from, to time.Time) ([]string, error) {
	rows, err := r.db.Query(ctx, `SELECT id FROM policies WHERE end_date >= $1 AND end_date <= $2 ORDER BY end_date, id`,
		policy.DateOf(from.UTC()).Time, policy.DateOf(to.UTC()).Time)
	if err != nil {
		return nil, fmt.Errorf("expiring policies: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

const messageCols = `id, customer_id, channel, template, recipient_role, priority, status, document_ids, provider_message_id, error,
	source_event_id, queued_at, sent_at, updated_at`

// Messages lists the communication log, newest last, optionally for one
// customer and one channel.
func (r *Reader) Messages(ctx context.Context, customerID, channel, after string, limit int) ([]Message, string, error) {
	limit = clampLimit(limit, 50, 200)
	afterAt, afterID, err := timeCursor(after)
	if err != nil {
		return nil, "", err
	}
	rows, err := r.db.Query(ctx, `SELECT `+messageCols+` FROM messages
		WHERE ($1 = '' OR customer_id = $1) AND ($2 = '' OR channel = $2)
		AND (queued_at > $3 OR (queued_at = $3 AND id > $4))
		ORDER BY queued_at, id LIMIT $5`, customerID, channel, afterAt, afterID, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list messages: %w", err)
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		var (
			m    Message
			docs []byte
		)
		if err := rows.Scan(&m.ID, &m.CustomerID, &m.Channel, &m.Template, &m.RecipientRole, &m.Priority, &m.Status, &docs,
			&m.ProviderMessageID, &m.Error, &m.SourceEventID, &m.QueuedAt, &m.SentAt, &m.UpdatedAt); err != nil {
			return nil, "", fmt.Errorf("list messages: %w", err)
		}
		if err := json.Unmarshal(docs, &m.DocumentIDs); err != nil {
			return nil, "", fmt.Errorf("message %s documents: %w", m.ID, err)
		}
		m.QueuedAt, m.UpdatedAt = m.QueuedAt.UTC(), m.UpdatedAt.UTC()
		if m.SentAt != nil {
			t := m.SentAt.UTC()
			m.SentAt = &t
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = last.QueuedAt.Format(time.RFC3339Nano) + "_" + last.ID
	}
	return out, next, nil
}

// Document returns one document's record.
func (r *Reader) Document(ctx context.Context, q database.Querier, id string) (Document, error) {
	if q == nil {
		q = r.db
	}
	var d Document
	if !event.ValidID(id) {
		return d, notFound("document", id)
	}
	err := q.QueryRow(ctx, `SELECT id, kind, subject_type, subject_id, status, content_type, size, sha256, requested_at, generated_at
		FROM documents WHERE id = $1`, id).Scan(&d.ID, &d.Kind, &d.SubjectType, &d.SubjectID, &d.Status, &d.ContentType,
		&d.Size, &d.SHA256, &d.RequestedAt, &d.GeneratedAt)
	if errors.Is(err, database.ErrNoRows) {
		return d, notFound("document", id)
	}
	if err != nil {
		return d, fmt.Errorf("document %s: %w", id, err)
	}
	d.RequestedAt = d.RequestedAt.UTC()
	if d.GeneratedAt != nil {
		g := d.GeneratedAt.UTC()
		d.GeneratedAt = &g
	}
	return d, nil
}

// Audit returns a customer's audit trail in order.
func (r *Reader) Audit(ctx context.Context, customerID string) ([]AuditEntry, error) {
	rows, err := r.db.Query(ctx, `SELECT id, customer_id, action, source_event_id, source_event_name, actor, occurred_at
		FROM audit_log WHERE customer_id = $1 ORDER BY occurred_at, id`, customerID)
	if err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var a AuditEntry
		if err := rows.Scan(&a.ID, &a.CustomerID, &a.Action, &a.SourceEventID, &a.SourceEventName, &a.Actor, &a.OccurredAt); err != nil {
			return nil, err
		}
		a.OccurredAt = a.OccurredAt.UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// Accesses lists recorded reads, oldest first, optionally of one subject
// (a customer id, for example), after the given access id.
func (r *Reader) Accesses(ctx context.Context, subject, after string, limit int) ([]Access, string, error) {
	limit = clampLimit(limit, 50, 200)
	afterAt, afterID, err := timeCursor(after)
	if err != nil {
		return nil, "", err
	}
	rows, err := r.db.Query(ctx, `SELECT id, actor, role, action, subject_type, subject_id, ip, user_agent, request_id, accessed_at
		FROM access_log WHERE ($1 = '' OR subject_id = $1) AND (accessed_at > $2 OR (accessed_at = $2 AND id > $3))
		ORDER BY accessed_at, id LIMIT $4`, subject, afterAt, afterID, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list accesses: %w", err)
	}
	defer rows.Close()
	out := []Access{}
	for rows.Next() {
		var a Access
		if err := rows.Scan(&a.ID, &a.Actor, &a.Role, &a.Action, &a.SubjectType, &a.SubjectID, &a.IP, &a.UserAgent, &a.RequestID, &a.AccessedAt); err != nil {
			return nil, "", err
		}
		a.AccessedAt = a.AccessedAt.UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = last.AccessedAt.Format(time.RFC3339Nano) + "_" + last.ID
	}
	return out, next, nil
}

// timeCursor parses a "RFC3339Nano_id" cursor ("" is the start).
func timeCursor(after string) (time.Time, string, error) {
	if after == "" {
		return time.Time{}, "", nil
	}
	ts, id, ok := strings.Cut(after, "_")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil {
		return time.Time{}, "", apperr.Field("after", "is not a cursor returned by this endpoint")
	}
	return t.UTC(), id, nil
}
