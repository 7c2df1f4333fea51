package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"insure/internal/apperr"
)

// Token is a stored API token. It never holds the raw token or its hash.
type Token struct {
	ID        string // a UUID
	Name      string
	Role      Role
	CreatedAt time.Time
	// LastUsedAt is when the token last authenticated a request, to within
	// a minute (see Store.Authenticate); nil if it never has.
	LastUsedAt *time.Time
	// RevokedAt is when the token was revoked; nil while it is valid.
	RevokedAt *time.Time
}

// Revoked reports whether the token has been revoked.
func (t Token) Revoked() bool { return t.RevokedAt != nil }

// Principal is who a request acts as: the token it authenticated with.
type Principal struct {
	TokenID string
	Name    string
	Role    Role
}

// Actor is what events record as the actor of what p does: "token:<name>".
func (p Principal) Actor() string { return "token:" + p.Name }

// Errors returned by this package. They come wrapped in *apperr.Error, so
// both errors.Is and apperr.IsCode work on them.
var (
	// ErrUnauthenticated: the request has no valid token. It is the same
	// error whether the token was missing, malformed, unknown or revoked,
	// so a caller learns nothing from it. (apperr.Unauthorized)
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrNotFound: no token has the given id or name. (apperr.NotFound)
	ErrNotFound = errors.New("token not found")
)

const (
	// Prefix starts every token Create issues, so a leaked one is easy to
	// recognise (secret scanners, logs).
	Prefix = "insure_"
	// randomBytes is the entropy of a token Create issues: 256 bits.
	randomBytes = 32
	// MinSeedLength and MaxLength bound a raw token's length. Tokens from
	// Create are 50 characters; seeded ones are chosen by the operator.
	MinSeedLength = 32
	MaxLength     = 256
	// MaxNameLength bounds a token's name.
	MaxNameLength = 64
	// lastUsedResolution is how stale last_used_at may get: Authenticate
	// writes it at most once a minute per token, not on every request.
	lastUsedResolution = time.Minute
)

// ValidateName checks a token name: 1 to 64 characters, each a letter,
// a digit, '.', '_' or '-'. It returns an apperr Invalid error on field
// "name".
func ValidateName(name string) error {
	if name == "" {
		return apperr.Field("name", "a token needs a name (1 to %d of A-Z a-z 0-9 . _ -)", MaxNameLength)
	}
	if len(name) > MaxNameLength {
		return apperr.Field("name", "%q is %d characters long; the most is %d", name, len(name), MaxNameLength)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isNameChar(c) {
			return apperr.Field("name", "%q contains %q; use only A-Z a-z 0-9 . _ -", name, string(rune(c)))
		}
	}
	return nil
}

func isNameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// validateRole returns an Invalid error unless r is one of Roles.
func validateRole(r Role) error {
	_, err := ParseRole(string(r))
	return err
}

// validateSeed checks a raw token given by an operator.
func validateSeed(raw string) error {
	if len(raw) < MinSeedLength {
		return apperr.Field("token", "the token is %d characters long; give at least %d random characters (for example: openssl rand -base64 32)", len(raw), MinSeedLength)
	}
	if !wellFormed(raw) {
		return apperr.Field("token", "the token must be at most %d printable ASCII characters with no spaces or line breaks", MaxLength)
	}
	return nil
}

// wellFormed reports whether raw could be a token: MinSeedLength to
// MaxLength printable ASCII characters other than space. Anything else is
// rejected before the database is asked.
func wellFormed(raw string) bool {
	if len(raw) < MinSeedLength || len(raw) > MaxLength {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] > '~' {
			return false
		}
	}
	return true
}

// newRaw returns a new raw token: Prefix and 32 random bytes in base64url.
func newRaw() string {
	var b [randomBytes]byte
	// crypto/rand.Read never returns an error; it aborts the program if the
	// system's random source fails.
	_, _ = rand.Read(b[:])
	return Prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// hashToken returns the hex SHA-256 of a raw token, which is what the
// database stores. A fast, unsalted hash is right here (unlike for
// passwords): tokens from Create carry 256 random bits and seeded ones must
// be long random strings, so there is nothing to guess from the hash, and
// salting would stop the lookup by hash that Authenticate needs.
func hashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// newID returns a random (version 4) UUID.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
