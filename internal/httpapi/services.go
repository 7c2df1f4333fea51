package httpapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"insure/internal/app"
	"insure/internal/auth"
	"insure/internal/customer"
	"insure/internal/event"
	"insure/internal/policy"
	"insure/internal/projection"
	"insure/internal/queue"
	"insure/internal/quotation"
)

// The interfaces below are what the HTTP API needs from the application.
// Methods return *apperr.Error values (possibly wrapped) for anything a
// client can act on: apperr.NotFound for an id that names nothing,
// apperr.Invalid with Field set for a rule a command breaks, apperr.Conflict
// for a stale version or a duplicate, apperr.Unavailable when the store
// cannot be reached. Any other error is a bug and is answered with 500.

// Authenticator says whose a bearer token is.
type Authenticator interface {
	// Authenticate returns the principal of the raw token (the part of the
	// Authorization header after "Bearer "). It fails with
	// apperr.Unauthorized for a token that is unknown, revoked, expired or
	// malformed, and otherwise only when it cannot tell (apperr.Unavailable
	// while its store is down).
	Authenticate(ctx context.Context, raw string) (auth.Principal, error)
}

// Customers registers, reads and changes customers.
type Customers interface {
	Register(ctx context.Context, ec event.Context, cmd customer.Register) (projection.Customer, error)
	Get(ctx context.Context, id string) (projection.Customer, error)
	// GetAsOf returns the customer as they were at asOf (the current
	// customer for a time after their last change). It fails with
	// apperr.NotFound when the customer did not exist yet at asOf.
	GetAsOf(ctx context.Context, id string, asOf time.Time) (projection.Customer, error)
	// List returns the customers that match filter (see
	// projection.CustomerFilter) after the cursor, oldest first; next is ""
	// when there are no more. It fails with apperr.Invalid naming "phone"
	// for a phone number that is not one, "name" for a name with no
	// letters or digits (or too many words), "after" for a cursor it did
	// not give out.
	List(ctx context.Context, filter projection.CustomerFilter, after string, limit int) (items []projection.Customer, next string, err error)
	// Update changes the profile. With ifMatch set it fails with
	// apperr.Conflict unless the customer is at that version.
	Update(ctx context.Context, ec event.Context, id string, ifMatch *int64, cmd customer.UpdateProfile) (projection.Customer, error)
	VerifyEmail(ctx context.Context, ec event.Context, id, token string) (projection.Customer, error)
	// Events returns the customer's events, oldest first.
	Events(ctx context.Context, id string) ([]event.Envelope, error)
}

// Quotations accepts quotation requests and reads quotations.
type Quotations interface {
	Request(ctx context.Context, ec event.Context, cmd quotation.Request) (projection.Quotation, error)
	Get(ctx context.Context, id string) (projection.Quotation, error)
}

// Policies creates, renews, reads and scans policies.
type Policies interface {
	Create(ctx context.Context, ec event.Context, cmd policy.Create) (projection.Policy, error)
	Renew(ctx context.Context, ec event.Context, id string, cmd policy.Renew) (projection.Policy, error)
	Get(ctx context.Context, id string) (projection.Policy, error)
	// GetAsOf returns the policy as it was at asOf, its status and days to
	// expiry computed for asOf's day. It fails with apperr.NotFound when the
	// policy did not exist yet at asOf.
	GetAsOf(ctx context.Context, id string, asOf time.Time) (projection.Policy, error)
	// List returns policies after the cursor, oldest first, only those
	// ending within expiringWithinDays days when it is set; the returned
	// cursor is "" when there are no more.
	List(ctx context.Context, expiringWithinDays *int, after string, limit int) ([]projection.Policy, string, error)
	// ScanExpiring records expiry warnings as of asOf (today when nil).
	ScanExpiring(ctx context.Context, ec event.Context, asOf *time.Time) (app.ScanReport, error)
}

// Messages reads the communication log.
type Messages interface {
	// List returns messages after the cursor, oldest first, filtered by
	// customer and channel when those are not empty; the returned cursor is
	// "" when there are no more.
	List(ctx context.Context, customerID, channel, after string, limit int) ([]projection.Message, string, error)
}

// Documents opens generated documents.
type Documents interface {
	// Open returns the document's content, which the caller closes, and
	// its view.
	Open(ctx context.Context, id string) (io.ReadCloser, projection.Document, error)
}

// Events reads the event log.
type Events interface {
	// Read returns events after the position, in order, only those named
	// in types when it is not empty, and the position to read on from.
	Read(ctx context.Context, after int64, limit int, types []string) (events []event.Envelope, next int64, err error)
	// BatchSize is the most events one Read returns
	// (MAX_EVENTS_PER_BATCH). The event stream reads again at once after
	// a batch this full.
	BatchSize() int
}

// DeadLetters lists and retries listener jobs that gave up.
type DeadLetters interface {
	List(ctx context.Context, after int64, limit int) ([]queue.DeadLetter, error)
	// Retry runs a dead letter's job again. It may fail with
	// queue.ErrDeadLetterNotFound, queue.ErrAlreadyResolved or
	// queue.ErrJobBusy (or apperr values carrying the same meaning).
	Retry(ctx context.Context, id int64) (queue.DeadLetter, error)
	// Discard closes a dead letter for good: its job never runs again. It
	// may fail with queue.ErrDeadLetterNotFound or queue.ErrAlreadyResolved
	// (or apperr values carrying the same meaning).
	Discard(ctx context.Context, id int64) (queue.DeadLetter, error)
}

// Health reports whether the application can serve, for GET /readyz, and
// the state of its outbound providers.
type Health interface {
	// Ready runs the readiness checks. Its Status is ok, degraded or
	// failing; it reports trouble in the result rather than as an error.
	Ready(ctx context.Context) app.Readiness
	// Providers returns each outbound provider's driver and circuit-breaker
	// state.
	Providers(ctx context.Context) []app.ProviderStatus
}

// Webhooks takes in what providers report through their webhooks.
type Webhooks interface {
	// WhatsAppStatuses records delivery statuses reported by the WhatsApp
	// Cloud API, in the order received. statuses is never empty.
	WhatsAppStatuses(ctx context.Context, ec event.Context, statuses []app.WhatsAppStatus) error
}

// Access records who read personal, event or audit data, and lists those
// records for auditors.
type Access interface {
	// Record records one read that is about to be served: ec says who
	// (its Actor) and from where, role is the reader's role, action what
	// was read (one of the audit.Access* constants), and subjectType and
	// subjectID whose data it was (subjectID may be empty). It fails with
	// apperr.Unavailable while the store cannot be reached.
	Record(ctx context.Context, ec event.Context, role, action, subjectType, subjectID string) error
	// List returns recorded reads after the cursor, oldest first, only
	// those of subject (a subject id) when it is not empty; the returned
	// cursor is "" when there are no more. It fails with apperr.Invalid
	// (Field "after") for a cursor it did not give out.
	List(ctx context.Context, subject, after string, limit int) ([]projection.Access, string, error)
}

// Consistency lets reads wait for the read models (read your writes).
type Consistency interface {
	// WaitFor waits until every named projection has applied the event at
	// position (its checkpoint is at position or beyond), for as long as
	// ctx allows. It fails with apperr.Unavailable, naming the projection
	// and its position, when they do not get there in time, and with
	// ctx's error when ctx is cancelled.
	WaitFor(ctx context.Context, projections []string, position int64) error
}

// WebhookConfig holds the WhatsApp Cloud API webhook's secrets, from the Meta
// app's settings. Both must be set for the webhook to be served; while
// either is empty its routes answer 404. String and LogValue redact them.
type WebhookConfig struct {
	// VerifyToken is the token Meta echoes back when the webhook is
	// subscribed (GET hub.verify_token).
	VerifyToken string
	// AppSecret is the app secret Meta signs each delivery with
	// (X-Hub-Signature-256).
	AppSecret string
}

// String describes c without its secrets.
func (c WebhookConfig) String() string {
	return fmt.Sprintf("WebhookConfig{VerifyToken: %s, AppSecret: %s}", redacted(c.VerifyToken), redacted(c.AppSecret))
}

// GoString is String, so that %#v does not print the secrets either.
func (c WebhookConfig) GoString() string { return c.String() }

// LogValue logs c without its secrets.
func (c WebhookConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("verify_token", redacted(c.VerifyToken)),
		slog.String("app_secret", redacted(c.AppSecret)),
	)
}

func (c WebhookConfig) configured() bool { return c.VerifyToken != "" && c.AppSecret != "" }

func redacted(secret string) string {
	if secret == "" {
		return "unset"
	}
	return "[redacted]"
}

// Services are the application services behind the API, and the settings of
// the endpoints that need them. Every service must be set except these:
// without Auth, every route that takes a bearer token answers 401 (the API
// fails closed; only the public routes work); without Health, /readyz
// answers ok with no checks and the provider list is empty; without
// Webhooks or a complete WhatsAppWebhook, the WhatsApp webhook's routes
// answer 404; without Access, the reads it would record are served
// unrecorded (NewServer logs a warning) and GET /api/v1/audit/access
// answers 404; without Consistency, a read with min_position above 0
// answers 503. Limits, Stream and MinPositionWait may be left zero for
// their defaults.
type Services struct {
	// Auth authenticates the bearer token of every request to a route
	// that is not public (see access.go).
	Auth Authenticator

	Customers   Customers
	Erasure     Erasure
	Quotations  Quotations
	Policies    Policies
	Messages    Messages
	Documents   Documents
	Events      Events
	DeadLetters DeadLetters
	Health      Health
	Webhooks    Webhooks

	// Access records the reads of personal, event and audit data (see
	// recordAccess) and serves GET /api/v1/audit/access.
	Access Access

	// WhatsAppWebhook configures POST and GET /api/v1/webhooks/whatsapp.
	WhatsAppWebhook WebhookConfig

	// Limits are the callers' request budgets; the zero value takes the
	// defaults (see RateLimits).
	Limits RateLimits

	// Stream tunes GET /api/v1/events/stream; the zero value takes the
	// defaults (see StreamSettings).
	Stream StreamSettings

	// Consistency serves ?min_position= on the reads of projections (see
	// readModelTable).
	Consistency Consistency
	// MinPositionWait is the longest a read waits for min_position
	// before it is answered with 503 (default 5s).
	MinPositionWait time.Duration

	// RequestTimeout is the longest a request may take: its context's
	// deadline, authentication included (GET /api/v1/events/stream,
	// which stays open, excepted). A request that outlasts it, say
	// against a database that stopped answering, is answered with 503.
	// Zero: no deadline.
	RequestTimeout time.Duration

	// Observer, when set, watches every request (metrics, traces).
	Observer RequestObserver

	// Idempotency keeps the Idempotency-Key of POST requests (see
	// idempotent). Without it a POST that sends the header is answered
	// with 503.
	Idempotency Idempotency
}

// RequestObserver watches requests; the telemetry package implements it.
type RequestObserver interface {
	// StartRequest is called as a request arrives, before it is routed.
	// The context it returns (which may carry a span, continuing the
	// caller's trace) is the one the request is served with; end is
	// called once the handler is done, with the method, the route pattern
	// without its method (such as "/api/v1/customers/{id}"; "unmatched"
	// when no route matched) and the response status.
	StartRequest(ctx context.Context, r *http.Request) (context.Context, func(method, route string, status int))
}
