package keyring_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/keyring"
)

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		k, m, _ := setup(t, db)
		for _, plaintext := range []string{
			"ana@example.com",
			"+351912345678",
			"José Müller-Ødegård 李小龍 Ελένη 🙂",
			" leading and trailing space ",
			"enc:v1:not really sealed",
			"\x00binary\xff\xfe",
			strings.Repeat("long value ", 6000),
		} {
			sealed := mustSeal(t, k, db, "cust-1", "name", plaintext)
			if !keyring.IsSealed(sealed) || !strings.HasPrefix(sealed, "enc:v1:") {
				t.Fatalf("sealed value %.20q… lacks the prefix", sealed)
			}
			if strings.ContainsAny(strings.TrimPrefix(sealed, keyring.SealedPrefix), "+/=:") {
				t.Errorf("payload is not unpadded base64url")
			}
			if got := mustOpen(t, k, db, "cust-1", "name", sealed); got != plaintext {
				t.Errorf("Open = %.40q, want %.40q", got, plaintext)
			}
			again := mustSeal(t, k, db, "cust-1", "name", plaintext)
			if again == sealed {
				t.Errorf("sealing twice gave the same text: the nonce is not random")
			}
			// A fresh keyring (no cache) on the same master opens it too,
			// as does a transaction.
			fresh := keyring.New(db, m, nil)
			if got := mustOpen(t, fresh, db, "cust-1", "name", sealed); got != plaintext {
				t.Errorf("fresh keyring: Open = %.40q", got)
			}
			err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				got, err := k.Open(ctx, tx, "cust-1", "name", sealed)
				if err == nil && got != plaintext {
					t.Errorf("in a transaction: Open = %.40q", got)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestSealEmpty(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		k, _, _ := setup(t, db)
		sealed, err := k.Seal(ctx, db, "cust-1", "phone", "")
		if err != nil || sealed != "" {
			t.Fatalf("Seal(\"\") = %q, %v; want \"\", nil", sealed, err)
		}
		if rows := dataKeyRows(t, db); len(rows) != 0 {
			t.Errorf("sealing \"\" made a data key: %v", rows)
		}
		if got, err := k.Open(ctx, db, "cust-1", "phone", ""); got != "" || err != nil {
			t.Errorf("Open(\"\") = %q, %v", got, err)
		}
		if keyring.IsSealed("") {
			t.Error(`IsSealed("") = true`)
		}
	})
}

// A value opens only for the subject and field it was sealed for.
func TestSealBindsSubjectAndField(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		k, _, _ := setup(t, db)
		sealed := mustSeal(t, k, db, "cust-1", "email", "ana@example.com")
		mustSeal(t, k, db, "cust-2", "email", "bo@example.com")

		for _, tt := range []struct {
			subject, field string
			want           error
		}{
			{"cust-1", "phone", keyring.ErrTampered},
			{"cust-1", "Email", keyring.ErrTampered},
			{"cust-1", "email|", keyring.ErrTampered},
			{"cust-2", "email", keyring.ErrTampered},
			{"cust-3", "email", keyring.ErrNoDataKey}, // no key: Open does not make one
		} {
			got, err := k.Open(ctx, db, tt.subject, tt.field, sealed)
			if !errors.Is(err, tt.want) || got != "" {
				t.Errorf("Open(%s, %s) = %q, %v; want %v", tt.subject, tt.field, got, err, tt.want)
			}
		}
		if _, ok := dataKeyRowOf(t, db, "cust-3"); ok {
			t.Error("Open made a data key")
		}
		if got := mustOpen(t, k, db, "cust-1", "email", sealed); got != "ana@example.com" {
			t.Errorf("Open = %q", got)
		}
		if _, err := k.Seal(ctx, db, "cust-1", "", "x"); err == nil {
			t.Error("Seal with an empty field succeeded")
		}
		if _, err := k.Seal(ctx, db, "", "email", "x"); err == nil {
			t.Error("Seal with an empty subject succeeded")
		}
	})
}

// Altering any byte of a sealed value makes Open fail with an error, never
// a panic or another plaintext.
func TestOpenTampered(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		k, _, _ := setup(t, db)
		sealed := mustSeal(t, k, db, "cust-1", "email", "ana@example.com")
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, keyring.SealedPrefix))
		if err != nil {
			t.Fatal(err)
		}
		for i := range raw {
			for _, bit := range []byte{0x01, 0x80} {
				b := append([]byte(nil), raw...)
				b[i] ^= bit
				altered := keyring.SealedPrefix + base64.RawURLEncoding.EncodeToString(b)
				got, err := k.Open(ctx, db, "cust-1", "email", altered)
				if !errors.Is(err, keyring.ErrTampered) || got != "" {
					t.Fatalf("byte %d ^ %#x: Open = %q, %v; want ErrTampered", i, bit, got, err)
				}
			}
		}
		for _, cut := range []int{1, len(raw) - 29} { // still longer than nonce and tag
			altered := keyring.SealedPrefix + base64.RawURLEncoding.EncodeToString(raw[:len(raw)-cut])
			if _, err := k.Open(ctx, db, "cust-1", "email", altered); !errors.Is(err, keyring.ErrTampered) {
				t.Errorf("cut %d bytes: err = %v, want ErrTampered", cut, err)
			}
		}
		extended := keyring.SealedPrefix + base64.RawURLEncoding.EncodeToString(append(raw, 0))
		if _, err := k.Open(ctx, db, "cust-1", "email", extended); !errors.Is(err, keyring.ErrTampered) {
			t.Errorf("one byte appended: err = %v, want ErrTampered", err)
		}
	})
}

func TestOpenMalformed(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		k, _, _ := setup(t, db)
		sealed := mustSeal(t, k, db, "cust-1", "email", "ana@example.com")
		payload := strings.TrimPrefix(sealed, keyring.SealedPrefix)
		for _, in := range []string{
			"ana@example.com",
			"enc:v1:",
			"enc:v1",
			"ENC:V1:" + payload,
			"enc:v2:" + payload,
			"enc:v1:" + payload + "==",
			"enc:v1:" + strings.ReplaceAll(strings.ReplaceAll(payload, "-", "+"), "_", "/") + "+/",
			"enc:v1:" + payload[:len(payload)-1] + "!",
			"enc:v1: " + payload,
			"enc:v1:" + base64.RawURLEncoding.EncodeToString(make([]byte, 28)),
			"enc:v1:" + base64.RawURLEncoding.EncodeToString(make([]byte, 5)),
			"enc:v1:A",
		} {
			got, err := k.Open(ctx, db, "cust-1", "email", in)
			if !errors.Is(err, keyring.ErrMalformed) || got != "" {
				t.Errorf("Open(%.30q) = %q, %v; want ErrMalformed", in, got, err)
			}
		}
	})
}

func TestIsSealed(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"":                false,
		"ana@example.com": false,
		"enc:v1:":         true,
		"enc:v1:AAAA":     true,
		"enc:v2:AAAA":     false,
		" enc:v1:AAAA":    false,
	} {
		if got := keyring.IsSealed(in); got != want {
			t.Errorf("IsSealed(%q) = %v, want %v", in, got, want)
		}
	}
}
