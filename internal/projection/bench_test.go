package projection_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"insure/internal/audit"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/personal"
	"insure/internal/projection"
	"insure/internal/recorder"
)

// seedRow is one event to seed.
type seedRow struct {
	name, aggType, aggID string
	version              int64
	payload              event.Payload
}

// seed appends rows straight into the event store, in transactions of
// multi-row inserts (much faster than commands: the benchmarks measure
// the rebuild, not the seeding), and moves the head. codec, when set,
// seals the personal fields as the store does (making the data keys).
func seed(tb testing.TB, db database.DB, codec *personal.Codec, rows []seedRow) {
	tb.Helper()
	ctx := context.Background()
	const rowsPerTx = 20000
	h := head(tb, db)
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for done := 0; done < len(rows); {
		end := min(done+rowsPerTx, len(rows))
		err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
			recs := make([]eventstore.Record, 0, end-done)
			for i := done; i < end; i++ {
				data, err := json.Marshal(rows[i].payload)
				if err != nil {
					return err
				}
				id := event.NewID()
				if codec != nil {
					if data, err = codec.SealEvent(ctx, tx, event.Envelope{EventID: id, EventName: rows[i].name,
						AggregateType: rows[i].aggType, AggregateID: rows[i].aggID, Data: data}); err != nil {
						return err
					}
				}
				meta, err := json.Marshal(event.Metadata{EventID: id, CorrelationID: id, Actor: "bench", Channel: "bench", OccurredAt: at})
				if err != nil {
					return err
				}
				recs = append(recs, eventstore.Record{Position: h + int64(i) + 1, EventID: id, EventName: rows[i].name,
					AggregateType: rows[i].aggType, AggregateID: rows[i].aggID, AggregateVersion: rows[i].version, SchemaVersion: 1,
					Data: data, Metadata: meta, OccurredAt: at.Add(time.Duration(i) * time.Millisecond), CreatedAt: at})
			}
			if err := eventstore.InsertRecords(ctx, tx, recs); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE event_stream_head SET position = $1 WHERE id = 1`, h+int64(end))
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
		done = end
	}
	if db.Dialect() == database.SQLite {
		// Write the seeded pages back from the WAL now, not during the
		// first rebuild: a live stream is long since checkpointed.
		exec(tb, db, `PRAGMA wal_checkpoint(TRUNCATE)`)
	} else {
		exec(tb, db, `VACUUM ANALYZE event_store`)
	}
}

// actionsLogged returns n CustomerActionLogged events: the audit trail's.
func actionsLogged(n int) []seedRow {
	rows := make([]seedRow, n)
	for i := range rows {
		rows[i] = seedRow{name: audit.EventActionLogged, aggType: audit.AggregateType, aggID: event.NewID(), version: 1,
			payload: audit.ActionLogged{CustomerID: event.NewID(), Action: "customer.registered", SourceEventID: event.NewID(),
				SourceEventName: "CustomerRegistered", Actor: "system", Summary: fmt.Sprintf("registered %d", i)}}
	}
	return rows
}

// commandMix returns the events of clients × n commands of the stress
// test's mix (see writer), in the order one client after another.
func commandMix(tb testing.TB, clients, n int) []seedRow {
	tb.Helper()
	var rows []seedRow
	record := func(_ context.Context, changes []recorder.Change) error {
		for _, c := range changes {
			for i, p := range c.Events {
				rows = append(rows, seedRow{name: p.EventName(), aggType: c.AggregateType, aggID: c.AggregateID,
					version: c.ExpectedVersion + int64(i) + 1, payload: p})
			}
		}
		return nil
	}
	for range clients {
		w := &writer{record: record}
		for i := range n {
			if err := w.next(context.Background(), i); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return rows
}

// decodeOnly hides a projection's SetApplier: rebuilt through it, the
// projection decodes every event in Go and applies it with Apply.
type decodeOnly struct{ projection.Projection }

// stamps is the simplest useful projection: one row per
// CustomerActionLogged from the envelope's columns alone (position, event
// id, aggregate id, time), applied in SQL.
type stamps struct{}

const stampsDDL = `CREATE TABLE stamps (position INTEGER PRIMARY KEY, event_id TEXT NOT NULL, aggregate_id TEXT NOT NULL,
	occurred_at TIMESTAMP NOT NULL)`

func (stamps) Name() string     { return "stamps" }
func (stamps) Events() []string { return []string{audit.EventActionLogged} }
func (stamps) Tables() []string { return []string{"stamps"} }

func (stamps) Apply(ctx context.Context, tx database.Tx, to projection.Target, env event.Envelope, _ event.Payload) error {
	_, err := tx.Exec(ctx, `INSERT INTO `+to.Table("stamps")+` (position, event_id, aggregate_id, occurred_at) VALUES ($1, $2, $3, $4)`,
		env.Position, env.EventID, env.AggregateID, env.OccurredAt)
	return err
}

func (stamps) SetSQL(to projection.Target) (string, string, int) {
	return `INSERT INTO ` + to.Table("stamps") + ` (position, event_id, aggregate_id, occurred_at)
		SELECT position, CAST(event_id AS TEXT), aggregate_id, occurred_at FROM event_store
		WHERE position > $1 AND position <= $2 AND event_name = '` + audit.EventActionLogged + `' AND schema_version = 1`,
		audit.EventActionLogged, 1
}

// benchEvents is how many events BenchmarkRebuildSimple seeds.
const benchEvents = 200_000

// BenchmarkRebuildSimple rebuilds simple projections from 200,000
// CustomerActionLogged events:
//
//   - audit_log/sql: the audit trail (one insert per event: six fields and
//     two indexes) as insure rebuilds it, taking the fields out of the
//     stored JSON in SQL (SetApplier);
//
//   - audit_log/decode: the same through the general path, which decodes
//     every event with encoding/json and applies it in Go (statements
//     pipelined on PostgreSQL, prepared on SQLite);
//
//   - stamps/sql: a projection of envelope columns only, keyed by position.
//
//     go test -run '^$' -bench RebuildSimple -benchtime 1x ./internal/projection/
func BenchmarkRebuildSimple(b *testing.B) {
	for _, d := range dbtest.Dialects() {
		b.Run(string(d), func(b *testing.B) {
			db := dbtest.Open(b, d)
			exec(b, db, stampsDDL)
			seed(b, db, nil, actionsLogged(benchEvents))
			reg := registry(b)
			for _, c := range []struct {
				name  string
				proj  projection.Projection
				table string
			}{
				{"audit_log/sql", projection.ReadModels(nil)[5], "audit_log"},
				{"audit_log/decode", decodeOnly{projection.ReadModels(nil)[5]}, "audit_log"},
				{"stamps/sql", stamps{}, "stamps"},
			} {
				b.Run(c.name, func(b *testing.B) {
					subs, err := projection.New(db, projection.Config{Registry: reg}, c.proj)
					if err != nil {
						b.Fatal(err)
					}
					rebuild(b, subs, c.proj.Name())
					if n := count(b, db, `SELECT COUNT(*) FROM `+c.table); n != benchEvents {
						b.Fatalf("%s has %d rows, want %d", c.table, n, benchEvents)
					}
				})
			}
		})
	}
}

// rebuild rebuilds name b.N times and reports the events applied per
// second, and how long the copy and the swap took.
func rebuild(b *testing.B, subs *projection.Subscriptions, name string) {
	b.Helper()
	ctx := context.Background()
	if err := subs.Ensure(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var (
		applied int64
		swap    time.Duration
	)
	for range b.N {
		var swapAt time.Duration
		p, err := subs.Rebuild(ctx, name, projection.RebuildOptions{Restart: true, Progress: func(p projection.Progress) {
			if p.Phase == "swap" {
				swapAt = p.Elapsed
			}
		}})
		if err != nil {
			b.Fatal(err)
		}
		applied += p.Applied
		swap += p.Elapsed - swapAt
	}
	b.ReportMetric(float64(applied)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(swap.Milliseconds())/float64(b.N), "swap-ms")
}

// BenchmarkRebuildReadModels rebuilds each read model from 8 × 4,000
// commands of the stress test's mix (customers, quotations, policies,
// messages, documents, audit and access records; about 76,000 events).
// events/s counts the events each read model reads.
//
//	go test -run '^$' -bench RebuildReadModels -benchtime 1x ./internal/projection/
func BenchmarkRebuildReadModels(b *testing.B) {
	for _, d := range dbtest.Dialects() {
		b.Run(string(d), func(b *testing.B) {
			db := dbtest.Open(b, d)
			r := newRig(b, db)
			seed(b, db, r.codec, commandMix(b, 8, 4000))
			for _, name := range readModelNames() {
				b.Run(name, func(b *testing.B) { rebuild(b, r.subs, name) })
			}
		})
	}
}
