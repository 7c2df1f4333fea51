// Package httpapi is insure's HTTP API: JSON over the standard library's
// ServeMux, described by api/openapi.yaml.
//
// The package owns the wire format. Handlers decode bodies strictly into
// their own request types (unknown fields, trailing data and wrong JSON types
// are rejected with 400), convert them to the domain's commands, call the
// consumer-side service interfaces declared in services.go, and encode the
// projection views they return. Errors travel back as *apperr.Error and are
// mapped to a status and a JSON body in exactly one place, writeError in
// error.go.
//
// Webhooks are the exception to strict decoding: their bodies are the
// provider's format, decoded leniently after the provider's signature over
// the raw body has been checked (webhook.go). /readyz and the provider list
// report what the Health service says (health.go).
//
// Every route but the health checks and the webhooks takes a bearer token
// (auth.go): Services.Auth authenticates it, and the access table in
// access.go, the one place that says who may do what, decides whether the
// token's role may call the route. No token, or one the authenticator
// rejects, is answered with 401 and a WWW-Authenticate challenge; a role
// not allowed, with 403. Without an authenticator every protected route
// answers 401. NewServer fails for a route missing from the access table.
// The actor of the events a request causes is its token's ("token:<name>"),
// never anything in the body.
//
// Every request gets a correlation id (X-Correlation-ID or X-Request-ID when
// that is a UUID, otherwise a new one), echoed in X-Request-ID and passed to
// the services in an event.Context, and one log line with its method, route
// pattern, status, duration and, once authenticated, the token's name and
// role (never the token). Panics in handlers become 500 responses.
//
// Every response carries the security headers (headers.go): nosniff, a
// content security policy that allows nothing, no framing, no referrer, no
// caching, and Strict-Transport-Security when the request came over TLS.
//
// Requests are rate limited (ratelimit.go, Services.Limits): per token on
// the routes that take one, per client IP on the public routes, and per
// client IP for requests answered with 401, whose small budget, once used
// up, gets the IP 429 before its token is checked. A request over a budget
// is answered with 429 rate_limited and Retry-After. The client IP is the
// connection's peer: forwarding headers are not trusted.
//
// Reads can see the client's own writes (consistency.go): a write that
// committed events answers with X-Event-Position, the position of its last
// event, and the reads of projections (the read-model table in access.go)
// take ?min_position=N, waiting through Services.Consistency until those
// projections have applied N, or answering 503 with Retry-After.
//
// Every POST that takes a token accepts an Idempotency-Key (idempotency.go,
// Services.Idempotency): a repeat of the same request under the same key is
// answered with the first response (Idempotent-Replayed: true) and runs
// nothing; the key is marked used in the command's own transaction through
// the recorder's commit hook. The WhatsApp webhook is left out.
//
// The contracttest subpackage checks every request and response against
// api/openapi.yaml; the tests here run every endpoint through it.
package httpapi
