package snapshot_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/keyring"
	"insure/internal/policy"
	"insure/internal/quotation"
	"insure/internal/snapshot"
)

var t0 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

// setup returns a store with a keyring on db.
func setup(t *testing.T, db database.DB) (*snapshot.Store, *keyring.Keyring) {
	t.Helper()
	m, err := keyring.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	keys := keyring.New(db, m, func() time.Time { return t0 })
	return snapshot.NewStore(keys, 10, func() time.Time { return t0 }), keys
}

// row is an aggregate_snapshots row as stored.
type row struct {
	Version       int64
	SchemaVersion int
	State         string
}

func readRow(t *testing.T, db database.DB, aggregateType, id string) (row, bool) {
	t.Helper()
	var r row
	err := db.QueryRow(context.Background(), `SELECT version, schema_version, state FROM aggregate_snapshots
		WHERE aggregate_type = $1 AND aggregate_id = $2`, aggregateType, id).Scan(&r.Version, &r.SchemaVersion, &r.State)
	if errors.Is(err, database.ErrNoRows) {
		return r, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return r, true
}

func policyKind() snapshot.Kind[policy.Policy] {
	return snapshot.Kind[policy.Policy]{AggregateType: policy.AggregateType, SchemaVersion: policy.SnapshotSchemaVersion}
}

func customerKind() snapshot.Kind[customer.Customer] {
	return snapshot.Kind[customer.Customer]{AggregateType: customer.AggregateType, SchemaVersion: customer.SnapshotSchemaVersion, Personal: true}
}

func testPolicy(t *testing.T, version int64) *policy.Policy {
	t.Helper()
	start, err := policy.ParseDate("2026-01-10")
	if err != nil {
		t.Fatal(err)
	}
	return &policy.Policy{ID: event.NewID(), Number: "POL-1", CustomerID: event.NewID(), Insurer: "acme", Product: "motor",
		Premium: 2_274_008, SumInsured: 65_000_000, Currency: "INR", StartDate: start, EndDate: start.AddYears(1).AddDays(-1),
		Warned: []int{30, 15}, Version: version, CreatedAt: t0, UpdatedAt: t0.Add(time.Hour)}
}

func testCustomer(version int64) *customer.Customer {
	return &customer.Customer{ID: event.NewID(), Name: "Asha Verma", Email: "asha@example.com", Phone: "+919876543210",
		DateOfBirth: "1990-04-01", Channel: "web", Preferences: customer.Preferences{Email: true},
		Version: version, RegisteredAt: t0, UpdatedAt: t0.Add(time.Minute)}
}

// TestSaveLoadReplace: a snapshot saved is loaded as saved; only a newer
// one (or one of another schema version) replaces it; one row per
// aggregate.
func TestSaveLoadReplace(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := context.Background()
		store, _ := setup(t, db)
		k := policyKind()
		p := testPolicy(t, 5)

		if got, v, err := k.Load(ctx, store, db, p.ID); got != nil || v != 0 || err != nil {
			t.Fatalf("Load before any save = %v, %d, %v; want none", got, v, err)
		}
		if _, err := store.Load(ctx, db, k.AggregateType, p.ID, false); !errors.Is(err, snapshot.ErrNotFound) {
			t.Fatalf("Store.Load before any save: %v, want ErrNotFound", err)
		}
		saved, err := k.Save(ctx, store, db, p.ID, p.Version, p)
		if err != nil || !saved {
			t.Fatalf("Save = %t, %v", saved, err)
		}
		got, v, err := k.Load(ctx, store, db, p.ID)
		if err != nil || v != 5 {
			t.Fatalf("Load = version %d, %v; want 5", v, err)
		}
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("loaded state (-saved +loaded):\n%s", diff)
		}
		snap, err := store.Load(ctx, db, k.AggregateType, p.ID, false)
		if err != nil || snap.Version != 5 || snap.SchemaVersion != policy.SnapshotSchemaVersion || !snap.CreatedAt.Equal(t0) {
			t.Errorf("Store.Load = %+v, %v", snap, err)
		}

		// Older or as old: kept as it is.
		older := testPolicy(t, 3)
		older.ID = p.ID
		for _, o := range []*policy.Policy{older, p} {
			if saved, err := k.Save(ctx, store, db, p.ID, o.Version, o); saved || err != nil {
				t.Errorf("Save of version %d over 5 = %t, %v; want not saved", o.Version, saved, err)
			}
		}
		// Newer: replaces it.
		newer := testPolicy(t, 9)
		newer.ID, newer.Renewals = p.ID, 1
		if saved, err := k.Save(ctx, store, db, p.ID, newer.Version, newer); !saved || err != nil {
			t.Fatalf("Save of version 9 = %t, %v", saved, err)
		}
		if got, v, _ := k.Load(ctx, store, db, p.ID); v != 9 || got.Renewals != 1 {
			t.Errorf("after the newer save: version %d, %+v", v, got)
		}
		// Another schema version replaces it even when older.
		other := snapshot.Kind[policy.Policy]{AggregateType: policy.AggregateType, SchemaVersion: policy.SnapshotSchemaVersion + 1}
		if saved, err := other.Save(ctx, store, db, p.ID, older.Version, older); !saved || err != nil {
			t.Errorf("Save of another schema version = %t, %v; want saved", saved, err)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM aggregate_snapshots`).Scan(&n); err != nil || n != 1 {
			t.Errorf("%d rows (%v), want 1: only the newest snapshot is kept", n, err)
		}

		if err := snapshot.Delete(ctx, db, k.AggregateType, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, ok := readRow(t, db, k.AggregateType, p.ID); ok {
			t.Error("Delete left the snapshot")
		}
		if err := snapshot.Delete(ctx, db, k.AggregateType, p.ID); err != nil {
			t.Errorf("Delete of none: %v", err)
		}
	})
}

// TestSchemaVersionChange: a snapshot of another schema version than the
// kind's current one is thrown away (deleted) and reported as none.
func TestSchemaVersionChange(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := context.Background()
		store, _ := setup(t, db)
		old := snapshot.Kind[policy.Policy]{AggregateType: policy.AggregateType, SchemaVersion: 1}
		current := snapshot.Kind[policy.Policy]{AggregateType: policy.AggregateType, SchemaVersion: 2}
		p := testPolicy(t, 4)
		if _, err := old.Save(ctx, store, db, p.ID, p.Version, p); err != nil {
			t.Fatal(err)
		}
		got, v, err := current.Load(ctx, store, db, p.ID)
		if got != nil || v != 0 || err != nil {
			t.Fatalf("Load of a version 1 snapshot as version 2 = %v, %d, %v; want none", got, v, err)
		}
		if _, ok := readRow(t, db, policy.AggregateType, p.ID); ok {
			t.Error("the snapshot of the old schema version was not deleted")
		}
	})
}

// TestCorruptSnapshot: a state that does not decode as the kind's type
// (bad JSON, or a field the type does not have: a shape change without a
// new schema version) is deleted and reported as ErrCorrupt.
func TestCorruptSnapshot(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := context.Background()
		store, _ := setup(t, db)
		k := policyKind()
		for _, state := range []string{`{"id": "x", "renamed_field": 1}`, `{"id": 42}`, `[1, 2]`} {
			id := event.NewID()
			if _, err := store.Save(ctx, db, snapshot.Snapshot{AggregateType: k.AggregateType, AggregateID: id, Version: 3,
				SchemaVersion: k.SchemaVersion, State: json.RawMessage(state)}, false); err != nil {
				t.Fatal(err)
			}
			got, _, err := k.Load(ctx, store, db, id)
			if got != nil || !errors.Is(err, snapshot.ErrCorrupt) {
				t.Errorf("Load of %s = %v, %v; want ErrCorrupt", state, got, err)
			}
			if _, ok := readRow(t, db, k.AggregateType, id); ok {
				t.Errorf("the corrupt snapshot %s was not deleted", state)
			}
		}
		if _, err := store.Save(ctx, db, snapshot.Snapshot{AggregateType: k.AggregateType, AggregateID: event.NewID(), Version: 1,
			SchemaVersion: 1, State: json.RawMessage(`{`)}, false); err == nil {
			t.Error("Save took a state that is not JSON")
		}
		if _, err := store.Save(ctx, db, snapshot.Snapshot{AggregateType: k.AggregateType, AggregateID: event.NewID(),
			SchemaVersion: 1, State: json.RawMessage(`{}`)}, false); err == nil {
			t.Error("Save took version 0")
		}
	})
}

// TestPersonalSnapshotIsSealed: a customer's snapshot holds none of their
// personal data in clear; after their key is destroyed it cannot be
// opened, is deleted on load and reported as none, and no new one can be
// saved.
func TestPersonalSnapshotIsSealed(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := context.Background()
		store, keys := setup(t, db)
		k := customerKind()
		c := testCustomer(7)
		if saved, err := k.Save(ctx, store, db, c.ID, c.Version, c); !saved || err != nil {
			t.Fatalf("Save = %t, %v", saved, err)
		}
		r, _ := readRow(t, db, customer.AggregateType, c.ID)
		if !keyring.IsSealed(r.State) {
			t.Errorf("the stored state is not sealed: %.60s", r.State)
		}
		for _, plain := range []string{"Asha", "asha@example.com", "9876543210", "1990-04-01", c.ID} {
			if strings.Contains(r.State, plain) {
				t.Errorf("the stored state holds %q in clear", plain)
			}
		}
		got, v, err := k.Load(ctx, store, db, c.ID)
		if err != nil || v != 7 {
			t.Fatalf("Load = %d, %v", v, err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("loaded state (-saved +loaded):\n%s", diff)
		}
		// Sealed for this customer: moved to another one, it does not open.
		other := testCustomer(7)
		if _, err := keys.Seal(ctx, db, other.ID, "x", "y"); err != nil { // gives them a key
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `UPDATE aggregate_snapshots SET aggregate_id = $1 WHERE aggregate_id = $2`, other.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Load(ctx, db, customer.AggregateType, other.ID, true); !errors.Is(err, keyring.ErrTampered) {
			t.Errorf("Load of a snapshot moved to another customer: %v, want keyring.ErrTampered", err)
		}
		if _, err := k.Save(ctx, store, db, c.ID, c.Version, c); err != nil {
			t.Fatal(err)
		}

		if err := keys.Destroy(ctx, db, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Load(ctx, db, customer.AggregateType, c.ID, true); !errors.Is(err, keyring.ErrErased) {
			t.Errorf("Store.Load after erasure: %v, want keyring.ErrErased", err)
		}
		if got, v, err := k.Load(ctx, store, db, c.ID); got != nil || v != 0 || err != nil {
			t.Errorf("Load after erasure = %v, %d, %v; want none", got, v, err)
		}
		if _, ok := readRow(t, db, customer.AggregateType, c.ID); ok {
			t.Error("the unreadable snapshot was not deleted")
		}
		if _, err := k.Save(ctx, store, db, c.ID, c.Version+1, c); !errors.Is(err, keyring.ErrErased) {
			t.Errorf("Save after erasure: %v, want keyring.ErrErased", err)
		}

		// A personal snapshot stored in clear is not trusted.
		id := event.NewID()
		if _, err := store.Save(ctx, db, snapshot.Snapshot{AggregateType: customer.AggregateType, AggregateID: id, Version: 1,
			SchemaVersion: k.SchemaVersion, State: json.RawMessage(`{"id":"` + id + `"}`)}, false); err != nil {
			t.Fatal(err)
		}
		if _, _, err := k.Load(ctx, store, db, id); !errors.Is(err, snapshot.ErrCorrupt) {
			t.Errorf("Load of a personal snapshot in clear: %v, want ErrCorrupt", err)
		}
		// Without keys, personal state is neither saved nor loaded.
		bare := snapshot.NewStore(nil, 10, nil)
		if _, err := k.Save(ctx, bare, db, id, 1, testCustomer(1)); !errors.Is(err, snapshot.ErrNoKeys) {
			t.Errorf("Save without keys: %v, want ErrNoKeys", err)
		}
	})
}

func TestDue(t *testing.T) {
	t.Parallel()
	var none *snapshot.Store
	for _, tt := range []struct {
		s        *snapshot.Store
		replayed int
		want     bool
	}{
		{none, 100, false},
		{snapshot.NewStore(nil, 0, nil), 100, false},
		{snapshot.NewStore(nil, -3, nil), 100, false},
		{snapshot.NewStore(nil, 50, nil), 49, false},
		{snapshot.NewStore(nil, 50, nil), 50, true},
		{snapshot.NewStore(nil, 1, nil), 1, true},
	} {
		if got := tt.s.Due(tt.replayed); got != tt.want {
			t.Errorf("every %d: Due(%d) = %t, want %t", tt.s.Every(), tt.replayed, got, tt.want)
		}
	}
}

// TestKindsRoundTrip: the aggregate states snapshotted survive JSON whole;
// Check catches the types that would not.
func TestKindsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		customerKind().Check(),
		policyKind().Check(),
		snapshot.Kind[quotation.Quotation]{AggregateType: quotation.AggregateType, SchemaVersion: quotation.SnapshotSchemaVersion}.Check(),
	} {
		if err != nil {
			t.Error(err)
		}
	}
	type hidden struct {
		ID string `json:"id"`
		//lint:ignore U1000 the unexported field is what Check must refuse
		count int
	}
	type skipped struct {
		ID   string `json:"id"`
		Note string `json:"-"`
	}
	type loose struct {
		Changes map[string]any `json:"changes"`
	}
	type nested struct {
		Items []*hidden `json:"items"`
	}
	type fine struct {
		At    time.Time        `json:"at"`
		Day   policy.Date      `json:"day"`
		Raw   json.RawMessage  `json:"raw"`
		Byint map[int][]string `json:"by_int"`
	}
	for name, err := range map[string]error{
		"unexported":     snapshot.Kind[hidden]{AggregateType: "x", SchemaVersion: 1}.Check(),
		"json:-":         snapshot.Kind[skipped]{AggregateType: "x", SchemaVersion: 1}.Check(),
		"interface":      snapshot.Kind[loose]{AggregateType: "x", SchemaVersion: 1}.Check(),
		"nested":         snapshot.Kind[nested]{AggregateType: "x", SchemaVersion: 1}.Check(),
		"schema version": snapshot.Kind[fine]{AggregateType: "x"}.Check(),
	} {
		if err == nil {
			t.Errorf("%s: Check passed", name)
		}
	}
	if err := (snapshot.Kind[fine]{AggregateType: "x", SchemaVersion: 1}).Check(); err != nil {
		t.Errorf("fine: %v", err)
	}
}
