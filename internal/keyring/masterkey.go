package keyring

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MasterKeySize is the length of a master key in bytes (AES-256).
const MasterKeySize = 32

// maxKeyFileSize bounds what LoadMasterKeyFile reads: a key is 44
// characters of base64, so anything much longer is the wrong file.
const maxKeyFileSize = 1024

// ErrInvalidMasterKey is returned by ParseMasterKey and LoadMasterKeyFile
// when the text is not 32 bytes in base64. Its messages never include the
// text itself.
var ErrInvalidMasterKey = errors.New("invalid master key")

// MasterKey is the secret that wraps every data key and keys the blind
// indexes. The zero MasterKey is "not configured": a Keyring built with it
// refuses to seal, open or make keys.
//
// A MasterKey never prints itself: every fmt verb shows only its ID.
type MasterKey struct {
	key [MasterKeySize]byte
}

// NewMasterKey returns a random master key, for `keygen`-style commands and
// tests. Encode it to store it.
func NewMasterKey() (MasterKey, error) {
	var m MasterKey
	if _, err := rand.Read(m.key[:]); err != nil {
		return MasterKey{}, fmt.Errorf("generate master key: %w", err)
	}
	return m, nil
}

// ParseMasterKey decodes a master key from base64: standard or URL-safe
// alphabet, padded or not, surrounding white space ignored. It must decode
// to exactly 32 bytes that are not all zero.
//
// Errors: ErrInvalidMasterKey, with a message that says what is wrong and
// never echoes s.
func ParseMasterKey(s string) (MasterKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return MasterKey{}, fmt.Errorf("%w: it is empty; set it to 32 random bytes in base64 (for example the output of `openssl rand -base64 32`)", ErrInvalidMasterKey)
	}
	var (
		raw     []byte
		decoded bool
	)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			raw, decoded = b, true
			break
		}
	}
	if !decoded {
		return MasterKey{}, fmt.Errorf("%w: it is not base64 (%d characters); give 32 random bytes in standard or URL-safe base64, for example the output of `openssl rand -base64 32`", ErrInvalidMasterKey, len(s))
	}
	if len(raw) != MasterKeySize {
		return MasterKey{}, fmt.Errorf("%w: it decodes to %d bytes, it must be exactly %d; generate one with `openssl rand -base64 32`", ErrInvalidMasterKey, len(raw), MasterKeySize)
	}
	var m MasterKey
	copy(m.key[:], raw)
	clear(raw)
	if m.IsZero() {
		return MasterKey{}, fmt.Errorf("%w: it is all zero bytes; generate a random one with `openssl rand -base64 32`", ErrInvalidMasterKey)
	}
	return m, nil
}

// LoadMasterKeyFile reads a master key in the format ParseMasterKey takes
// from the file at path (a trailing newline is fine).
//
// Errors: the file's read error, or ErrInvalidMasterKey naming the path but
// never the file's content.
func LoadMasterKeyFile(path string) (MasterKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key file %s: %w", path, err)
	}
	defer clear(b)
	if len(b) > maxKeyFileSize {
		return MasterKey{}, fmt.Errorf("%w: file %s is larger than %d bytes; it should hold only the base64 key", ErrInvalidMasterKey, path, maxKeyFileSize)
	}
	m, err := ParseMasterKey(string(b))
	if err != nil {
		return MasterKey{}, fmt.Errorf("file %s: %w", path, err)
	}
	return m, nil
}

// ID names the key without revealing it: the first 8 bytes of its SHA-256,
// in hex. data_keys.master_key_id records it, so a keyring knows whether it
// holds the master that wrapped a data key. The zero key's ID is "".
func (m MasterKey) ID() string {
	if m.IsZero() {
		return ""
	}
	sum := sha256.Sum256(m.key[:])
	return hex.EncodeToString(sum[:8])
}

// IsZero reports whether m is the zero (unset) MasterKey.
func (m MasterKey) IsZero() bool {
	var zero [MasterKeySize]byte
	return subtle.ConstantTimeCompare(m.key[:], zero[:]) == 1
}

// Equal reports whether m and o are the same key, in constant time.
func (m MasterKey) Equal(o MasterKey) bool {
	return subtle.ConstantTimeCompare(m.key[:], o.key[:]) == 1
}

// Encode returns the key in standard base64, the form ParseMasterKey
// reads. It is the only way to see the key: use it to write a new key to
// its secret store, nowhere else.
func (m MasterKey) Encode() string {
	return base64.StdEncoding.EncodeToString(m.key[:])
}

// String shows the key's ID, never the key.
func (m MasterKey) String() string {
	if m.IsZero() {
		return "MasterKey(unset)"
	}
	return "MasterKey(" + m.ID() + ")"
}

// Format makes every fmt verb (%v, %+v, %#v, %x, %d, …) print String, so a
// key that reaches a log line or an error shows only its ID.
func (m MasterKey) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, m.String())
}
