package keyring_test

import (
	"errors"
	"strings"
	"testing"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/keyring"
)

// FuzzOpen: Open never panics on outside input, fails only with
// ErrMalformed or ErrTampered, and opens nothing but the one genuine value.
func FuzzOpen(f *testing.F) {
	db := dbtest.Open(f, database.SQLite)
	k, _, _ := setup(f, db)
	const plain = "ana@example.com"
	sealed := mustSeal(f, k, db, "cust-1", "email", plain)
	payload := strings.TrimPrefix(sealed, keyring.SealedPrefix)
	for _, seed := range []string{
		"", sealed, "enc:v1:", "enc:v1", "enc:v2:" + payload, "ana@example.com",
		sealed[:len(sealed)-1], sealed + "A", sealed + "==", "enc:v1:!!!!",
		"enc:v1:" + strings.Repeat("A", 38), "enc:v1:" + strings.Repeat("_", 4000),
		strings.Replace(sealed, payload[:4], "AAAA", 1), "\x00enc:v1:" + payload,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := k.Open(t.Context(), db, "cust-1", "email", in)
		switch {
		case err == nil && in != "" && got != plain:
			t.Fatalf("Open(%q) = %q, nil: a forged value opened", in, got)
		case err == nil && in == "" && got != "":
			t.Fatalf(`Open("") = %q`, got)
		case err != nil && !errors.Is(err, keyring.ErrMalformed) && !errors.Is(err, keyring.ErrTampered):
			t.Fatalf("Open(%q): unexpected error %v", in, err)
		case err != nil && got != "":
			t.Fatalf("Open(%q) returned %q with an error", in, got)
		}
	})
}
