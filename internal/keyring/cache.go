package keyring

import (
	"sync"
	"time"
)

// Defaults of the unwrapped-key cache.
const (
	defaultCacheSize = 10_000
	// defaultCacheTTL bounds how long a key destroyed by another process
	// (or by a transaction this one cannot see commit) can still open
	// values here.
	defaultCacheTTL = 5 * time.Minute
)

// keyCache holds unwrapped data keys by subject. It is bounded: when full it
// drops an arbitrary entry. Entries expire after ttl.
//
// Only keys read outside a transaction (committed rows) are put here; see
// Keyring.dataKey. Destroy drops the subject's entry and holds it off for
// ttl, so a read that raced with the Destroy cannot put the key back.
type keyCache struct {
	mu   sync.Mutex
	max  int
	ttl  time.Duration
	keys map[string]cachedKey
	hold map[string]time.Time // subject → no caching until then
}

type cachedKey struct {
	key     []byte
	expires time.Time
}

func newKeyCache(maxEntries int, ttl time.Duration) *keyCache {
	return &keyCache{max: maxEntries, ttl: ttl, keys: make(map[string]cachedKey), hold: make(map[string]time.Time)}
}

// get returns the subject's key if it is cached and fresh. The slice is
// shared: callers must not modify it.
func (c *keyCache) get(subject string, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.keys[subject]
	if !ok {
		return nil, false
	}
	if !now.Before(e.expires) {
		delete(c.keys, subject)
		return nil, false
	}
	return e.key, true
}

// put caches key unless the subject is held off by a recent Destroy.
func (c *keyCache) put(subject string, key []byte, now time.Time) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if until, held := c.hold[subject]; held {
		if now.Before(until) {
			return
		}
		delete(c.hold, subject)
	}
	if _, ok := c.keys[subject]; !ok && len(c.keys) >= c.max {
		for s := range c.keys { // map order: an arbitrary victim
			delete(c.keys, s)
			break
		}
	}
	c.keys[subject] = cachedKey{key: key, expires: now.Add(c.ttl)}
}

// forget drops the subject's key and holds the subject off the cache for
// ttl. Holds are swept when there are as many as cached keys allowed; they
// are bounded by the rate of erasures times ttl.
func (c *keyCache) forget(subject string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keys, subject)
	if len(c.hold) >= c.max {
		for s, until := range c.hold {
			if !now.Before(until) {
				delete(c.hold, s)
			}
		}
	}
	c.hold[subject] = now.Add(c.ttl)
}

// purge empties the cache.
func (c *keyCache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.keys)
}

func (c *keyCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys)
}
