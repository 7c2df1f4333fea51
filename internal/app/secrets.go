package app

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"

	"insure/internal/database"
)

// Secrets keeps installation secrets in the app_secrets table, creating each
// on first use.
type Secrets struct {
	db    database.DB
	mu    sync.Mutex
	cache map[string][]byte
}

// NewSecrets returns a secret keeper on db.
func NewSecrets(db database.DB) *Secrets { return &Secrets{db: db, cache: map[string][]byte{}} }

// Key returns the 32-byte secret called name, creating it if needed.
func (s *Secrets) Key(ctx context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.cache[name]; ok {
		return k, nil
	}
	read := func() ([]byte, error) {
		var v string
		err := s.db.QueryRow(ctx, `SELECT value FROM app_secrets WHERE name = $1`, name).Scan(&v)
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.DecodeString(v)
	}
	k, err := read()
	if errors.Is(err, database.ErrNoRows) {
		fresh := make([]byte, 32)
		if _, err := rand.Read(fresh); err != nil {
			return nil, fmt.Errorf("secret %s: %w", name, err)
		}
		if _, err := s.db.Exec(ctx, `INSERT INTO app_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
			name, base64.StdEncoding.EncodeToString(fresh)); err != nil {
			return nil, fmt.Errorf("secret %s: %w", name, err)
		}
		k, err = read()
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("secret %s: stored value has %d bytes, want 32", name, len(k))
	}
	s.cache[name] = k
	return k, nil
}

// VerificationToken returns the email-verification token of a customer's
// address. It is derived (HMAC-SHA256 under an installation key) rather
// than stored, so it never appears in events, jobs or logs, and it stops
// working when the address changes.
func (s *Secrets) VerificationToken(ctx context.Context, customerID, email string) (string, error) {
	key, err := s.Key(ctx, "email_verification")
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(customerID + "\x00" + email))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:24]), nil
}

// CheckVerificationToken reports whether token is the customer's current one.
func (s *Secrets) CheckVerificationToken(ctx context.Context, customerID, email, token string) (bool, error) {
	want, err := s.VerificationToken(ctx, customerID, email)
	if err != nil {
		return false, err
	}
	return hmac.Equal([]byte(want), []byte(token)), nil
}
