package projection_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"insure/internal/audit"
	"insure/internal/communication"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/document"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/personal"
	"insure/internal/policy"
	"insure/internal/projection"
	"insure/internal/quotation"
	"insure/internal/recorder"
)

// registry holds every event type the read models read.
func registry(t testing.TB) *event.Registry {
	t.Helper()
	reg := event.NewRegistry()
	for _, defs := range [][]event.Definition{customer.Events(), quotation.Events(), policy.Events(), communication.Events(),
		audit.Events(), audit.AccessEvents(), document.Events()} {
		if err := reg.Register(defs...); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// rig is the read models fed through subscriptions, with a recorder that
// applies commands inline, on one database.
type rig struct {
	db    database.DB
	reg   *event.Registry
	store *eventstore.Store
	vault *personal.Vault
	codec *personal.Codec
	subs  *projection.Subscriptions
	rec   *recorder.Recorder
}

// newRig builds a rig on db with the read models and extra projections.
func newRig(t testing.TB, db database.DB, extra ...projection.Projection) *rig {
	t.Helper()
	reg := registry(t)
	keys := keysOf(t, db)
	store := eventstore.New(db, 1000, nil)
	codec := personal.NewCodec(reg, keys)
	store.SetCodec(codec)
	vault := personal.NewVault(keys)
	subs, err := projection.New(db, projection.Config{Registry: reg, Opener: store}, append(projection.ReadModels(vault), extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{db: db, reg: reg, store: store, vault: vault, codec: codec, subs: subs, rec: recorder.New(store, reg, nil, subs, nil, time.Now)}
}

// seen is a projection of every event into the table seen, keyed by the
// position: applying an event twice fails on the key, skipping one leaves
// a hole. It may start behind the head (a new projection).
type seen struct{}

const seenDDL = `CREATE TABLE seen (position BIGINT PRIMARY KEY, event_id TEXT NOT NULL, event_name TEXT NOT NULL)`

func (seen) Name() string     { return "seen" }
func (seen) Events() []string { return nil }
func (seen) Tables() []string { return []string{"seen"} }

func (seen) Apply(ctx context.Context, tx database.Tx, to projection.Target, env event.Envelope, p event.Payload) error {
	if p == nil || p.EventName() != env.EventName {
		return fmt.Errorf("event %d: payload %T for %s", env.Position, p, env.EventName)
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+to.Table("seen")+` (position, event_id, event_name) VALUES ($1, $2, $3)`,
		env.Position, env.EventID, env.EventName)
	return err
}

func exec(t testing.TB, db database.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func count(t testing.TB, db database.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func head(t testing.TB, db database.DB) int64 {
	t.Helper()
	return count(t, db, `SELECT position FROM event_stream_head WHERE id = 1`)
}

// writer issues a realistic mix of commands for one client: it registers
// customers, requests quotations, buys and renews policies, queues and
// sends messages, renders documents and reads personal data.
type writer struct {
	r *rig
	// record commits a command's changes: through the recorder, or
	// straight into the store for the benchmarks' seeding.
	record                   func(ctx context.Context, changes []recorder.Change) error
	customers                []string
	policy, message, doc     string
	renewed, sent, generated bool
}

// next records the i-th command of the writer.
func (w *writer) next(ctx context.Context, i int) error {
	ec := event.Context{Actor: "stress"}
	start := policy.DateOf(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var changes []recorder.Change
	switch i % 5 {
	case 0:
		id := event.NewID()
		w.customers = append(w.customers, id)
		changes = []recorder.Change{
			{AggregateType: customer.AggregateType, AggregateID: id, Events: []event.Payload{customer.Registered{
				CustomerID: id, Name: fmt.Sprintf("Asha Rao %d", i), Email: fmt.Sprintf("asha%s@example.com", id[len(id)-12:]),
				Phone: "+919800000001", Channel: "web", Preferences: customer.DefaultPreferences()}}},
			{AggregateType: audit.AggregateType, AggregateID: event.NewID(), Events: []event.Payload{audit.ActionLogged{
				CustomerID: id, Action: "customer.registered", SourceEventID: event.NewID(), SourceEventName: customer.EventRegistered,
				Actor: "system", Summary: "registered"}}},
		}
	case 1:
		changes = []recorder.Change{
			{AggregateType: quotation.AggregateType, AggregateID: event.NewID(), Events: []event.Payload{quotation.Requested{
				QuotationID: event.NewID(), CustomerID: w.customers[len(w.customers)-1], Product: "health", SumInsured: 100_000_000,
				Currency: "INR", Details: json.RawMessage(`{"age":42,"members":4}`)}}},
			accessed(w.customers[len(w.customers)-1]),
		}
	case 2:
		w.policy, w.message, w.doc = event.NewID(), event.NewID(), event.NewID()
		w.renewed, w.sent, w.generated = false, false, false
		changes = []recorder.Change{
			{AggregateType: policy.AggregateType, AggregateID: w.policy, Events: []event.Payload{policy.Created{
				PolicyID: w.policy, PolicyNumber: "HLT-" + w.policy, CustomerID: w.customers[len(w.customers)-1], Insurer: "acme",
				Product: "health", Premium: 1000, SumInsured: 100_000_000, Currency: "INR", StartDate: start, EndDate: start.AddDays(364)}}},
			{AggregateType: communication.AggregateType, AggregateID: w.message, Events: []event.Payload{communication.EmailQueued{
				MessageID: w.message, CustomerID: w.customers[len(w.customers)-1], RecipientRole: "customer", Template: "welcome",
				Priority: "high", SourceEventID: event.NewID()}}},
			{AggregateType: document.AggregateType, AggregateID: w.doc, Events: []event.Payload{document.GenerationRequested{
				DocumentID: w.doc, Kind: document.KindPolicySchedule, SubjectType: policy.AggregateType, SubjectID: w.policy,
				SourceEventID: event.NewID(), Priority: "normal"}}},
		}
	case 3:
		changes = []recorder.Change{
			{AggregateType: policy.AggregateType, AggregateID: w.policy, ExpectedVersion: 1, Events: []event.Payload{policy.Renewed{
				PolicyID: w.policy, PreviousStartDate: start, PreviousEndDate: start.AddDays(364), StartDate: start.AddDays(365),
				EndDate: start.AddDays(729), Premium: 1100, SumInsured: 100_000_000}}},
			{AggregateType: communication.AggregateType, AggregateID: w.message, ExpectedVersion: 1, Events: []event.Payload{
				communication.MessageSent{MessageID: w.message, Channel: "email", ProviderMessageID: "m-" + w.message, SentAt: time.Now()}}},
			{AggregateType: document.AggregateType, AggregateID: w.doc, ExpectedVersion: 1, Events: []event.Payload{document.Generated{
				DocumentID: w.doc, Kind: document.KindPolicySchedule, SubjectType: policy.AggregateType, SubjectID: w.policy,
				ContentType: "application/pdf", Size: 1000 + int64(i), SHA256: fmt.Sprintf("%064x", i)}}},
		}
	case 4:
		id := w.customers[len(w.customers)-1]
		changes = []recorder.Change{
			{AggregateType: customer.AggregateType, AggregateID: id, ExpectedVersion: 1, Events: []event.Payload{customer.ProfileUpdated{
				CustomerID: id, Changes: map[string]customer.Change{customer.FieldName: {Old: "Asha Rao", New: fmt.Sprintf("Asha R. Rao %d", i)}}}}},
			accessed(id),
		}
	}
	if w.record != nil {
		return w.record(ctx, changes)
	}
	_, err := w.r.rec.Record(ctx, ec, nil, changes...)
	return err
}

func accessed(subject string) recorder.Change {
	return recorder.Change{AggregateType: audit.AccessAggregateType, AggregateID: event.NewID(), Events: []event.Payload{audit.DataAccessed{
		Actor: "token:ops", Role: "admin", Action: audit.AccessCustomerProfile, SubjectType: "customer", SubjectID: subject,
		IP: "10.0.0.1", UserAgent: "curl/8", RequestID: event.NewID()}}}
}

// write runs clients concurrent writers of n commands each and fails t on
// the first error.
func write(t testing.TB, r *rig, clients, n int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &writer{r: r}
			for i := range n {
				if err := w.next(ctx, i); err != nil {
					errs <- fmt.Errorf("command %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// waitCaughtUp waits until every projection is at the head, or fails t.
func waitCaughtUp(t testing.TB, subs *projection.Subscriptions, within time.Duration) []projection.Status {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		sts, err := subs.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		behind := ""
		for _, st := range sts {
			if st.LastError != "" {
				t.Fatalf("projection %s failed: %s", st.Name, st.LastError)
			}
			if st.Position != st.Head {
				behind += fmt.Sprintf(" %s at %d of %d;", st.Name, st.Position, st.Head)
			}
		}
		if behind == "" {
			return sts
		}
		if time.Now().After(deadline) {
			t.Fatalf("projections not caught up after %s:%s", within, behind)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkReadModels compares the read models with the event store: each
// holds exactly what its events say, every event applied once.
func checkReadModels(t testing.TB, db database.DB) {
	t.Helper()
	events := func(name string) int64 {
		return count(t, db, `SELECT COUNT(*) FROM event_store WHERE event_name = $1`, name)
	}
	for _, c := range []struct {
		what      string
		readModel string
		want      int64
	}{
		{"customers", `SELECT COUNT(*) FROM customers`, events(customer.EventRegistered)},
		{"renamed customers", `SELECT COUNT(*) FROM customers WHERE version = 2`, events(customer.EventProfileUpdated)},
		{"name tokens", `SELECT COUNT(DISTINCT customer_id) FROM customer_name_tokens`, events(customer.EventRegistered)},
		{"quotations", `SELECT COUNT(*) FROM quotations`, events(quotation.EventRequested)},
		{"policies", `SELECT COUNT(*) FROM policies`, events(policy.EventCreated)},
		{"renewals", `SELECT COALESCE(SUM(renewals), 0) FROM policies`, events(policy.EventRenewed)},
		{"policy schedules", `SELECT COUNT(*) FROM policies WHERE document_id IS NOT NULL`, events("PDFGenerated")},
		{"messages", `SELECT COUNT(*) FROM messages`, events(communication.EventEmailQueued)},
		{"sent messages", `SELECT COUNT(*) FROM messages WHERE status = 'sent'`, events(communication.EventSent)},
		{"documents", `SELECT COUNT(*) FROM documents`, events("PDFGenerationRequested")},
		{"generated documents", `SELECT COUNT(*) FROM documents WHERE status = 'generated'`, events("PDFGenerated")},
		{"audit trail", `SELECT COUNT(*) FROM audit_log`, events(audit.EventActionLogged)},
		{"access log", `SELECT COUNT(*) FROM access_log`, events(audit.EventDataAccessed)},
	} {
		if got := count(t, db, c.readModel); got != c.want {
			t.Errorf("%s: read model has %d, events say %d", c.what, got, c.want)
		}
	}
}

// checkSeen checks that the seen projection holds every position once.
func checkSeen(t testing.TB, db database.DB, table string) {
	t.Helper()
	h := head(t, db)
	n := count(t, db, `SELECT COUNT(*) FROM `+table)
	lo := count(t, db, `SELECT COALESCE(MIN(position), 0) FROM `+table)
	hi := count(t, db, `SELECT COALESCE(MAX(position), 0) FROM `+table)
	if n != h || (h > 0 && (lo != 1 || hi != h)) {
		t.Errorf("%s holds %d events, positions %d..%d; want each of 1..%d once", table, n, lo, hi, h)
	}
	if m := count(t, db, `SELECT COUNT(*) FROM `+table+` s JOIN event_store e ON e.position = s.position AND e.event_name = s.event_name`); m != n {
		t.Errorf("%s: %d of %d rows match the event at their position", table, m, n)
	}
}

func TestInlineKeepsProjectionsAtTheHead(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		r := newRig(t, db)
		write(t, r, 1, 10)
		sts, err := r.subs.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		h := head(t, db)
		if len(sts) != 7 {
			t.Fatalf("%d projections, want the 7 read models", len(sts))
		}
		for _, st := range sts {
			if st.Position != h || st.Head != h || st.Lag != 0 || st.Age != 0 || st.Rebuilding != -1 {
				t.Errorf("%+v: want every read model at the head %d", st, h)
			}
		}
		checkReadModels(t, db)
	})
}

func TestBehindProjectionIsSkippedInlineThenCaughtUp(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		exec(t, db, seenDDL)
		r := newRig(t, db, seen{})
		// No checkpoint yet: the inline path leaves seen alone.
		write(t, r, 1, 5)
		if n := count(t, db, `SELECT COUNT(*) FROM seen`); n != 0 {
			t.Fatalf("seen has %d rows before it has a checkpoint", n)
		}
		if err := r.subs.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		// At 0, behind the head: still skipped inline.
		write(t, r, 1, 5)
		if n := count(t, db, `SELECT COUNT(*) FROM seen`); n != 0 {
			t.Fatalf("seen has %d rows while behind", n)
		}
		n, err := r.subs.CatchUp(ctx, "seen")
		if err != nil {
			t.Fatal(err)
		}
		if h := head(t, db); n != h {
			t.Errorf("CatchUp applied %d events, want the %d in the stream", n, h)
		}
		// Caught up: the inline path takes over.
		write(t, r, 1, 5)
		checkSeen(t, db, "seen")
		waitCaughtUp(t, r.subs, time.Second)
		if _, err := r.subs.CatchUp(ctx, "nope"); !errors.Is(err, projection.ErrUnknownProjection) {
			t.Errorf("CatchUp(nope) = %v, want ErrUnknownProjection", err)
		}
	})
}

// TestConcurrentWritersSkipNoEvent runs 16 concurrent writers through the
// recorder while a new projection catches up from zero in the runner and
// then joins the inline path; every projection must end at the head with
// every event applied exactly once.
func TestConcurrentWritersSkipNoEvent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		exec(t, db, seenDDL)
		r := newRig(t, db, seen{})
		write(t, r, 2, 5) // some history for seen to catch up on
		runner := r.subs.NewRunner(projection.RunnerConfig{Interval: 5 * time.Millisecond})
		if err := runner.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer runner.Stop()
		const clients, commands = 16, 40
		start := time.Now()
		write(t, r, clients, commands)
		t.Logf("%d commands by %d writers in %s", clients*commands, clients, time.Since(start).Round(time.Millisecond))
		waitCaughtUp(t, r.subs, 10*time.Second)
		checkSeen(t, db, "seen")
		checkReadModels(t, db)
	})
}

func TestCatchUpRefusesArchivedEvents(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		var n int64
		q := `SELECT COUNT(*) FROM sqlite_master WHERE name = 'event_archive_segments'`
		if db.Dialect() == database.Postgres {
			q = `SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'event_archive_segments'`
		}
		if err := db.QueryRow(ctx, q).Scan(&n); err != nil || n == 0 {
			t.Skipf("no archive table in this schema (%v)", err)
		}
		exec(t, db, seenDDL)
		r := newRig(t, db, seen{})
		write(t, r, 1, 5)
		if err := r.subs.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		exec(t, db, `INSERT INTO event_archive_segments (file, first_position, last_position, count, sha256, created_at)
			VALUES ('events-1-3.jsonl.zst', 1, 3, 3, 'x', $1)`, time.Now())
		if _, err := r.subs.CatchUp(ctx, "seen"); !errors.Is(err, projection.ErrArchived) {
			t.Errorf("CatchUp over archived events = %v, want ErrArchived", err)
		}
		if _, err := r.subs.Rebuild(ctx, projection.NameCustomers, projection.RebuildOptions{}); !errors.Is(err, projection.ErrArchived) {
			t.Errorf("Rebuild over archived events = %v, want ErrArchived", err)
		}
		checkReadModels(t, db) // the live tables are untouched
	})
}
