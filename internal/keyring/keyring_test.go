package keyring_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/keyring"
)

func TestDataKeyCreatedOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		c := &clock{t: t0}
		m := newMaster(t)
		const n = 8
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			keys  = make([][]byte, n)
			errs  = make([]error, n)
		)
		for i := range n {
			// One keyring per goroutine: no shared cache, as in separate
			// processes.
			k := keyring.New(db, m, c.Now)
			wg.Go(func() {
				<-start
				keys[i], errs[i] = k.DataKey(ctx, db, "cust-1")
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("goroutine %d: %v", i, errs[i])
			}
			if len(keys[i]) != 32 || !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("goroutine %d got another key (%d bytes)", i, len(keys[i]))
			}
		}
		rows := dataKeyRows(t, db)
		if len(rows) != 1 || rows[0].Subject != "cust-1" || rows[0].MasterID != m.ID() || rows[0].DestroyedAt != "" {
			t.Fatalf("data_keys = %+v, want one live row for cust-1 under %s", rows, m.ID())
		}
		if !strings.HasPrefix(rows[0].CreatedAt, "2026-03-01") {
			t.Errorf("created_at = %q, want the clock's time", rows[0].CreatedAt)
		}

		// The returned key is a copy: changing it changes nothing.
		k := keyring.New(db, m, c.Now)
		got, err := k.DataKey(ctx, db, "cust-1")
		if err != nil {
			t.Fatal(err)
		}
		clear(got)
		again, err := k.DataKey(ctx, db, "cust-1")
		if err != nil || !bytes.Equal(again, keys[0]) {
			t.Fatalf("DataKey after clearing the returned slice = %x, %v", again, err)
		}
	})
}

// A key made in a transaction that rolls back is gone, and no keyring
// keeps it in its cache.
func TestDataKeyInRolledBackTransaction(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		k, _, _ := setup(t, db)
		errRollback := errors.New("roll back")
		var inTx []byte
		var sealed string
		err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
			var err error
			if inTx, err = k.DataKey(ctx, tx, "cust-1"); err != nil {
				return err
			}
			again, err := k.DataKey(ctx, tx, "cust-1")
			if err != nil {
				return err
			}
			if !bytes.Equal(again, inTx) {
				t.Error("two DataKey calls in one transaction gave different keys")
			}
			sealed = mustSeal(t, k, tx, "cust-1", "email", "ana@example.com")
			if got := mustOpen(t, k, tx, "cust-1", "email", sealed); got != "ana@example.com" {
				t.Errorf("Open in the transaction = %q", got)
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("InTx = %v", err)
		}
		if k.CachedKeys() != 0 {
			t.Error("a key read in a transaction was cached")
		}
		if rows := dataKeyRows(t, db); len(rows) != 0 {
			t.Fatalf("rolled-back key is stored: %+v", rows)
		}
		if _, err := k.Open(ctx, db, "cust-1", "email", sealed); !errors.Is(err, keyring.ErrNoDataKey) {
			t.Errorf("Open of a value whose key rolled back: %v, want ErrNoDataKey", err)
		}
		after, err := k.DataKey(ctx, db, "cust-1")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(after, inTx) {
			t.Error("the rolled-back key came back")
		}
		if k.CachedKeys() != 1 {
			t.Errorf("cached keys = %d after a read outside a transaction, want 1", k.CachedKeys())
		}
	})
}

func TestDestroy(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		k, m, c := setup(t, db)
		email := mustSeal(t, k, db, "cust-1", "email", "ana@example.com")
		phone := mustSeal(t, k, db, "cust-1", "phone", "+351912345678")
		other := mustSeal(t, k, db, "cust-2", "email", "bo@example.com")
		mustOpen(t, k, db, "cust-1", "email", email) // now cached

		c.Advance(1)
		if err := k.Destroy(ctx, db, "cust-1"); err != nil {
			t.Fatalf("Destroy: %v", err)
		}
		for field, sealed := range map[string]string{"email": email, "phone": phone} {
			got, err := k.Open(ctx, db, "cust-1", field, sealed)
			if !errors.Is(err, keyring.ErrErased) || got != "" {
				t.Errorf("Open(%s) after Destroy = %q, %v; want ErrErased", field, got, err)
			}
		}
		if _, err := keyring.New(db, m, nil).Open(ctx, db, "cust-1", "email", email); !errors.Is(err, keyring.ErrErased) {
			t.Errorf("fresh keyring: Open after Destroy = %v, want ErrErased", err)
		}
		if _, err := k.DataKey(ctx, db, "cust-1"); !errors.Is(err, keyring.ErrErased) {
			t.Errorf("DataKey after Destroy = %v, want ErrErased (no new key)", err)
		}
		if _, err := k.Seal(ctx, db, "cust-1", "email", "new@example.com"); !errors.Is(err, keyring.ErrErased) {
			t.Errorf("Seal after Destroy = %v, want ErrErased", err)
		}
		if got := mustOpen(t, k, db, "cust-2", "email", other); got != "bo@example.com" {
			t.Errorf("another subject's value: %q", got)
		}

		row, _ := dataKeyRowOf(t, db, "cust-1")
		if row.Wrapped != "" || row.DestroyedAt == "" {
			t.Fatalf("destroyed row = %+v, want no key material and destroyed_at set", row)
		}

		// Idempotent: the first erasure time stays.
		c.Advance(3600e9)
		if err := k.Destroy(ctx, db, "cust-1"); err != nil {
			t.Fatalf("second Destroy: %v", err)
		}
		if again, _ := dataKeyRowOf(t, db, "cust-1"); again != row {
			t.Errorf("second Destroy changed the row: %+v, was %+v", again, row)
		}

		// A subject that never had a key gets a tombstone, and never a key.
		if err := k.Destroy(ctx, db, "cust-9"); err != nil {
			t.Fatalf("Destroy of a subject without a key: %v", err)
		}
		if _, err := k.Seal(ctx, db, "cust-9", "email", "x@example.com"); !errors.Is(err, keyring.ErrErased) {
			t.Errorf("Seal for a tombstoned subject = %v, want ErrErased", err)
		}
		if row, ok := dataKeyRowOf(t, db, "cust-9"); !ok || row.Wrapped != "" || row.DestroyedAt == "" {
			t.Errorf("tombstone = %+v, %v", row, ok)
		}
	})
}

func TestDestroyInTransaction(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		k, _, _ := setup(t, db)
		sealed := mustSeal(t, k, db, "cust-1", "email", "ana@example.com")
		mustOpen(t, k, db, "cust-1", "email", sealed)

		errRollback := errors.New("roll back")
		err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
			if err := k.Destroy(ctx, tx, "cust-1"); err != nil {
				return err
			}
			if _, err := k.Open(ctx, tx, "cust-1", "email", sealed); !errors.Is(err, keyring.ErrErased) {
				t.Errorf("Open in the destroying transaction = %v, want ErrErased", err)
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		if got := mustOpen(t, k, db, "cust-1", "email", sealed); got != "ana@example.com" {
			t.Errorf("after a rolled-back Destroy: Open = %q", got)
		}

		err = db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
			return k.Destroy(ctx, tx, "cust-1")
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Open(ctx, db, "cust-1", "email", sealed); !errors.Is(err, keyring.ErrErased) {
			t.Errorf("after a committed Destroy: Open = %v, want ErrErased", err)
		}
	})
}

// Another keyring (another process) may open a destroyed subject's values
// from its cache until the cache entry expires; then it sees the erasure.
func TestDestroySeenByOtherKeyringsAfterTTL(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		k1, m, c := setup(t, db)
		k2 := keyring.New(db, m, c.Now)
		sealed := mustSeal(t, k1, db, "cust-1", "email", "ana@example.com")
		mustOpen(t, k2, db, "cust-1", "email", sealed) // k2 caches the key
		if err := k1.Destroy(ctx, db, "cust-1"); err != nil {
			t.Fatal(err)
		}
		c.Advance(keyring.CacheTTL - 1)
		mustOpen(t, k2, db, "cust-1", "email", sealed) // the documented window
		c.Advance(1)
		if _, err := k2.Open(ctx, db, "cust-1", "email", sealed); !errors.Is(err, keyring.ErrErased) {
			t.Errorf("after the cache TTL: Open = %v, want ErrErased", err)
		}
	})
}

func TestRotate(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		k1, m1, c := setup(t, db)
		k1.SetRotateBatch(2)
		type value struct{ subject, sealed, plain string }
		var values []value
		keysBefore := map[string][]byte{}
		for i := range 5 {
			subject := fmt.Sprintf("cust-%d", i)
			plain := fmt.Sprintf("customer%d@example.com", i)
			values = append(values, value{subject, mustSeal(t, k1, db, subject, "email", plain), plain})
			key, err := k1.DataKey(ctx, db, subject)
			if err != nil {
				t.Fatal(err)
			}
			keysBefore[subject] = key
		}
		if err := k1.Destroy(ctx, db, "cust-3"); err != nil {
			t.Fatal(err)
		}
		if err := k1.Destroy(ctx, db, "tombstone"); err != nil {
			t.Fatal(err)
		}
		destroyedBefore, _ := dataKeyRowOf(t, db, "cust-3")

		m2 := newMaster(t)
		n, err := k1.Rotate(ctx, db, m2)
		if err != nil || n != 4 {
			t.Fatalf("Rotate = %d, %v; want 4 live keys re-wrapped", n, err)
		}
		for _, r := range dataKeyRows(t, db) {
			switch {
			case r.Subject == "cust-3":
				if r != destroyedBefore {
					t.Errorf("Rotate changed a destroyed row: %+v", r)
				}
			case r.Subject == "tombstone":
			case r.MasterID != m2.ID():
				t.Errorf("%s is under master %s, want %s", r.Subject, r.MasterID, m2.ID())
			default:
				if _, err := keyring.UnwrapWith(m1, r.Subject, r.Wrapped); !errors.Is(err, keyring.ErrMasterKeyMismatch) {
					t.Errorf("%s: the old master still unwraps the key (err %v)", r.Subject, err)
				}
				key, err := keyring.UnwrapWith(m2, r.Subject, r.Wrapped)
				if err != nil || !bytes.Equal(key, keysBefore[r.Subject]) {
					t.Errorf("%s: the new master unwraps %x, %v; want the same data key", r.Subject, key, err)
				}
			}
		}

		// The new master opens everything sealed before.
		k2 := keyring.New(db, m2, c.Now)
		for _, v := range values {
			got, err := k2.Open(ctx, db, v.subject, "email", v.sealed)
			if v.subject == "cust-3" {
				if !errors.Is(err, keyring.ErrErased) {
					t.Errorf("destroyed %s: %v, want ErrErased", v.subject, err)
				}
				continue
			}
			if err != nil || got != v.plain {
				t.Errorf("new master: Open(%s) = %q, %v", v.subject, got, err)
			}
		}
		// The old master no longer does, in the rotated keyring or a fresh one.
		old := keyring.New(db, m1, c.Now)
		for _, kr := range []*keyring.Keyring{k1, old} {
			if _, err := kr.Open(ctx, db, "cust-0", "email", values[0].sealed); !errors.Is(err, keyring.ErrMasterKeyMismatch) {
				t.Errorf("old master: Open = %v, want ErrMasterKeyMismatch", err)
			}
		}
		if _, err := k1.Seal(ctx, db, "cust-new", "email", "x@example.com"); !errors.Is(err, keyring.ErrMasterKeyMismatch) {
			t.Errorf("rotated-out keyring: Seal = %v, want ErrMasterKeyMismatch", err)
		}

		// Running it again finds nothing left; rotating to the current key,
		// or from a master that wraps nothing here, is refused.
		if n, err := old.Rotate(ctx, db, m2); err != nil || n != 0 {
			t.Errorf("Rotate again = %d, %v; want 0, nil", n, err)
		}
		if _, err := k2.Rotate(ctx, db, m2); err == nil {
			t.Error("Rotate to the current master succeeded")
		}
		if _, err := k2.Rotate(ctx, db, keyring.MasterKey{}); !errors.Is(err, keyring.ErrNoMasterKey) {
			t.Errorf("Rotate to the zero key = %v", err)
		}
		before := dataKeyRows(t, db)
		if _, err := keyring.New(db, newMaster(t), nil).Rotate(ctx, db, newMaster(t)); !errors.Is(err, keyring.ErrMasterKeyMismatch) {
			t.Errorf("Rotate from a foreign master = %v, want ErrMasterKeyMismatch", err)
		}
		if after := dataKeyRows(t, db); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Error("a refused Rotate changed data_keys")
		}

		// New keys are made under the new master.
		mustSeal(t, k2, db, "cust-new", "email", "x@example.com")
		if r, _ := dataKeyRowOf(t, db, "cust-new"); r.MasterID != m2.ID() {
			t.Errorf("new key under %s, want %s", r.MasterID, m2.ID())
		}
	})
}

// Neither the sealed text nor the data_keys table holds the plaintext, the
// data key or the master key, in any common encoding.
func TestNothingInClearAtRest(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		k, m, _ := setup(t, db)
		plaintexts := []string{"ana.maria.secret@example.com", "+351912345678", "Ana María Secretária"}
		var sealed []string
		for i, p := range plaintexts {
			sealed = append(sealed, mustSeal(t, k, db, "cust-1", fmt.Sprint("field", i), p))
		}
		dataKey, err := k.DataKey(ctx, db, "cust-1")
		if err != nil {
			t.Fatal(err)
		}
		masterRaw, _ := base64.StdEncoding.DecodeString(m.Encode())

		var stored strings.Builder
		for _, r := range dataKeyRows(t, db) {
			fmt.Fprintf(&stored, "%s\x00%s\x00%s\x00%s\x00%s\n", r.Subject, r.Wrapped, r.MasterID, r.CreatedAt, r.DestroyedAt)
		}
		haystacks := map[string]string{"data_keys": stored.String(), "sealed values": strings.Join(sealed, "\n")}
		needles := map[string]string{}
		for i, p := range plaintexts {
			needles[fmt.Sprint("plaintext ", i)] = p
			needles[fmt.Sprint("plaintext ", i, " base64")] = base64.StdEncoding.EncodeToString([]byte(p))
			needles[fmt.Sprint("plaintext ", i, " base64url")] = base64.RawURLEncoding.EncodeToString([]byte(p))
		}
		for name, secret := range map[string][]byte{"data key": dataKey, "master key": masterRaw} {
			needles[name] = string(secret)
			needles[name+" hex"] = hex.EncodeToString(secret)
			needles[name+" base64"] = base64.RawStdEncoding.EncodeToString(secret)
			needles[name+" base64url"] = base64.RawURLEncoding.EncodeToString(secret)
		}
		for hay, text := range haystacks {
			for name, needle := range needles {
				if strings.Contains(text, needle) {
					t.Errorf("%s contain the %s", hay, name)
				}
				// Also no long fragment of a secret.
				if strings.HasSuffix(name, "hex") && strings.Contains(text, needle[:16]) {
					t.Errorf("%s contain part of the %s", hay, name)
				}
			}
		}
	})
}

func TestZeroMasterKey(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.SQLite)
	ctx := t.Context()
	k := keyring.New(db, keyring.MasterKey{}, nil)
	if _, err := k.Seal(ctx, db, "cust-1", "email", "ana@example.com"); !errors.Is(err, keyring.ErrNoMasterKey) {
		t.Errorf("Seal = %v, want ErrNoMasterKey", err)
	}
	if _, err := k.DataKey(ctx, db, "cust-1"); !errors.Is(err, keyring.ErrNoMasterKey) {
		t.Errorf("DataKey = %v, want ErrNoMasterKey", err)
	}
	if _, err := k.Rotate(ctx, db, newMaster(t)); !errors.Is(err, keyring.ErrNoMasterKey) {
		t.Errorf("Rotate = %v, want ErrNoMasterKey", err)
	}
	if got := k.BlindIndex(keyring.KindEmail, "ana@example.com"); got != "" {
		t.Errorf("BlindIndex = %q, want \"\"", got)
	}
	if rows := dataKeyRows(t, db); len(rows) != 0 {
		t.Errorf("data_keys = %+v", rows)
	}
}

func TestCheckNamesAForeignMaster(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		a, b := newMaster(t), newMaster(t)
		ka := keyring.New(db, a, nil)
		if err := ka.Check(ctx, db); err != nil {
			t.Fatalf("Check on an empty table: %v", err)
		}
		if _, err := ka.Seal(ctx, db, "subject-1", "name", "Ada"); err != nil {
			t.Fatal(err)
		}
		if err := ka.Check(ctx, db); err != nil {
			t.Fatalf("Check with the right master: %v", err)
		}
		err := keyring.New(db, b, nil).Check(ctx, db)
		if !errors.Is(err, keyring.ErrMasterKeyMismatch) || !strings.Contains(err.Error(), a.ID()) {
			t.Fatalf("Check with another master = %v, want ErrMasterKeyMismatch naming %s", err, a.ID())
		}
		if err := ka.Destroy(ctx, db, "subject-1"); err != nil {
			t.Fatal(err)
		}
		if err := keyring.New(db, b, nil).Check(ctx, db); err != nil {
			t.Fatalf("Check after the only key was destroyed: %v", err)
		}
	})
}
