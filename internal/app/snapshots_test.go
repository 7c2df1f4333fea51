package app_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/app"
	"insure/internal/apperr"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/keyring"
	"insure/internal/personal"
	"insure/internal/policy"
	"insure/internal/projection"
	"insure/internal/quotation"
	"insure/internal/rating"
	"insure/internal/recorder"
	"insure/internal/snapshot"
)

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (the logger's).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// inline applies every event to the read models in the recording
// transaction, as a caught-up system does.
type inline struct{ projection.Projector }

func (i inline) ApplyInline(ctx context.Context, tx database.Tx, envs []event.Envelope, ps []event.Payload) error {
	for n := range envs {
		if err := i.Project(ctx, tx, envs[n], ps[n]); err != nil {
			return err
		}
	}
	return nil
}

// world is the services on one database twice: with snapshots taken every
// `every` events, and without any, to compare against.
type world struct {
	db        database.DB
	clock     *testClock
	keys      *keyring.Keyring
	snaps     *snapshot.Store
	logs      *syncBuffer
	customers *app.CustomerService
	policies  *app.PolicyService
	erasure   *app.ErasureService
	quotes    *app.QuotationService
	// plain* replay every event.
	plainCustomers *app.CustomerService
	plainPolicies  *app.PolicyService
	plainQuotes    *app.QuotationService
	insurer        string
}

func newWorld(t *testing.T, db database.DB, every int) *world {
	t.Helper()
	reg := event.NewRegistry()
	for _, defs := range [][]event.Definition{customer.Events(), policy.Events(), quotation.Events()} {
		if err := reg.Register(defs...); err != nil {
			t.Fatal(err)
		}
	}
	master, err := keyring.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	keys := keyring.New(db, master, clock.Now)
	vault := personal.NewVault(keys)
	store := eventstore.New(db, 100, clock.Now)
	store.SetCodec(personal.NewCodec(reg, keys))
	rec := recorder.New(store, reg, nil, inline{projection.Projector{Vault: vault}}, nil, clock.Now)
	logs := &syncBuffer{}
	deps := app.Deps{Recorder: rec, Reader: projection.NewReader(db, vault), Secrets: app.NewSecrets(db), Vault: vault, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	plain := deps
	snaps := snapshot.NewStore(keys, every, clock.Now)
	deps.Snapshots = snaps
	rates, err := rating.DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	w := &world{db: db, clock: clock, keys: keys, snaps: snaps, logs: logs,
		customers: app.NewCustomerService(deps), policies: app.NewPolicyService(deps, rates, "INR"),
		quotes:         app.NewQuotationService(deps, rates, "INR"),
		plainCustomers: app.NewCustomerService(plain), plainPolicies: app.NewPolicyService(plain, rates, "INR"),
		plainQuotes: app.NewQuotationService(plain, rates, "INR"), insurer: rates.Insurers()[0]}
	w.erasure = app.NewErasureService(deps, w.customers, keys)
	return w
}

var ec = event.Context{Actor: "tester", Channel: "test"}

func (w *world) register(t *testing.T, email string) string {
	t.Helper()
	c, err := w.customers.Register(context.Background(), ec, customer.Register{Name: "Asha Verma", Email: email,
		Phone: "98765 43210", DateOfBirth: ptr("1990-04-01"), Channel: "web"})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func ptr[T any](v T) *T { return &v }

// sameCustomer fails unless loading the customer with snapshots gives what
// replaying all their events gives.
func (w *world) sameCustomer(t *testing.T, id, when string) *customer.Customer {
	t.Helper()
	ctx := context.Background()
	got, err := w.customers.Aggregate(ctx, nil, id)
	if err != nil {
		t.Fatalf("%s: Aggregate: %v", when, err)
	}
	want, err := w.plainCustomers.Aggregate(ctx, nil, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%s: the customer from snapshot + events differs from all events (-all +snapshot):\n%s", when, diff)
	}
	return got
}

func (w *world) samePolicy(t *testing.T, id, when string) *policy.Policy {
	t.Helper()
	ctx := context.Background()
	got, err := w.policies.Aggregate(ctx, nil, id)
	if err != nil {
		t.Fatalf("%s: Aggregate: %v", when, err)
	}
	want, err := w.plainPolicies.Aggregate(ctx, nil, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%s: the policy from snapshot + events differs from all events (-all +snapshot):\n%s", when, diff)
	}
	return got
}

func snapshotVersion(t *testing.T, db database.DB, aggregateType, id string) int64 {
	t.Helper()
	var v int64
	err := db.QueryRow(context.Background(), `SELECT COALESCE(MAX(version), 0) FROM aggregate_snapshots
		WHERE aggregate_type = $1 AND aggregate_id = $2`, aggregateType, id).Scan(&v)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSnapshotsMatchFullReplay drives random command sequences through the
// services, with snapshots taken every few events, and after every command
// checks that loading from the newest snapshot plus the events after it
// gives the same customer and policy as replaying every event. Some
// customers are erased at the end: their snapshot is deleted with the
// erasure and none is taken again.
func TestSnapshotsMatchFullReplay(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := context.Background()
		snapshotted := false
		for seed := range uint64(6) {
			r := rand.New(rand.NewPCG(seed, 3))
			w := newWorld(t, db, 1+r.IntN(4))
			id := w.register(t, fmt.Sprintf("asha-%d@example.com", seed))
			for i := range 5 + r.IntN(20) {
				w.clock.Set(w.clock.Now().Add(time.Hour))
				when := fmt.Sprintf("seed %d, customer step %d", seed, i)
				switch r.IntN(4) {
				case 0:
					c := w.sameCustomer(t, id, when)
					evs, err := c.VerifyEmail(w.clock.Now())
					if err != nil {
						t.Fatal(err)
					}
					if len(evs) > 0 {
						if _, err := w.customers.Recorder.Record(ctx, ec, nil, recorder.Change{AggregateType: customer.AggregateType,
							AggregateID: id, ExpectedVersion: c.Version, Events: evs}); err != nil {
							t.Fatal(err)
						}
					}
				default:
					cmd := customer.UpdateProfile{Name: ptr(fmt.Sprintf("Asha %d", r.IntN(5)))}
					if r.IntN(3) == 0 {
						cmd.Email = ptr(fmt.Sprintf("asha-%d-%d@example.com", seed, i))
					}
					if r.IntN(3) == 0 {
						cmd.Preferences = &customer.PreferencesPatch{WhatsApp: ptr(r.IntN(2) == 0)}
					}
					if r.IntN(4) == 0 {
						cmd.DateOfBirth = ptr([]string{"", "1985-11-30"}[r.IntN(2)])
					}
					if _, err := w.customers.Update(ctx, ec, id, nil, cmd); err != nil {
						t.Fatalf("%s: Update: %v", when, err)
					}
				}
				w.sameCustomer(t, id, when)
				snapshotted = snapshotted || snapshotVersion(t, db, customer.AggregateType, id) > 1
			}
			if r.IntN(2) == 0 {
				if _, err := w.erasure.Erase(ctx, ec, id); err != nil {
					t.Fatal(err)
				}
				if v := snapshotVersion(t, db, customer.AggregateType, id); v != 0 {
					t.Errorf("seed %d: the erased customer still has a snapshot (version %d)", seed, v)
				}
				c := w.sameCustomer(t, id, fmt.Sprintf("seed %d, erased", seed))
				if c.Name != event.Erased || !c.Erased {
					t.Errorf("seed %d: erased customer reads %+v", seed, c)
				}
				if v := snapshotVersion(t, db, customer.AggregateType, id); v != 0 {
					t.Errorf("seed %d: a snapshot of the erased customer was taken again (version %d)", seed, v)
				}
			}

			// A policy of a live customer: warnings on random days of its
			// term, and renewals.
			owner := w.register(t, fmt.Sprintf("owner-%d@example.com", seed))
			start := policy.DateOf(w.clock.Now())
			p, err := w.policies.Create(ctx, ec, policy.Create{CustomerID: owner, Insurer: w.insurer, Product: "motor",
				Premium: 2_000_000, SumInsured: 50_000_000, StartDate: start.String(), EndDate: start.AddYears(1).AddDays(-1).String()})
			if err != nil {
				t.Fatal(err)
			}
			cur := w.samePolicy(t, p.ID, "created")
			for i := range 5 + r.IntN(20) {
				when := fmt.Sprintf("seed %d, policy step %d", seed, i)
				day := cur.EndDate.AddDays(-r.IntN(40))
				w.clock.Set(day.Add(10 * time.Hour))
				if r.IntN(3) == 0 {
					var cmd policy.Renew
					if r.IntN(2) == 0 {
						cmd.Premium = ptr(int64(2_000_000 + r.IntN(100_000)))
					}
					if _, err := w.policies.Renew(ctx, ec, p.ID, cmd); err != nil && !apperr.IsCode(err, apperr.Conflict) {
						t.Fatalf("%s: Renew: %v", when, err)
					}
				} else if _, err := w.policies.ScanExpiring(ctx, ec, &day.Time); err != nil {
					t.Fatalf("%s: ScanExpiring: %v", when, err)
				}
				cur = w.samePolicy(t, p.ID, when)
				snapshotted = snapshotted || snapshotVersion(t, db, policy.AggregateType, p.ID) > 1
			}
			if strings.Contains(w.logs.String(), "level=WARN") {
				t.Errorf("seed %d: snapshot trouble was logged:\n%s", seed, w.logs.String())
			}
		}
		if !snapshotted {
			t.Error("no snapshot past version 1 was ever taken")
		}
	})
}

// TestAggregateUsesSnapshot: a load reads the stored snapshot and applies
// only the events after it; one of another schema version, or one that
// does not fit the events after it, is thrown away and the aggregate is
// rebuilt from all its events.
func TestAggregateUsesSnapshot(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := context.Background()
		w := newWorld(t, db, 1000) // loads never take snapshots by themselves
		id := w.register(t, "asha@example.com")
		if _, err := w.customers.Update(ctx, ec, id, nil, customer.UpdateProfile{Name: ptr("Asha V.")}); err != nil {
			t.Fatal(err)
		}
		kind := snapshot.Kind[customer.Customer]{AggregateType: customer.AggregateType, SchemaVersion: customer.SnapshotSchemaVersion, Personal: true}
		v1, err := w.plainCustomers.Aggregate(ctx, nil, id)
		if err != nil {
			t.Fatal(err)
		}

		// A (doctored) snapshot at version 1 is read: only version 2 is
		// replayed on top of it.
		doctored := *v1
		doctored.Version, doctored.Phone = 1, "+910000000000"
		if _, err := kind.Save(ctx, w.snaps, db, id, 1, &doctored); err != nil {
			t.Fatal(err)
		}
		got, err := w.customers.Aggregate(ctx, nil, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Phone != "+910000000000" || got.Name != "Asha V." || got.Version != 2 {
			t.Fatalf("Aggregate = %+v; want the snapshot's phone with version 2's name", got)
		}
		// Inside a transaction no snapshot is used.
		err = db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
			got, err := w.customers.Aggregate(ctx, tx, id)
			if err == nil && got.Phone != "+919876543210" {
				err = fmt.Errorf("in a transaction Aggregate read the snapshot: %+v", got)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}

		// Another schema version: thrown away, rebuilt from the events.
		other := kind
		other.SchemaVersion = customer.SnapshotSchemaVersion + 1
		if _, err := other.Save(ctx, w.snaps, db, id, 2, &doctored); err != nil {
			t.Fatal(err)
		}
		if got := w.sameCustomer(t, id, "after a schema change"); got.Phone != "+919876543210" {
			t.Errorf("a snapshot of another schema version was used: %+v", got)
		}
		if v := snapshotVersion(t, db, customer.AggregateType, id); v != 0 {
			t.Errorf("the snapshot of another schema version was kept (version %d)", v)
		}

		// A snapshot the events after it do not fit (it claims another
		// customer's id): deleted, rebuilt from all events, logged.
		alien := *v1
		alien.ID, alien.Version = event.NewID(), 1
		if _, err := kind.Save(ctx, w.snaps, db, id, 1, &alien); err != nil {
			t.Fatal(err)
		}
		w.sameCustomer(t, id, "after a snapshot that does not fit")
		if v := snapshotVersion(t, db, customer.AggregateType, id); v != 0 {
			t.Errorf("the snapshot that does not fit was kept (version %d)", v)
		}
		if !strings.Contains(w.logs.String(), "snapshot does not fit") {
			t.Errorf("the unfit snapshot was not logged:\n%s", w.logs.String())
		}
	})
}

// TestLoadTakesSnapshots: a load that replays SNAPSHOT_EVERY events or more
// saves a snapshot at the version it reached; fewer, none.
func TestLoadTakesSnapshots(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := context.Background()
		w := newWorld(t, db, 3)
		id := w.register(t, "asha@example.com")
		name := func(i int) customer.UpdateProfile {
			return customer.UpdateProfile{Name: ptr(fmt.Sprintf("Asha %d", i))}
		}
		if _, err := w.customers.Update(ctx, ec, id, nil, name(1)); err != nil { // loads 1 event
			t.Fatal(err)
		}
		if v := snapshotVersion(t, db, customer.AggregateType, id); v != 0 {
			t.Fatalf("snapshot at version %d after replaying fewer than 3 events", v)
		}
		if _, err := w.customers.Update(ctx, ec, id, nil, name(2)); err != nil { // loads 2
			t.Fatal(err)
		}
		if _, err := w.customers.Aggregate(ctx, nil, id); err != nil { // loads 3
			t.Fatal(err)
		}
		if v := snapshotVersion(t, db, customer.AggregateType, id); v != 3 {
			t.Fatalf("snapshot at version %d, want 3", v)
		}
		for i := range 2 {
			if _, err := w.customers.Update(ctx, ec, id, nil, name(10+i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.customers.Aggregate(ctx, nil, id); err != nil { // 2 past the snapshot
			t.Fatal(err)
		}
		if v := snapshotVersion(t, db, customer.AggregateType, id); v != 3 {
			t.Fatalf("snapshot at version %d after replaying 2 past it, want still 3", v)
		}
		if _, err := w.customers.Update(ctx, ec, id, nil, name(20)); err != nil { // loads 2 past, appends version 6
			t.Fatal(err)
		}
		w.sameCustomer(t, id, "3 past the snapshot") // loads 3 past it: a new one
		if v := snapshotVersion(t, db, customer.AggregateType, id); v != 6 {
			t.Fatalf("snapshot at version %d, want 6", v)
		}

		// Quotations are snapshotted too, in clear.
		details := []byte(`{"age":40,"members":2}`)
		q, err := w.quotes.Request(ctx, ec, quotation.Request{CustomerID: id, Product: "health", SumInsured: 50_000_000, Details: details})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.quotes.Generate(ctx, ec, q.ID); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			got, err := w.quotes.Aggregate(ctx, nil, q.ID)
			if err != nil {
				t.Fatal(err)
			}
			want, err := w.plainQuotes.Aggregate(ctx, nil, q.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("quotation from snapshot (-all +snapshot):\n%s", diff)
			}
		}
		if v := snapshotVersion(t, db, quotation.AggregateType, q.ID); v != 0 {
			t.Errorf("a quotation of 2 events was snapshotted at version %d with SNAPSHOT_EVERY 3", v)
		}
	})
}
