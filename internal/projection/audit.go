package projection

import (
	"context"

	"insure/internal/audit"
	"insure/internal/database"
	"insure/internal/event"
)

// auditLog is the customers' audit trail: one row per CustomerActionLogged,
// keyed by the event's id. It is insert-only, so it also applies ranges of
// events in SQL (SetApplier), taking each field out of the stored JSON
// with ->> (the same operator on both engines) instead of decoding it.
type auditLog struct{ insert, set [len(targets)]string }

func newAuditLog() *auditLog {
	a := &auditLog{}
	for _, to := range targets {
		a.insert[to] = render(`INSERT INTO {audit_log} (id, customer_id, action, source_event_id, source_event_name, actor, occurred_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, to, "audit_log")
		a.set[to] = render(`INSERT INTO {audit_log} (id, customer_id, action, source_event_id, source_event_name, actor, occurred_at)
			SELECT CAST(event_id AS TEXT), event_data ->> 'customer_id', event_data ->> 'action', event_data ->> 'source_event_id',
				event_data ->> 'source_event_name', event_data ->> 'actor', occurred_at
			FROM event_store WHERE position > $1 AND position <= $2 AND event_name = '`+audit.EventActionLogged+`' AND schema_version = 1`,
			to, "audit_log")
	}
	return a
}

// SetSQL implements SetApplier.
func (a *auditLog) SetSQL(to Target) (string, string, int) {
	return a.set[to], audit.EventActionLogged, 1
}

func (*auditLog) Name() string     { return NameAuditLog }
func (*auditLog) Events() []string { return []string{audit.EventActionLogged} }
func (*auditLog) Tables() []string { return []string{"audit_log"} }

func (a *auditLog) Apply(ctx context.Context, tx database.Tx, to Target, env event.Envelope, p event.Payload) error {
	e, ok := event.As[audit.ActionLogged](p)
	if !ok {
		return nil
	}
	_, err := tx.Exec(ctx, a.insert[to], env.EventID, e.CustomerID, e.Action, e.SourceEventID, e.SourceEventName, e.Actor, env.OccurredAt.UTC())
	return err
}

// accessLog records who read personal, event or audit data: one row per
// DataAccessed, keyed by its aggregate (one single-event stream per read).
// Insert-only too, it applies ranges in SQL like auditLog; the fields the
// event omits when empty read ”.
type accessLog struct{ insert, set [len(targets)]string }

func newAccessLog() *accessLog {
	a := &accessLog{}
	for _, to := range targets {
		a.insert[to] = render(`INSERT INTO {access_log} (id, actor, role, action, subject_type, subject_id, ip, user_agent, request_id, accessed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, to, "access_log")
		a.set[to] = render(`INSERT INTO {access_log} (id, actor, role, action, subject_type, subject_id, ip, user_agent, request_id, accessed_at)
			SELECT aggregate_id, event_data ->> 'actor', COALESCE(event_data ->> 'role', ''), event_data ->> 'action',
				event_data ->> 'subject_type', COALESCE(event_data ->> 'subject_id', ''), COALESCE(event_data ->> 'ip', ''),
				COALESCE(event_data ->> 'user_agent', ''), COALESCE(event_data ->> 'request_id', ''), occurred_at
			FROM event_store WHERE position > $1 AND position <= $2 AND event_name = '`+audit.EventDataAccessed+`' AND schema_version = 1`,
			to, "access_log")
	}
	return a
}

// SetSQL implements SetApplier.
func (a *accessLog) SetSQL(to Target) (string, string, int) {
	return a.set[to], audit.EventDataAccessed, 1
}

func (*accessLog) Name() string     { return NameAccessLog }
func (*accessLog) Events() []string { return []string{audit.EventDataAccessed} }
func (*accessLog) Tables() []string { return []string{"access_log"} }

func (a *accessLog) Apply(ctx context.Context, tx database.Tx, to Target, env event.Envelope, p event.Payload) error {
	e, ok := event.As[audit.DataAccessed](p)
	if !ok {
		return nil
	}
	_, err := tx.Exec(ctx, a.insert[to], env.AggregateID, e.Actor, e.Role, e.Action, e.SubjectType, e.SubjectID, e.IP, e.UserAgent, e.RequestID,
		env.OccurredAt.UTC())
	return err
}
