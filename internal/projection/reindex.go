package projection

import (
	"context"
	"fmt"
	"time"

	"insure/internal/database"
	"insure/internal/personal"
)

// reindexBatch is how many customers one Reindex transaction handles.
const reindexBatch = 200

// sqlReindexBatch lists the customers after the id $1, in id order.
const sqlReindexBatch = `SELECT id, name, email, phone, erased_at FROM customers WHERE id > $1 ORDER BY id LIMIT $2`

// Reindex recomputes the blind indexes of the customers read model from its
// sealed values with vault: email_index, phone_index and the name tokens of
// every customer that is not erased, and the email_index of their
// customer_emails claim. Blind indexes are keyed by the master key, so run
// it after rotating the master key (keyring.Keyring.Rotate), with a vault
// on the new key, while nothing else writes. It works in transactions of a
// few hundred customers, so it can be run again after an interruption, and
// returns how many customers it reindexed.
//
// Errors: those of opening a sealed value (a tampered value, a data key
// the vault's master key does not unwrap) and of the database. On error
// the count is that of the transactions that committed.
func Reindex(ctx context.Context, db database.DB, vault *personal.Vault) (int, error) {
	if vault == nil {
		return 0, errNoVault
	}
	n, after := 0, ""
	for {
		var read, done int
		var last string
		err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
			var err error
			read, done, last, err = reindexCustomers(ctx, tx, vault, after)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("reindex customers after %q: %w", after, err)
		}
		n += done
		if read < reindexBatch {
			return n, nil
		}
		after = last
	}
}

// reindexCustomers reindexes up to reindexBatch customers after the cursor
// and returns how many rows it read, how many customers it reindexed, and
// the new cursor.
func reindexCustomers(ctx context.Context, tx database.Tx, vault *personal.Vault, after string) (read, done int, last string, err error) {
	type row struct {
		id, name, email, phone string
		erasedAt               *time.Time
	}
	rs, err := tx.Query(ctx, sqlReindexBatch, after, reindexBatch)
	if err != nil {
		return 0, 0, after, err
	}
	var batch []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.id, &r.name, &r.email, &r.phone, &r.erasedAt); err != nil {
			_ = rs.Close()
			return 0, 0, after, err
		}
		batch = append(batch, r)
	}
	if err := rs.Err(); err != nil {
		_ = rs.Close()
		return 0, 0, after, err
	}
	if err := rs.Close(); err != nil {
		return 0, 0, after, err
	}
	last = after
	for _, r := range batch {
		last = r.id
		if r.erasedAt != nil {
			continue // nothing left to index
		}
		var name, email, phone string
		for _, f := range []struct {
			column, sealed string
			out            *string
		}{{"name", r.name, &name}, {"email", r.email, &email}, {"phone", r.phone, &phone}} {
			if *f.out, err = vault.Open(ctx, tx, r.id, customerField(f.column), f.sealed); err != nil {
				return 0, 0, after, fmt.Errorf("customer %s: %w", r.id, err)
			}
		}
		emailIndex := vault.Index(personal.KindEmail, email)
		if _, err := tx.Exec(ctx, sqlCustomerIndexes, r.id, emailIndex, vault.Index(personal.KindPhone, phone)); err != nil {
			return 0, 0, after, fmt.Errorf("customer %s: %w", r.id, err)
		}
		if err := replaceNameTokens(ctx, tx, liveNameTokens, vault, r.id, name); err != nil {
			return 0, 0, after, err
		}
		// The claim of the address, when the customer has one: replaced,
		// not updated, so a stray second claim cannot collide.
		claims, err := tx.Exec(ctx, sqlDeleteEmailClaims, r.id)
		if err != nil {
			return 0, 0, after, fmt.Errorf("email claim of customer %s: %w", r.id, err)
		}
		if claims > 0 && emailIndex != "" {
			if _, err := tx.Exec(ctx, sqlInsertEmailClaim, emailIndex, r.id); err != nil {
				return 0, 0, after, fmt.Errorf("email claim of customer %s: %w", r.id, err)
			}
		}
		done++
	}
	return len(batch), done, last, nil
}
