package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"insure/internal/apperr"
	"insure/internal/database"
	"insure/internal/keyring"
	"insure/internal/recorder"
)

// Defaults of Config.
const (
	// DefaultTTL is how long a key is kept after its first use.
	DefaultTTL = 24 * time.Hour
	// DefaultLease is how long an attempt owns its key before a repeat may
	// take it over: the API's longest request (its write timeout).
	DefaultLease = 2 * time.Minute
)

// MaxKeyLen is the longest key, in bytes.
const MaxKeyLen = 255

// sealField is the field a sealed response body is sealed as.
const sealField = "idempotency_keys.response_body"

// deleteBatch is how many expired rows one statement of DeleteExpired
// deletes, so that it never holds the SQLite writer for long.
const deleteBatch = 1000

// StoredHeaders are the response headers a stored response keeps; the
// others (the request id, the security headers) belong to each response.
var StoredHeaders = []string{"Content-Type", "Location", "ETag", "X-Event-Position", "Content-Disposition"}

// Errors returned by Begin and Claim.Committing.
var (
	// ErrMismatch: the key was first used for another request (another
	// method, path or body).
	ErrMismatch = errors.New("the idempotency key was used for a different request")
	// ErrInProgress: the first request with the key is still running.
	ErrInProgress = errors.New("a request with this idempotency key is in progress")
	// ErrUnanswered: the first request with the key committed its
	// changes but its response was lost (its process died before storing
	// it). See *UnansweredError for what it changed.
	ErrUnanswered = errors.New("the request with this idempotency key was carried out but its response was lost")
	// ErrErased: the stored response held the personal data of a
	// customer whose data has since been erased.
	ErrErased = errors.New("the stored response held personal data that has been erased")
	// ErrTakenOver: the attempt's lease ran out and a repeat took its key
	// over; the attempt must not commit. Committing returns it wrapped in
	// an apperr.Conflict.
	ErrTakenOver = errors.New("the idempotency key was taken over by a retry after this attempt's lease ran out")
)

// UnansweredError is ErrUnanswered with the resource the request changed
// first (both empty when unknown).
type UnansweredError struct {
	ResourceType string
	ResourceID   string
}

func (e *UnansweredError) Error() string {
	if e.ResourceID == "" {
		return ErrUnanswered.Error()
	}
	return fmt.Sprintf("%s (it changed %s %s)", ErrUnanswered.Error(), e.ResourceType, e.ResourceID)
}

// Is makes errors.Is(err, ErrUnanswered) true.
func (e *UnansweredError) Is(target error) bool { return target == ErrUnanswered }

// Sealer seals values under a subject's data key (keyring.Keyring). Open
// fails with keyring.ErrErased for an erased subject.
type Sealer interface {
	Seal(ctx context.Context, q database.Querier, subjectID, field, plaintext string) (string, error)
	Open(ctx context.Context, q database.Querier, subjectID, field, sealed string) (string, error)
}

// Config configures a Store.
type Config struct {
	// TTL is how long a key lasts after its first use (DefaultTTL when
	// zero).
	TTL time.Duration
	// Lease is how long an attempt owns its key before a repeat may take
	// it over (DefaultLease when zero).
	Lease time.Duration
	// Sealer seals responses that carry personal data (Response.Subject).
	// Without one such responses are not stored: their repeats fail with
	// ErrUnanswered when the request committed, and run again otherwise.
	Sealer Sealer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Store keeps idempotency keys in the database. It is safe for concurrent
// use, also by several processes on one database.
type Store struct {
	db  database.DB
	cfg Config
}

// New returns a store on db.
func New(db database.DB, cfg Config) (*Store, error) {
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Lease == 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.TTL < 0 || cfg.Lease < 0 {
		return nil, fmt.Errorf("idempotency: TTL (%s) and Lease (%s) must not be negative", cfg.TTL, cfg.Lease)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{db: db, cfg: cfg}, nil
}

// TTL is how long a key lasts after its first use.
func (s *Store) TTL() time.Duration { return s.cfg.TTL }

// Request identifies a request that carries an idempotency key.
type Request struct {
	// Principal is who sends it (the API token's id): keys of different
	// principals never meet.
	Principal string
	// Key is the Idempotency-Key, 1 to MaxKeyLen printable ASCII bytes
	// (ValidKey).
	Key string
	// Method and Route describe the request, for the record ("POST",
	// "/api/v1/customers").
	Method, Route string
	// Hash is the request's fingerprint (Hash).
	Hash string
}

// Response is a stored response.
type Response struct {
	Status int
	// Header holds the StoredHeaders the response had.
	Header http.Header
	Body   []byte
	// Subject, when not empty, is the customer whose personal data Body
	// holds: the body is stored sealed under their data key.
	Subject string
}

// ValidKey reports whether key is a usable idempotency key: 1 to
// MaxKeyLen bytes, each a printable ASCII character (space to tilde).
func ValidKey(key string) bool {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// Hash returns the fingerprint of a request: the hex SHA-256 of its
// method, path, raw query and body, each length-prefixed.
func Hash(method, path, rawQuery string, body []byte) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(method), []byte(path), []byte(rawQuery), body} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// The statements, in both dialects' shared syntax.
const (
	qClaim = `INSERT INTO idempotency_keys (principal, idem_key, method, route, request_hash, owner, claimed_at, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) ON CONFLICT (principal, idem_key) DO NOTHING`
	qLookup = `SELECT request_hash, owner, claimed_at, COALESCE(committed_at, 0), resource_type, resource_id,
COALESCE(completed_at, 0), response_status, response_headers, response_body, response_subject, expires_at
FROM idempotency_keys WHERE principal = $1 AND idem_key = $2`
	qDeleteExpiredOne = `DELETE FROM idempotency_keys WHERE principal = $1 AND idem_key = $2 AND owner = $3 AND expires_at <= $4`
	qTakeOver         = `UPDATE idempotency_keys SET owner = $4, claimed_at = $5
WHERE principal = $1 AND idem_key = $2 AND owner = $3 AND committed_at IS NULL AND completed_at IS NULL`
	qCommit = `UPDATE idempotency_keys SET committed_at = COALESCE(committed_at, $4),
resource_type = CASE WHEN resource_type = '' THEN $5 ELSE resource_type END,
resource_id = CASE WHEN resource_id = '' THEN $6 ELSE resource_id END
WHERE principal = $1 AND idem_key = $2 AND owner = $3`
	qComplete = `UPDATE idempotency_keys SET completed_at = $4, response_status = $5, response_headers = $6, response_body = $7, response_subject = $8
WHERE principal = $1 AND idem_key = $2 AND owner = $3`
	qRelease       = `DELETE FROM idempotency_keys WHERE principal = $1 AND idem_key = $2 AND owner = $3 AND committed_at IS NULL`
	qDeleteExpired = `DELETE FROM idempotency_keys WHERE (principal, idem_key) IN
(SELECT principal, idem_key FROM idempotency_keys WHERE expires_at <= $1
AND (completed_at IS NOT NULL OR committed_at IS NOT NULL OR claimed_at <= $2) LIMIT $3)`
)

// row is a looked-up key.
type row struct {
	hash, owner              string
	claimedAt, committedAt   int64
	resourceType, resourceID string
	completedAt              int64
	status                   int
	headers                  string
	body                     []byte
	subject                  string
	expiresAt                int64
}

// Begin starts a request with an idempotency key. It returns either a
// claim, when the request is to run (call Finish once it is answered, and
// pass the claim to the recorder as its commit hook), or the stored
// response of the first request with the key, to answer a repeat with.
//
// Errors: ErrMismatch when the key was used for another request;
// ErrInProgress while the first request runs (within its lease);
// *UnansweredError (ErrUnanswered) when it committed but its response was
// lost; ErrErased when its stored response held personal data since
// erased; database errors (database.ErrUnavailable) otherwise.
func (s *Store) Begin(ctx context.Context, req Request) (*Claim, *Response, error) {
	owner, err := newOwner()
	if err != nil {
		return nil, nil, err
	}
	// Each round either claims, answers or sees a row change under it
	// (deleted, taken over); three rounds are plenty.
	for range 3 {
		now := s.cfg.Now()
		n, err := s.db.Exec(ctx, qClaim, req.Principal, req.Key, req.Method, req.Route, req.Hash, owner,
			now.UnixMilli(), now.Add(s.cfg.TTL).UnixMilli())
		if err != nil {
			return nil, nil, fmt.Errorf("idempotency: claim key: %w", err)
		}
		if n == 1 {
			return &Claim{store: s, req: req, owner: owner}, nil, nil
		}
		var r row
		err = s.db.QueryRow(ctx, qLookup, req.Principal, req.Key).Scan(&r.hash, &r.owner, &r.claimedAt, &r.committedAt,
			&r.resourceType, &r.resourceID, &r.completedAt, &r.status, &r.headers, &r.body, &r.subject, &r.expiresAt)
		if errors.Is(err, database.ErrNoRows) {
			continue // deleted since the insert: claim again
		}
		if err != nil {
			return nil, nil, fmt.Errorf("idempotency: look up key: %w", err)
		}
		inLease := r.completedAt == 0 && r.committedAt == 0 && now.Before(time.UnixMilli(r.claimedAt).Add(s.cfg.Lease))
		if r.expiresAt <= now.UnixMilli() && !inLease {
			// Expired: as if it had never been used.
			if _, err := s.db.Exec(ctx, qDeleteExpiredOne, req.Principal, req.Key, r.owner, now.UnixMilli()); err != nil {
				return nil, nil, fmt.Errorf("idempotency: delete expired key: %w", err)
			}
			continue
		}
		switch {
		case r.hash != req.Hash:
			return nil, nil, ErrMismatch
		case r.completedAt != 0:
			resp, err := s.stored(ctx, r)
			return nil, resp, err
		case r.committedAt != 0:
			return nil, nil, &UnansweredError{ResourceType: r.resourceType, ResourceID: r.resourceID}
		case inLease:
			return nil, nil, ErrInProgress
		}
		// The attempt that claimed it is gone (its lease ran out) and
		// committed nothing: take it over and run the request again.
		n, err = s.db.Exec(ctx, qTakeOver, req.Principal, req.Key, r.owner, owner, now.UnixMilli())
		if err != nil {
			return nil, nil, fmt.Errorf("idempotency: take over key: %w", err)
		}
		if n == 1 {
			return &Claim{store: s, req: req, owner: owner}, nil, nil
		}
	}
	return nil, nil, ErrInProgress
}

// stored returns the response r holds, opened when it is sealed.
func (s *Store) stored(ctx context.Context, r row) (*Response, error) {
	resp := &Response{Status: r.status, Header: http.Header{}, Body: r.body, Subject: r.subject}
	if err := json.Unmarshal([]byte(r.headers), &resp.Header); err != nil {
		return nil, fmt.Errorf("idempotency: stored headers: %w", err)
	}
	if r.subject == "" {
		return resp, nil
	}
	if s.cfg.Sealer == nil {
		return nil, errors.New("idempotency: the stored response is sealed but the store has no sealer")
	}
	body, err := s.cfg.Sealer.Open(ctx, s.db, r.subject, sealField, string(r.body))
	if errors.Is(err, keyring.ErrErased) {
		return nil, ErrErased
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency: open stored response: %w", err)
	}
	resp.Body = []byte(body)
	return resp, nil
}

// DeleteExpired deletes every key that expired (TTL after its first use),
// except those of attempts still running within their lease, and returns
// how many it deleted.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	var total int64
	for {
		now := s.cfg.Now()
		n, err := s.db.Exec(ctx, qDeleteExpired, now.UnixMilli(), now.Add(-s.cfg.Lease).UnixMilli(), deleteBatch)
		if err != nil {
			return total, fmt.Errorf("idempotency: delete expired keys: %w", err)
		}
		total += n
		if n < deleteBatch {
			return total, nil
		}
	}
}

// Claim is an attempt's hold on a key, from Begin to Finish. It is the
// recorder's commit hook for the attempt (recorder.WithCommitHook).
type Claim struct {
	store *Store
	req   Request
	owner string
}

var _ recorder.CommitHook = (*Claim)(nil)

// Request is the request the claim is for.
func (c *Claim) Request() Request { return c.req }

// Committing marks the key committed inside the transaction that commits
// the request's events, with the first aggregate recorded as its
// resource. It fails with ErrTakenOver (rolling that transaction back)
// when the key is no longer the attempt's own.
func (c *Claim) Committing(ctx context.Context, tx database.Tx, recorded []recorder.Recorded) error {
	var typ, id string
	if len(recorded) > 0 {
		typ, id = recorded[0].AggregateType, recorded[0].AggregateID
	}
	n, err := tx.Exec(ctx, qCommit, c.req.Principal, c.req.Key, c.owner, c.store.cfg.Now().UnixMilli(), typ, id)
	if err != nil {
		return fmt.Errorf("idempotency: mark key committed: %w", err)
	}
	if n != 1 {
		return apperr.Wrap(apperr.Conflict, ErrTakenOver, "this request ran past its idempotency key's lease and a repeat took the key over; nothing of it was saved: repeat it with the same key to get the repeat's answer")
	}
	return nil
}

// Finish ends the attempt with its response. With keep, or when the
// request committed anything, the response is stored for repeats;
// otherwise the key is released (deleted), so that a retry runs the
// request again. Nothing happens when the key is no longer the attempt's
// own.
func (c *Claim) Finish(ctx context.Context, resp Response, keep bool) error {
	s := c.store
	if !keep {
		n, err := s.db.Exec(ctx, qRelease, c.req.Principal, c.req.Key, c.owner)
		if err != nil {
			return fmt.Errorf("idempotency: release key: %w", err)
		}
		if n == 1 {
			return nil
		}
		// Committed (or no longer ours, which the update below sees):
		// the response is all a repeat can get.
	}
	header := http.Header{}
	for _, h := range StoredHeaders {
		if v := resp.Header.Values(h); len(v) > 0 {
			header[http.CanonicalHeaderKey(h)] = v
		}
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("idempotency: encode headers: %w", err)
	}
	body := resp.Body
	if resp.Subject != "" && len(body) > 0 {
		if s.cfg.Sealer == nil {
			return errors.New("idempotency: the response holds personal data but the store has no sealer; it is not stored")
		}
		sealed, err := s.cfg.Sealer.Seal(ctx, s.db, resp.Subject, sealField, string(body))
		if err != nil {
			return fmt.Errorf("idempotency: seal response: %w", err)
		}
		body = []byte(sealed)
	}
	subject := resp.Subject
	if len(resp.Body) == 0 {
		subject = ""
	}
	if body == nil {
		body = []byte{}
	}
	if _, err := s.db.Exec(ctx, qComplete, c.req.Principal, c.req.Key, c.owner, s.cfg.Now().UnixMilli(),
		resp.Status, string(hj), body, subject); err != nil {
		return fmt.Errorf("idempotency: store response: %w", err)
	}
	return nil
}

// newOwner returns a random id for an attempt.
func newOwner() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("idempotency: owner id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
