package keyring

import (
	"crypto/hkdf"
	"crypto/sha256"
	"testing"
	"time"
)

// deriveKey is HKDF-Expand-SHA256 for one block; check it against the
// standard library's.
func TestDeriveKeyIsHKDFExpand(t *testing.T) {
	t.Parallel()
	m, err := NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range []string{wrapKeyInfo, blindIndexPrefix + KindEmail, ""} {
		want, err := hkdf.Expand(sha256.New, m.key[:], info, 32)
		if err != nil {
			t.Fatal(err)
		}
		if got := deriveKey(m, info); string(got[:]) != string(want) {
			t.Errorf("deriveKey(%q) differs from hkdf.Expand", info)
		}
	}
	a, b := deriveKey(m, wrapKeyInfo), deriveKey(m, blindIndexPrefix+KindEmail)
	if a == b || string(a[:]) == string(m.key[:]) {
		t.Error("subkeys are not distinct from each other and from the master")
	}
}

func TestKeyCacheBoundAndHold(t *testing.T) {
	t.Parallel()
	c := newKeyCache(3, defaultCacheTTL)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, s := range []string{"a", "b", "c", "d", "e"} {
		c.put(s, []byte(s), now)
	}
	if n := c.size(); n != 3 {
		t.Fatalf("cache holds %d keys, want the bound 3", n)
	}
	c.put("e", []byte("e2"), now) // replacing does not evict
	if n := c.size(); n != 3 {
		t.Fatalf("cache holds %d keys after a replace, want 3", n)
	}
	if k, ok := c.get("e", now); !ok || string(k) != "e2" {
		t.Fatalf("get(e) = %q, %v", k, ok)
	}
	if _, ok := c.get("e", now.Add(defaultCacheTTL)); ok {
		t.Fatal("an expired key was returned")
	}
	c.forget("x", now)
	c.put("x", []byte("x"), now.Add(defaultCacheTTL/2))
	if _, ok := c.get("x", now.Add(defaultCacheTTL/2)); ok {
		t.Fatal("a subject destroyed moments ago was cached again")
	}
	c.put("x", []byte("x"), now.Add(defaultCacheTTL))
	if _, ok := c.get("x", now.Add(defaultCacheTTL)); !ok {
		t.Fatal("the hold did not end after the TTL")
	}
}
