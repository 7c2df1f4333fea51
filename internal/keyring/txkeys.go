package keyring

import (
	"context"
	"reflect"
	"sync"

	"insure/internal/database"
)

// txKeys remembers the data keys one transaction has read or created, so
// that its later seals and opens of the same subject do not read the key
// again. It belongs to that transaction alone: a key it holds may have
// been created by the transaction, and must not outlive a rollback, which
// is why the shared cache never takes keys read in a transaction.
type txKeys struct {
	mu   sync.Mutex
	tx   any // the transaction the keys were read in (txIdentity)
	keys map[string][]byte
}

type txKeysKey struct{}

// WithTxKeys returns ctx carrying an empty memo of data keys for the one
// transaction that the caller runs in it: seals and opens in that
// transaction then read each subject's key once. Install it inside the
// transaction's body (a fresh memo per attempt), never around a retry
// loop: a key created by an attempt that rolled back must not be reused.
// Calls in another transaction than the first one seen bypass the memo.
func WithTxKeys(ctx context.Context) context.Context {
	return context.WithValue(ctx, txKeysKey{}, &txKeys{})
}

// txMemo returns the memo in ctx if q is the transaction it belongs to (the
// first one it sees), else nil. The database itself never uses it.
func txMemo(ctx context.Context, q database.Querier) *txKeys {
	m, _ := ctx.Value(txKeysKey{}).(*txKeys)
	if m == nil {
		return nil
	}
	if _, isDB := q.(database.DB); isDB {
		return nil
	}
	id := txIdentity(q)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tx == nil {
		m.tx, m.keys = id, make(map[string][]byte)
	}
	if m.tx != id {
		return nil
	}
	return m
}

// txIdentity is the driver's transaction under q, so that wrappers of one
// transaction (the projections' statement pipeline) share its memo; q
// itself when it has none.
func txIdentity(q database.Querier) any {
	if t, ok := q.(database.Tx); ok {
		if n := t.Native(); n != nil && reflect.TypeOf(n).Comparable() {
			return n
		}
	}
	return q
}

func (m *txKeys) get(subject string) ([]byte, bool) {
	if m == nil {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[subject]
	return k, ok
}

func (m *txKeys) put(subject string, key []byte) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[subject] = key
}

func (m *txKeys) forget(subject string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, subject)
}
