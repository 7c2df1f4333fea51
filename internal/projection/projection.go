package projection

import (
	"context"
	"strings"

	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/personal"
)

// Projection is one read model fed by the global event stream. Its name is
// that of its checkpoint (projection_checkpoints.name); Events lists the
// event names it reads, so the stream reader can leave the others out in
// SQL; Tables lists the tables it owns, by their live names, so a rebuild
// can copy their shape into shadow tables and swap them in.
//
// Apply applies one event to the tables of to, inside tx: the transaction
// that also moves the projection's checkpoint past the event, so an event
// is applied exactly once or not at all. p is the typed payload, a value
// (as a command builds it) or a pointer (as the registry decodes it).
// Apply must not write any table that is not in Tables, and is only called
// for the events Events names (nil Events: every event). The envelope
// holds the position, ids, names, aggregate, versions, data and
// occurred_at, but neither metadata nor created_at: the stream reader does
// not read them, and the inline path leaves them out too, so Apply gives
// the same result either way. On PostgreSQL, Exec in Apply may be
// pipelined: it reports 0 rows affected and its error may come out of a
// later statement, so Apply must not depend on either.
type Projection interface {
	Name() string
	Events() []string
	Tables() []string
	Apply(ctx context.Context, tx database.Tx, to Target, env event.Envelope, p event.Payload) error
}

// SetApplier is implemented by a projection that can also apply a range of
// stored events in one set-based SQL statement, with no decoding in Go:
// insert-only read models whose rows are taken field by field from the
// event (the audit trail, the access log). SetSQL returns, for the tables
// of to, an INSERT … SELECT … FROM event_store that applies every event
// named eventName at schemaVersion with a position after $1 up to $2, and
// must give the same rows as Apply. The catch-up runner and rebuilds use
// it only while the registry's definition of eventName is at that schema
// version, without legacy names or personal fields (so every stored event
// of that name is in the shape the SQL reads, in clear); otherwise they
// decode and Apply, which is always correct. The inline path always uses
// Apply.
type SetApplier interface {
	SetSQL(to Target) (query, eventName string, schemaVersion int)
}

// Target says which copy of a projection's tables Apply writes: the live
// tables the Reader reads, or the shadow tables a rebuild fills.
type Target int

// The targets.
const (
	Live Target = iota
	Shadow
)

// shadowSuffix turns a live table (or SQLite index) name into its shadow's.
const shadowSuffix = "_rebuild"

// Table returns the name of the table called live in the live schema, for
// this target. Table names are fixed identifiers chosen in code, never
// input.
func (t Target) Table(live string) string {
	if t == Shadow {
		return live + shadowSuffix
	}
	return live
}

func (t Target) String() string {
	if t == Shadow {
		return "shadow"
	}
	return "live"
}

// targets lists every target, to render statements for each once.
var targets = [...]Target{Live, Shadow}

// render replaces each "{table}" in the SQL template tmpl with the name of
// that table for the target.
func render(tmpl string, to Target, tables ...string) string {
	for _, t := range tables {
		tmpl = strings.ReplaceAll(tmpl, "{"+t+"}", to.Table(t))
	}
	return tmpl
}

// The names of the read models.
const (
	NameCustomers  = "customers"
	NameQuotations = "quotations"
	NamePolicies   = "policies"
	NameMessages   = "messages"
	NameDocuments  = "documents"
	NameAuditLog   = "audit_log"
	NameAccessLog  = "access_log"
)

// ReadModels returns insure's read models, in the order they are applied
// to an event: customers (sealing personal data with vault), quotations,
// policies, messages, documents, the audit trail and the access log.
func ReadModels(vault *personal.Vault) []Projection {
	return []Projection{
		newCustomers(vault), newQuotations(), newPolicies(), newMessages(), newDocuments(), newAuditLog(), newAccessLog(),
	}
}

// Projector applies one event to every read model's live tables, ignoring
// checkpoints: for tests and tools that build read models by hand. The
// system applies events through Subscriptions, which keep checkpoints.
// Vault seals the customers' personal data and computes its blind indexes;
// it is required for customer events (Project fails on them without one).
type Projector struct {
	Vault *personal.Vault
}

// Project applies one event to every read model that reads it.
func (pr Projector) Project(ctx context.Context, tx database.Tx, env event.Envelope, p event.Payload) error {
	name := p.EventName()
	for _, m := range ReadModels(pr.Vault) {
		if !consumes(m, name) {
			continue
		}
		if err := m.Apply(ctx, tx, Live, env, p); err != nil {
			return err
		}
	}
	return nil
}

// consumes reports whether p reads events called name.
func consumes(p Projection, name string) bool {
	evs := p.Events()
	if evs == nil {
		return true
	}
	for _, e := range evs {
		if e == name {
			return true
		}
	}
	return false
}
