package idempotency_test

import (
	"testing"

	"insure/internal/idempotency"
)

// FuzzValidKey: any header value is judged without a panic, and a key is
// accepted exactly when it is 1 to 255 printable ASCII bytes.
func FuzzValidKey(f *testing.F) {
	for _, s := range []string{"", "a", "0193f6a2-7c1e-7000-8000-000000000001", "clé", "a\x00", "~ ~"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		want := len(key) >= 1 && len(key) <= idempotency.MaxKeyLen
		for i := 0; i < len(key) && want; i++ {
			want = key[i] >= ' ' && key[i] <= '~'
		}
		if got := idempotency.ValidKey(key); got != want {
			t.Fatalf("ValidKey(%q) = %v, want %v", key, got, want)
		}
		if idempotency.Hash("POST", "/p", "", []byte(key)) == idempotency.Hash("POST", "/p", "", []byte(key+"x")) {
			t.Fatal("different bodies hash alike")
		}
	})
}
