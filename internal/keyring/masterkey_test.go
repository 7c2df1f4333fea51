package keyring_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"insure/internal/keyring"
)

func TestParseMasterKey(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{0xfb, 0xff, 0x3e}, 11)[:32] // has + / (std) and - _ (url) in base64
	std := base64.StdEncoding.EncodeToString(raw)
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; "" means success
	}{
		{"std padded", std, ""},
		{"std raw", strings.TrimRight(std, "="), ""},
		{"url padded", base64.URLEncoding.EncodeToString(raw), ""},
		{"url raw", base64.RawURLEncoding.EncodeToString(raw), ""},
		{"surrounding white space", "  " + std + "\n", ""},
		{"empty", "", "it is empty"},
		{"blank", " \n\t", "it is empty"},
		{"16 bytes", base64.StdEncoding.EncodeToString(raw[:16]), "decodes to 16 bytes"},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(raw, 1)), "decodes to 33 bytes"},
		{"hex of 32 bytes", hex.EncodeToString(raw), "decodes to 48 bytes"},
		{"not base64", "this is not a key, it is a passphrase!", "not base64"},
		{"mixed alphabets", strings.Replace(std, "+", "-", 1), "not base64"},
		{"all zero", base64.StdEncoding.EncodeToString(make([]byte, 32)), "all zero"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := keyring.ParseMasterKey(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseMasterKey: %v", err)
				}
				if m.Encode() != std {
					t.Errorf("decoded to another key")
				}
				return
			}
			if !errors.Is(err, keyring.ErrInvalidMasterKey) {
				t.Fatalf("err = %v, want ErrInvalidMasterKey", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %q, want it to mention %q", err, tt.wantErr)
			}
			if in := strings.TrimSpace(tt.in); len(in) >= 8 && strings.Contains(err.Error(), in) {
				t.Errorf("err echoes the key: %q", err)
			}
			if !m.IsZero() {
				t.Errorf("a failed parse returned a key")
			}
		})
	}
}

func TestLoadMasterKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := newMaster(t)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	got, err := keyring.LoadMasterKeyFile(write("good", m.Encode()+"\n"))
	if err != nil || !got.Equal(m) {
		t.Fatalf("LoadMasterKeyFile = %v, %v; want the written key", got, err)
	}

	secret := base64.StdEncoding.EncodeToString([]byte("twenty bytes secret!"))
	_, err = keyring.LoadMasterKeyFile(write("short", secret))
	if !errors.Is(err, keyring.ErrInvalidMasterKey) || strings.Contains(err.Error(), secret) {
		t.Errorf("short key: err = %v, want ErrInvalidMasterKey without the content", err)
	}
	if !strings.Contains(err.Error(), "short") {
		t.Errorf("short key: err = %v, want it to name the file", err)
	}

	_, err = keyring.LoadMasterKeyFile(write("big", strings.Repeat(m.Encode(), 100)))
	if !errors.Is(err, keyring.ErrInvalidMasterKey) || strings.Contains(err.Error(), m.Encode()) {
		t.Errorf("big file: err = %v, want ErrInvalidMasterKey without the content", err)
	}

	_, err = keyring.LoadMasterKeyFile(filepath.Join(dir, "missing"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

func TestMasterKeyNeverPrints(t *testing.T) {
	t.Parallel()
	m := newMaster(t)
	raw, err := base64.StdEncoding.DecodeString(m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if want := hex.EncodeToString(sum[:8]); m.ID() != want || len(m.ID()) != 16 {
		t.Fatalf("ID = %q, want %q", m.ID(), want)
	}
	forms := []string{m.Encode(), base64.RawURLEncoding.EncodeToString(raw), hex.EncodeToString(raw), fmt.Sprint(raw), string(raw)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		out := fmt.Sprintf(verb, m) + fmt.Sprintf(verb, &m) + fmt.Sprintf(verb, []any{m})
		for _, f := range forms {
			if strings.Contains(out, f) {
				t.Errorf("%s prints the key: %q", verb, out)
			}
		}
	}
	if s := fmt.Sprint(m); s != "MasterKey("+m.ID()+")" {
		t.Errorf("Sprint = %q", s)
	}
	back, err := keyring.ParseMasterKey(m.Encode())
	if err != nil || !back.Equal(m) || back.ID() != m.ID() {
		t.Errorf("Encode/Parse round trip: %v, %v", back, err)
	}
	if o := newMaster(t); o.Equal(m) || o.ID() == m.ID() {
		t.Error("two new master keys are equal")
	}
	var zero keyring.MasterKey
	if !zero.IsZero() || zero.ID() != "" || m.IsZero() {
		t.Error("IsZero/ID of the zero key")
	}
}
