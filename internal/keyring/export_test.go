package keyring

// Hooks for the external tests.

// SetRotateBatch sets how many keys Rotate re-wraps per transaction.
func (k *Keyring) SetRotateBatch(n int) { k.batch = n }

// CachedKeys is the number of unwrapped keys in the cache.
func (k *Keyring) CachedKeys() int { return k.cache.size() }

// UnwrapWith unwraps a stored wrapped key with master, ignoring the
// master_key_id column, to show what a master can and cannot decrypt.
func UnwrapWith(master MasterKey, subjectID, wrapped string) ([]byte, error) {
	return unwrapDataKey(deriveKey(master, wrapKeyInfo), subjectID, wrapped)
}

// CacheTTL is how long an unwrapped key stays cached.
const CacheTTL = defaultCacheTTL
