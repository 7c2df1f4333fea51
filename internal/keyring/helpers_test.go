package keyring_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"insure/internal/database"
	"insure/internal/keyring"
)

// clock is a settable clock for the keyring.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.UTC)

func newMaster(t testing.TB) keyring.MasterKey {
	t.Helper()
	m, err := keyring.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// setup returns a keyring on db with a new master key and a settable clock.
func setup(t testing.TB, db database.DB) (*keyring.Keyring, keyring.MasterKey, *clock) {
	t.Helper()
	c := &clock{t: t0}
	m := newMaster(t)
	return keyring.New(db, m, c.Now), m, c
}

// dataKeyRow is a data_keys row, every column as text.
type dataKeyRow struct {
	Subject, Wrapped, MasterID, CreatedAt, DestroyedAt string
}

func dataKeyRows(t testing.TB, db database.DB) []dataKeyRow {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT subject_id, wrapped_key, master_key_id,
		CAST(created_at AS TEXT), COALESCE(CAST(destroyed_at AS TEXT), '') FROM data_keys ORDER BY subject_id`)
	if err != nil {
		t.Fatalf("read data_keys: %v", err)
	}
	defer rows.Close()
	var out []dataKeyRow
	for rows.Next() {
		var r dataKeyRow
		if err := rows.Scan(&r.Subject, &r.Wrapped, &r.MasterID, &r.CreatedAt, &r.DestroyedAt); err != nil {
			t.Fatalf("scan data_keys: %v", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read data_keys: %v", err)
	}
	return out
}

func dataKeyRowOf(t testing.TB, db database.DB, subject string) (dataKeyRow, bool) {
	t.Helper()
	for _, r := range dataKeyRows(t, db) {
		if r.Subject == subject {
			return r, true
		}
	}
	return dataKeyRow{}, false
}

func mustSeal(t testing.TB, k *keyring.Keyring, q database.Querier, subject, field, plaintext string) string {
	t.Helper()
	s, err := k.Seal(context.Background(), q, subject, field, plaintext)
	if err != nil {
		t.Fatalf("Seal(%s, %s): %v", subject, field, err)
	}
	return s
}

func mustOpen(t testing.TB, k *keyring.Keyring, q database.Querier, subject, field, sealed string) string {
	t.Helper()
	p, err := k.Open(context.Background(), q, subject, field, sealed)
	if err != nil {
		t.Fatalf("Open(%s, %s): %v", subject, field, err)
	}
	return p
}
