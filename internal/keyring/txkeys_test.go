package keyring_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/keyring"
)

// countingTx counts the statements that reach the transaction under it.
type countingTx struct {
	database.Tx
	n atomic.Int64
}

func (c *countingTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	c.n.Add(1)
	return c.Tx.Exec(ctx, q, args...)
}

func (c *countingTx) Query(ctx context.Context, q string, args ...any) (database.Rows, error) {
	c.n.Add(1)
	return c.Tx.Query(ctx, q, args...)
}

func (c *countingTx) QueryRow(ctx context.Context, q string, args ...any) database.Row {
	c.n.Add(1)
	return c.Tx.QueryRow(ctx, q, args...)
}

// TestTxKeysReadOnce: with a memo (WithTxKeys), a transaction reads or
// creates a subject's key once however many values it seals and opens;
// the key made in a transaction that rolled back is never used after it;
// and a Destroy in the transaction is seen by its next seal.
func TestTxKeysReadOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		k := keyring.New(db, newMaster(t), nil)
		sealThrice := func(ctx context.Context, tx database.Tx) (int64, []string) {
			t.Helper()
			ctx = keyring.WithTxKeys(ctx)
			ctr := &countingTx{Tx: tx}
			var sealed []string
			for _, f := range []string{"name", "email", "phone"} {
				s, err := k.Seal(ctx, ctr, "cust-memo", f, "value of "+f)
				if err != nil {
					t.Fatal(err)
				}
				sealed = append(sealed, s)
			}
			// Another wrapper of the same transaction (as the projections'
			// statement pipeline is) shares the memo.
			other := &countingTx{Tx: tx}
			if got, err := k.Open(ctx, other, "cust-memo", "email", sealed[1]); err != nil || got != "value of email" {
				t.Fatalf("open in the transaction: %q, %v", got, err)
			}
			if n := other.n.Load(); n != 0 {
				t.Errorf("open through another wrapper of the transaction ran %d statements, want 0", n)
			}
			return ctr.n.Load(), sealed
		}

		// A transaction that rolls back: its key dies with it.
		rollback := errors.New("roll back")
		var first []string
		err := db.InTx(t.Context(), func(ctx context.Context, tx database.Tx) error {
			var n int64
			n, first = sealThrice(ctx, tx)
			// One read (no key), one insert that stores it; nothing after.
			if n != 2 {
				t.Errorf("statements for three seals and an open of a new subject: %d, want 2", n)
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}

		var second []string
		err = db.InTx(t.Context(), func(ctx context.Context, tx database.Tx) error {
			var n int64
			n, second = sealThrice(ctx, tx)
			if n != 2 {
				t.Errorf("statements after the rollback: %d, want 2 (the key made then is gone)", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := k.Open(t.Context(), db, "cust-memo", "email", second[1]); err != nil || got != "value of email" {
			t.Fatalf("open after commit: %q, %v", got, err)
		}
		if _, err := k.Open(t.Context(), db, "cust-memo", "email", first[1]); !errors.Is(err, keyring.ErrTampered) {
			t.Fatalf("a value sealed with the rolled-back key opens: %v, want ErrTampered", err)
		}

		// A memo forgets what the transaction destroys.
		err = db.InTx(t.Context(), func(ctx context.Context, tx database.Tx) error {
			ctx = keyring.WithTxKeys(ctx)
			if _, err := k.Seal(ctx, tx, "cust-memo", "name", "x"); err != nil {
				return err
			}
			if err := k.Destroy(ctx, tx, "cust-memo"); err != nil {
				return err
			}
			if _, err := k.Seal(ctx, tx, "cust-memo", "name", "x"); !errors.Is(err, keyring.ErrErased) {
				t.Errorf("seal after destroy in the same transaction: %v, want ErrErased", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestTxKeysOnlyForItsTransaction: a memo serves the first transaction it
// sees, never the database or another transaction.
func TestTxKeysOnlyForItsTransaction(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		k := keyring.New(db, newMaster(t), nil)
		ctx := keyring.WithTxKeys(t.Context())
		// The memo's transaction makes a key and rolls back.
		_ = db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
			if _, err := k.DataKey(ctx, tx, "cust-other"); err != nil {
				t.Fatal(err)
			}
			return errors.New("roll back")
		})
		// Another transaction with the same context must not get that key:
		// it reads the table, finds none, and makes another.
		err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
			ctr := &countingTx{Tx: tx}
			if _, err := k.DataKey(ctx, ctr, "cust-other"); err != nil {
				return err
			}
			if ctr.n.Load() == 0 {
				t.Error("a second transaction was served the first one's key from the memo")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
