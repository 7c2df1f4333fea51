package keyring_test

import (
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"insure/internal/keyring"
)

func TestBlindIndex(t *testing.T) {
	t.Parallel()
	m := newMaster(t)
	k := keyring.New(nil, m, nil) // blind indexes need no database
	hexRE := regexp.MustCompile(`^[0-9a-f]{64}$`)

	email := k.BlindIndex(keyring.KindEmail, "ana@example.com")
	if !hexRE.MatchString(email) {
		t.Fatalf("BlindIndex = %q, want 64 hex digits", email)
	}
	if again := keyring.New(nil, m, nil).BlindIndex(keyring.KindEmail, "ana@example.com"); again != email {
		t.Error("not deterministic for the same master key")
	}
	distinct := map[string]string{
		"email":             email,
		"phone, same value": k.BlindIndex(keyring.KindPhone, "ana@example.com"),
		"name_token":        k.BlindIndex(keyring.KindNameToken, "ana@example.com"),
		"other kind":        k.BlindIndex("postcode", "ana@example.com"),
		"other value":       k.BlindIndex(keyring.KindEmail, "ana@example.org"),
		"other case":        k.BlindIndex(keyring.KindEmail, "Ana@example.com"),
		"other master":      keyring.New(nil, newMaster(t), nil).BlindIndex(keyring.KindEmail, "ana@example.com"),
	}
	seen := map[string]string{}
	for name, idx := range distinct {
		if prev, ok := seen[idx]; ok {
			t.Errorf("%s and %s index alike", name, prev)
		}
		seen[idx] = name
		if !hexRE.MatchString(idx) {
			t.Errorf("%s: %q is not 64 hex digits", name, idx)
		}
	}
	if got := k.BlindIndex("postcode", "1000"); got != k.BlindIndex("postcode", "1000") {
		t.Error("an unregistered kind is not deterministic")
	}
	if got := k.BlindIndex(keyring.KindEmail, ""); got != "" {
		t.Errorf(`BlindIndex("") = %q, want ""`, got)
	}
}

func TestNameTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  \t-- ''", nil},
		{"Ana", []string{"ana"}},
		{"Ana María Silva", []string{"ana", "maría", "silva"}},
		{"Ana-María O'Neil", []string{"ana", "maría", "o", "neil"}},
		{"JOHN john John", []string{"john"}},
		{"van der Berg, Jan", []string{"van", "der", "berg", "jan"}},
		{"Zoë Ødegård ÉMILE", []string{"zoë", "ødegård", "émile"}},
		{"Jose\u0301 Nu\u0303nez", []string{"jose\u0301", "nu\u0303nez"}}, // combining marks stay in the token
		{"Ελένη Παπαδοπούλου", []string{"ελένη", "παπαδοπούλου"}},
		{"李小龍", []string{"李小龍"}},
		{"Henry VIII 3rd", []string{"henry", "viii", "3rd"}},
		{"ana.silva@example.com", []string{"ana", "silva", "example", "com"}},
		{"🙂 Ana 🙂", []string{"ana"}},
	}
	for _, tt := range tests {
		got := keyring.NameTokens(tt.in)
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("NameTokens(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
