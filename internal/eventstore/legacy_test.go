package eventstore_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/keyring"
	"insure/internal/personal"
)

// storeRaw writes env into event_store the way an import of the old
// system's events would: straight into the table, its data as given, at the
// next position of the stream head (advanced in the same transaction, as
// Append does, so positions stay unique and ordered). created_at is left to
// the column default.
func storeRaw(t *testing.T, db database.DB, env event.Envelope) int64 {
	t.Helper()
	meta, err := json.Marshal(env.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	var pos int64
	err = db.InTx(context.Background(), func(ctx context.Context, tx database.Tx) error {
		if err := tx.QueryRow(ctx, `UPDATE event_stream_head SET position = position + 1 WHERE id = 1 RETURNING position`).Scan(&pos); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO event_store (position, event_id, event_name, aggregate_type, aggregate_id,
			aggregate_version, schema_version, event_data, metadata, occurred_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			pos, env.EventID, env.EventName, env.AggregateType, env.AggregateID, env.AggregateVersion, env.SchemaVersion,
			string(env.Data), string(meta), env.OccurredAt)
		return err
	})
	if err != nil {
		t.Fatalf("store %s directly: %v", env.EventName, err)
	}
	return pos
}

func customerRegistry(t *testing.T) *event.Registry {
	t.Helper()
	reg := event.NewRegistry()
	if err := reg.Register(customer.Events()...); err != nil {
		t.Fatal(err)
	}
	return reg
}

// legacyCreated is a CustomerCreated as the old system stored it: no
// customer_id in the data, the phone number as "mobile".
func legacyCreated(id string) event.Envelope {
	at := time.Date(2024, 9, 12, 6, 41, 7, 0, time.UTC)
	return event.Envelope{
		EventID: event.NewID(), EventName: customer.LegacyEventCreated, AggregateType: customer.AggregateType,
		AggregateID: id, AggregateVersion: 1, SchemaVersion: 1,
		Data:       json.RawMessage(`{"name":"Ravi Kumar","email":"ravi.kumar@example.com","mobile":"9876543210"}`),
		Metadata:   event.Metadata{Actor: "admin", IP: "203.0.113.7"},
		OccurredAt: at,
	}
}

// TestLegacyEvents stores a legacy CustomerCreated directly in event_store,
// appends a current event after it through the store, and reads the
// customer back with Load and Rebuild, on every engine.
func TestLegacyEvents(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		reg := customerRegistry(t)
		s := eventstore.New(db, 100, func() time.Time { return clock })

		t.Run("in clear, as imported", func(t *testing.T) {
			id := event.NewID()
			legacy := legacyCreated(id)
			pos := storeRaw(t, db, legacy)
			envs, err := s.Load(ctx, db, customer.AggregateType, id)
			if err != nil {
				t.Fatal(err)
			}
			// The store returns the event as stored: the legacy name and
			// shape. Decoding is what reads it as CustomerRegistered.
			if len(envs) != 1 || envs[0].EventName != customer.LegacyEventCreated || envs[0].Position != pos || envs[0].SchemaVersion != 1 {
				t.Fatalf("Load = %+v", envs)
			}
			c, err := customer.Rebuild(envs, reg)
			if err != nil {
				t.Fatalf("Rebuild: %v", err)
			}
			want := customer.Customer{ID: id, Name: "Ravi Kumar", Email: "ravi.kumar@example.com", Phone: "9876543210",
				Channel: customer.LegacyChannel, Preferences: customer.DefaultPreferences(), Version: 1,
				RegisteredAt: legacy.OccurredAt, UpdatedAt: legacy.OccurredAt}
			if diff := cmp.Diff(want, *c); diff != "" {
				t.Fatalf("Rebuild (-want +got):\n%s", diff)
			}

			// The legacy customer goes on like any other: a current event
			// appended after it, at the next version.
			ps, err := c.VerifyEmail(clock)
			if err != nil {
				t.Fatal(err)
			}
			pe, err := event.New(ps[0], event.Context{Actor: "tester"}, reg, clock)
			if err != nil {
				t.Fatal(err)
			}
			err = db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				_, err := s.Append(ctx, tx, customer.AggregateType, id, c.Version, []event.Pending{pe})
				return err
			})
			if err != nil {
				t.Fatalf("append after the legacy event: %v", err)
			}
			envs, err = s.Load(ctx, db, customer.AggregateType, id)
			if err != nil {
				t.Fatal(err)
			}
			c, err = customer.Rebuild(envs, reg)
			if err != nil {
				t.Fatalf("Rebuild: %v", err)
			}
			if c.Version != 2 || !c.EmailVerified || c.Name != "Ravi Kumar" {
				t.Fatalf("after append: %+v", c)
			}

			// ReadAll returns it as stored too; Upcast gives the current
			// shape to code that wants raw JSON.
			all, err := s.ReadAll(ctx, db, pos-1, 1, nil)
			if err != nil || len(all) != 1 {
				t.Fatalf("ReadAll = %+v, %v", all, err)
			}
			up, err := reg.Upcast(all[0])
			if err != nil {
				t.Fatal(err)
			}
			var data map[string]any
			if err := json.Unmarshal(up.Data, &data); err != nil {
				t.Fatal(err)
			}
			if up.EventName != customer.EventRegistered || data["customer_id"] != id || data["phone"] != "9876543210" {
				t.Fatalf("Upcast = %s %s", up.EventName, up.Data)
			}
		})

		t.Run("sealed by the personal-data codec", func(t *testing.T) {
			master, err := keyring.NewMasterKey()
			if err != nil {
				t.Fatal(err)
			}
			keys := keyring.New(db, master, func() time.Time { return clock })
			codec := personal.NewCodec(reg, keys)
			sealed := eventstore.New(db, 100, func() time.Time { return clock })
			sealed.SetCodec(codec)

			// A clear legacy row reads through the codec unchanged.
			clearID := event.NewID()
			storeRaw(t, db, legacyCreated(clearID))
			envs, err := sealed.Load(ctx, db, customer.AggregateType, clearID)
			if err != nil {
				t.Fatal(err)
			}
			if c, err := customer.Rebuild(envs, reg); err != nil || c.Phone != "9876543210" {
				t.Fatalf("Rebuild through the codec = %+v, %v", c, err)
			}

			// An import that seals the legacy row with the codec seals
			// every personal field it has, "mobile" included: Lookup of the
			// legacy name gives the codec the legacy paths.
			id := event.NewID()
			legacy := legacyCreated(id)
			err = db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				legacy.Data, err = codec.SealEvent(ctx, tx, legacy)
				return err
			})
			if err != nil {
				t.Fatalf("seal: %v", err)
			}
			for _, v := range []string{"Ravi", "ravi.kumar", "9876543210"} {
				if strings.Contains(string(legacy.Data), v) {
					t.Fatalf("sealed legacy data %s holds %q in clear", legacy.Data, v)
				}
			}
			storeRaw(t, db, legacy)
			envs, err = sealed.Load(ctx, db, customer.AggregateType, id)
			if err != nil {
				t.Fatal(err)
			}
			c, err := customer.Rebuild(envs, reg)
			if err != nil {
				t.Fatalf("Rebuild: %v", err)
			}
			if c.Name != "Ravi Kumar" || c.Email != "ravi.kumar@example.com" || c.Phone != "9876543210" {
				t.Fatalf("Rebuild of the sealed legacy event = %+v", c)
			}

			// Erasure shreds it like any other event.
			if err := keys.Destroy(ctx, db, id); err != nil {
				t.Fatal(err)
			}
			envs, err = sealed.Load(ctx, db, customer.AggregateType, id)
			if err != nil {
				t.Fatal(err)
			}
			c, err = customer.Rebuild(envs, reg)
			if err != nil {
				t.Fatalf("Rebuild after erasure: %v", err)
			}
			if c.Name != event.Erased || c.Email != event.Erased || c.Phone != event.Erased {
				t.Fatalf("Rebuild after erasure = %+v, want every personal field %s", c, event.Erased)
			}
		})
	})
}
