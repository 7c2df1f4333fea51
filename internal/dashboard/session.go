package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"insure/internal/auth"
	"insure/internal/database"
)

// ErrNoSession is what SessionStore.Lookup returns for a session that does
// not exist (never did, logged out, cleaned up) or whose token was revoked.
var ErrNoSession = errors.New("no such dashboard session")

// Session is one login to the dashboard.
type Session struct {
	// IDHash is the SHA-256 (hex) of the session id, the cookie's value.
	// The id itself is never stored.
	IDHash string
	// Principal is who logged in: the token's id, name and role.
	Principal auth.Principal
	// CSRF is the synchronizer token every change must send back.
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SessionStore keeps dashboard sessions.
type SessionStore interface {
	// Create stores a new session.
	Create(ctx context.Context, s Session) error
	// Lookup returns the session whose id hashes to idHash, with its
	// token's current name and role. It fails with ErrNoSession when there
	// is none or its token was revoked since; expiry is the caller's call.
	Lookup(ctx context.Context, idHash string) (Session, error)
	// Delete removes a session; removing one that is gone is no error.
	Delete(ctx context.Context, idHash string) error
	// DeleteExpired removes the sessions that expired before now.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// The session store's SQL, valid on SQLite and PostgreSQL alike. Lookup
// joins the token: a revoked token ends its sessions at their next
// request.
const (
	sqlSessionInsert = `INSERT INTO dashboard_sessions (id_hash, token_id, csrf_token, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`
	sqlSessionLookup = `SELECT s.token_id, t.name, t.role, s.csrf_token, s.created_at, s.expires_at
		FROM dashboard_sessions s JOIN api_tokens t ON t.id = s.token_id
		WHERE s.id_hash = $1 AND t.revoked_at IS NULL`
	sqlSessionDelete        = `DELETE FROM dashboard_sessions WHERE id_hash = $1`
	sqlSessionDeleteExpired = `DELETE FROM dashboard_sessions WHERE expires_at < $1`
)

// SQLSessions is the SessionStore on insure's database (the
// dashboard_sessions table).
type SQLSessions struct{ db database.DB }

var _ SessionStore = (*SQLSessions)(nil)

// NewSQLSessions returns the session store on db.
func NewSQLSessions(db database.DB) *SQLSessions { return &SQLSessions{db: db} }

// Create implements SessionStore.
func (s *SQLSessions) Create(ctx context.Context, sess Session) error {
	_, err := s.db.Exec(ctx, sqlSessionInsert, sess.IDHash, sess.Principal.TokenID, sess.CSRF,
		sess.CreatedAt.UTC(), sess.ExpiresAt.UTC())
	if err != nil {
		return fmt.Errorf("create dashboard session: %w", database.Unavailable(err))
	}
	return nil
}

// Lookup implements SessionStore.
func (s *SQLSessions) Lookup(ctx context.Context, idHash string) (Session, error) {
	sess := Session{IDHash: idHash}
	var role string
	err := s.db.QueryRow(ctx, sqlSessionLookup, idHash).Scan(&sess.Principal.TokenID, &sess.Principal.Name, &role,
		&sess.CSRF, &sess.CreatedAt, &sess.ExpiresAt)
	if errors.Is(err, database.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("look up dashboard session: %w", database.Unavailable(err))
	}
	sess.Principal.Role = auth.Role(role)
	sess.CreatedAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.ExpiresAt.UTC()
	return sess, nil
}

// Delete implements SessionStore.
func (s *SQLSessions) Delete(ctx context.Context, idHash string) error {
	if _, err := s.db.Exec(ctx, sqlSessionDelete, idHash); err != nil {
		return fmt.Errorf("delete dashboard session: %w", database.Unavailable(err))
	}
	return nil
}

// DeleteExpired implements SessionStore.
func (s *SQLSessions) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	n, err := s.db.Exec(ctx, sqlSessionDeleteExpired, now.UTC())
	if err != nil {
		return 0, fmt.Errorf("delete expired dashboard sessions: %w", database.Unavailable(err))
	}
	return n, nil
}

// newSecret returns 32 random bytes, base64url without padding: a session
// id, a CSRF token or a login nonce.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashSessionID is what the store keeps of a session id.
func hashSessionID(id string) string {
	sum := sha256.Sum256([]byte("insure-dashboard-session:" + id))
	return hex.EncodeToString(sum[:])
}

// wellFormedSecret reports whether s can be a value newSecret made, so
// that garbage cookies never reach the database.
func wellFormedSecret(s string) bool {
	if len(s) != 43 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
