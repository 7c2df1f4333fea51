package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"insure/internal/apperr"
	"insure/internal/database"
)

// The SQL the store runs, the same on SQLite and PostgreSQL.
const (
	tokenColumns = `id, name, role, created_at, last_used_at, revoked_at`

	sqlInsert = `INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)`
	sqlList   = `SELECT ` + tokenColumns + ` FROM api_tokens ORDER BY created_at DESC, id DESC`
	sqlByHash = `SELECT ` + tokenColumns + ` FROM api_tokens WHERE token_hash = $1`
	// sqlAuth reads what Authenticate needs, hash included, by hash.
	sqlAuth = `SELECT id, name, role, token_hash, last_used_at, revoked_at FROM api_tokens WHERE token_hash = $1`
	// sqlFind picks the token an operator means by "id or name": the one
	// with that id, else the valid one with that name, else the latest
	// revoked one with that name.
	sqlFind = `SELECT ` + tokenColumns + ` FROM api_tokens WHERE id = $1 OR name = $1
		ORDER BY CASE WHEN id = $1 THEN 0 WHEN revoked_at IS NULL THEN 1 ELSE 2 END, created_at DESC, id DESC LIMIT 1`
	sqlByID         = `SELECT ` + tokenColumns + ` FROM api_tokens WHERE id = $1`
	sqlRevoke       = `UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`
	sqlRevokeByName = `UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL`
	sqlTouch        = `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`
)

// Store keeps API tokens in the api_tokens table.
type Store struct {
	db  database.DB
	now func() time.Time
}

// NewStore returns a store on db. now is the clock (time.Now when nil).
func NewStore(db database.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}
}

// clock returns the time to store: UTC, to the microsecond that both
// databases keep, so a Token returned by a write equals the one read back.
func (s *Store) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// Create issues a new token named name with role role and returns the raw
// token, which is not stored and cannot be shown again, with the Token.
//
// Errors: apperr Invalid (field "name" or "role") for a bad name or role;
// apperr Conflict (field "name") when a token that is not revoked already
// has the name.
func (s *Store) Create(ctx context.Context, name string, role Role) (raw string, t Token, err error) {
	if err := ValidateName(name); err != nil {
		return "", Token{}, err
	}
	if err := validateRole(role); err != nil {
		return "", Token{}, err
	}
	raw = newRaw()
	t = Token{ID: newID(), Name: name, Role: role, CreatedAt: s.clock()}
	if err := insert(ctx, s.db, t, hashToken(raw)); err != nil {
		if nameTaken(err) {
			return "", Token{}, &apperr.Error{Code: apperr.Conflict, Field: "name",
				Message: fmt.Sprintf("a token named %q already exists; revoke it first or choose another name", name)}
		}
		return "", Token{}, fmt.Errorf("create token %q: %w", name, err)
	}
	return raw, t, nil
}

// List returns every token, revoked ones included, newest first.
func (s *Store) List(ctx context.Context) ([]Token, error) {
	rows, err := s.db.Query(ctx, sqlList)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// Revoke revokes the token with id idOrName or, failing that, the valid
// token named idOrName, and returns it. Revoking a revoked token changes
// nothing and is not an error (a name that only revoked tokens carry names
// the latest of them).
//
// Errors: ErrNotFound (apperr NotFound) when no token has that id or name.
func (s *Store) Revoke(ctx context.Context, idOrName string) (Token, error) {
	var t Token
	err := s.db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRow(ctx, sqlFind, idOrName))
		if errors.Is(err, database.ErrNoRows) {
			return apperr.Wrap(apperr.NotFound, ErrNotFound, "no token has the id or name %q", idOrName)
		}
		if err != nil {
			return fmt.Errorf("find token %q: %w", idOrName, err)
		}
		if t.RevokedAt != nil {
			return nil
		}
		now := s.clock()
		n, err := tx.Exec(ctx, sqlRevoke, t.ID, now)
		if err != nil {
			return fmt.Errorf("revoke token %s: %w", t.ID, err)
		}
		if n == 0 { // revoked concurrently: report that revocation
			t, err = scanToken(tx.QueryRow(ctx, sqlByID, t.ID))
			return err
		}
		t.RevokedAt = &now
		return nil
	})
	if err != nil {
		return Token{}, err
	}
	return t, nil
}

// Authenticate returns the Principal that raw, a token presented by a
// request, stands for.
//
// It hashes raw and looks the hash up, so the time it takes does not
// depend on how much of a stored token raw matches; the hash it finds is
// compared again in constant time. It records when the token was last used,
// at most once a minute per token so that requests do not each cost a
// write; that record is best effort and never fails the request.
//
// Errors: ErrUnauthenticated (apperr Unauthorized) for a missing,
// malformed, unknown or revoked token, without saying which; other errors
// mean the database could not be read.
func (s *Store) Authenticate(ctx context.Context, raw string) (Principal, error) {
	if !wellFormed(raw) {
		return Principal{}, unauthenticated()
	}
	hash := hashToken(raw)
	var (
		p                 Principal
		role, stored      string
		lastUsed, revoked *time.Time
	)
	err := s.db.QueryRow(ctx, sqlAuth, hash).Scan(&p.TokenID, &p.Name, &role, &stored, &lastUsed, &revoked)
	if errors.Is(err, database.ErrNoRows) {
		return Principal{}, unauthenticated()
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(stored), []byte(hash)) != 1 || revoked != nil {
		return Principal{}, unauthenticated()
	}
	p.Role = Role(role)
	if now := s.clock(); lastUsed == nil || now.Sub(*lastUsed) >= lastUsedResolution {
		_, _ = s.db.Exec(ctx, sqlTouch, p.TokenID, now) // best effort; see above
	}
	return p, nil
}

// Seed makes raw, a token an operator chose (INSURE_ADMIN_TOKEN), valid
// under name with role, and returns its Token. It is meant to run at every
// start:
//
//   - if raw's hash is already stored, Seed changes nothing and returns
//     that token as it is (under its stored name and role; still revoked,
//     if it was revoked: a revoked token stays revoked, and the caller
//     should warn when RevokedAt is set);
//   - otherwise it revokes the valid token named name, if there is one
//     (the variable was changed, or an operator created a token with that
//     name), and stores raw under name, in one transaction.
//
// Processes seeding the same token at once all get the one stored.
//
// Errors: apperr Invalid (field "token", "name" or "role") when raw is
// shorter than MinSeedLength, longer than MaxLength or holds spaces or
// other characters that are not printable ASCII, or the name or role is bad.
func (s *Store) Seed(ctx context.Context, name string, role Role, raw string) (Token, error) {
	if err := ValidateName(name); err != nil {
		return Token{}, err
	}
	if err := validateRole(role); err != nil {
		return Token{}, err
	}
	if err := validateSeed(raw); err != nil {
		return Token{}, err
	}
	hash := hashToken(raw)
	var (
		t   Token
		err error
	)
	// A unique violation means another process stored the token (or a
	// token with this name) between our read and our insert: look again.
	for range 3 {
		t, err = s.seedOnce(ctx, name, role, hash)
		if !database.IsUniqueViolation(err) {
			break
		}
	}
	if err != nil {
		return Token{}, fmt.Errorf("seed token %q: %w", name, err)
	}
	return t, nil
}

func (s *Store) seedOnce(ctx context.Context, name string, role Role, hash string) (Token, error) {
	var t Token
	err := s.db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRow(ctx, sqlByHash, hash))
		if err == nil {
			return nil
		}
		if !errors.Is(err, database.ErrNoRows) {
			return err
		}
		now := s.clock()
		if _, err := tx.Exec(ctx, sqlRevokeByName, name, now); err != nil {
			return fmt.Errorf("revoke the previous token: %w", err)
		}
		t = Token{ID: newID(), Name: name, Role: role, CreatedAt: now}
		return insert(ctx, tx, t, hash)
	})
	return t, err
}

func insert(ctx context.Context, q database.Querier, t Token, hash string) error {
	_, err := q.Exec(ctx, sqlInsert, t.ID, t.Name, string(t.Role), hash, t.CreatedAt)
	return err
}

// nameTaken reports whether err is the violation of "one valid token per
// name" (rather than of the hash's uniqueness, which 256 random bits make
// as good as impossible).
func nameTaken(err error) bool {
	c, ok := database.UniqueConstraint(err)
	return ok && !strings.Contains(c, "token_hash")
}

func unauthenticated() error {
	return apperr.Wrap(apperr.Unauthorized, ErrUnauthenticated, "a valid API token is required (the one given is missing, malformed, unknown or revoked)")
}

func scanToken(row database.Row) (Token, error) {
	var (
		t    Token
		role string
	)
	if err := row.Scan(&t.ID, &t.Name, &role, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt); err != nil {
		return Token{}, err
	}
	t.Role = Role(role)
	t.CreatedAt = t.CreatedAt.UTC()
	t.LastUsedAt = utc(t.LastUsedAt)
	t.RevokedAt = utc(t.RevokedAt)
	return t, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
