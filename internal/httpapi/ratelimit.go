package httpapi

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/httprate"

	"insure/internal/apperr"
	"insure/internal/auth"
)

// The defaults of RateLimits, for the fields left zero.
const (
	DefaultPerToken        = 600
	DefaultPerIP           = 120
	DefaultFailedAuthPerIP = 10
	DefaultRateWindow      = time.Minute
)

// headerRetryAfter says on a 429 how many seconds to wait (RFC 9110
// section 10.2.3).
const headerRetryAfter = "Retry-After"

// RateLimits are the request budgets of the API's callers, each counted
// over Window. A request over a budget is answered with 429 rate_limited
// and a Retry-After header, before its handler runs. A field left zero
// takes its default (the Default* constants: 600 requests a minute per
// token, 120 a minute per IP on the public routes, 10 failed
// authentications a minute per IP); a negative one makes NewServer fail.
//
// The client IP is the host of the connection's remote address. Forwarding
// headers (X-Forwarded-For, Forwarded, X-Real-IP) are not trusted, so
// behind a reverse proxy all clients share the proxy's per-IP budgets. An
// IPv6 client is counted by its /64, which one client usually controls; a
// remote address that is not an IP (a Unix socket) is one shared client.
// Requests that match no route (404, 405) are not counted. The counts are
// kept in this process's memory: each replica counts its own, and a
// restart forgets them.
type RateLimits struct {
	// PerToken is how many requests one bearer token, by its id, may make
	// per Window to the routes that take a token, whatever their answer
	// (403s included). Default 600.
	PerToken int
	// PerIP is how many requests one client IP may make per Window to the
	// public routes: the health checks and the webhooks. Default 120.
	PerIP int
	// FailedAuthPerIP is how many requests with a missing or rejected
	// token (answered with 401) one client IP may make per Window. Past
	// it, that IP's requests to every route that takes a token are
	// answered with 429 before their token is checked, a good token's
	// too. Requests answered with 401 because the server has no
	// authenticator are not counted: no token can succeed there, so there
	// is nothing to guess. A failure is counted once its token has been
	// rejected, so requests in flight together may each still have their
	// token checked. Default 10.
	FailedAuthPerIP int
	// Window is what the budgets are counted over. It slides: a request
	// counts in full during the window it was made in, then less and less
	// through the next one (httprate's sliding-window counter). Default
	// one minute.
	Window time.Duration
}

// withDefaults returns l with its zero fields set to their defaults.
func (l RateLimits) withDefaults() RateLimits {
	if l.PerToken == 0 {
		l.PerToken = DefaultPerToken
	}
	if l.PerIP == 0 {
		l.PerIP = DefaultPerIP
	}
	if l.FailedAuthPerIP == 0 {
		l.FailedAuthPerIP = DefaultFailedAuthPerIP
	}
	if l.Window == 0 {
		l.Window = DefaultRateWindow
	}
	return l
}

// validate says what is wrong with l: a negative field.
func (l RateLimits) validate() error {
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"PerToken", int64(l.PerToken)},
		{"PerIP", int64(l.PerIP)},
		{"FailedAuthPerIP", int64(l.FailedAuthPerIP)},
		{"Window", int64(l.Window)},
	} {
		if f.value < 0 {
			return fmt.Errorf("rate limits: %s is negative (%d); leave it zero for its default or make it positive", f.name, f.value)
		}
	}
	return nil
}

// limiter counts requests against the budgets of RateLimits, keyed by
// token id or client IP, in httprate's in-memory counters.
type limiter struct {
	limits     RateLimits // with its defaults
	perToken   *httprate.RateLimiter
	perIP      *httprate.RateLimiter
	failedAuth *httprate.RateLimiter
}

// newLimiter returns a limiter for l, whose fields must be set
// (withDefaults).
func newLimiter(l RateLimits) *limiter {
	opts := []httprate.Option{
		// The API sends Retry-After itself, and only on a 429.
		httprate.WithResponseHeaders(httprate.ResponseHeaders{}),
		// The in-memory counter never fails; should it, OnLimit reports
		// the request as limited and the caller answers it.
		httprate.WithErrorHandler(func(http.ResponseWriter, *http.Request, error) {}),
	}
	return &limiter{
		limits:     l,
		perToken:   httprate.NewRateLimiter(l.PerToken, l.Window, opts...),
		perIP:      httprate.NewRateLimiter(l.PerIP, l.Window, opts...),
		failedAuth: httprate.NewRateLimiter(l.FailedAuthPerIP, l.Window, opts...),
	}
}

// take counts one request against key's budget in rl. It reports false,
// without counting it, when the budget is used up.
func take(rl *httprate.RateLimiter, w http.ResponseWriter, r *http.Request, key string) bool {
	return !rl.OnLimit(w, r, key)
}

// failedAuthExhausted reports whether the client IP key has used up its
// budget of failed authentications. It counts nothing.
func (l *limiter) failedAuthExhausted(key string) bool {
	_, rate, err := l.failedAuth.Status(key)
	return err == nil && int(math.Round(rate)) >= l.limits.FailedAuthPerIP
}

// ipKey is the rate-limit key of r's client: its IP (see clientIP), an
// IPv6 one reduced to its /64.
func ipKey(r *http.Request) string {
	return httprate.CanonicalizeIP(clientIP(r))
}

// tokenKey is the rate-limit key of p's token: its id, or its name for an
// authenticator that gives no id.
func tokenKey(p auth.Principal) string {
	if p.TokenID != "" {
		return "id:" + p.TokenID
	}
	return "name:" + p.Name
}

// limitedByIP wraps the handler of a public route: each client IP may make
// RateLimits.PerIP requests per window to the public routes.
func (s *Server) limitedByIP(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !take(s.limiter.perIP, w, r, ipKey(r)) {
			return s.tooManyRequests(w, r, "this address has made more than %d requests to the public routes in %s",
				s.limiter.limits.PerIP, describeWindow(s.limiter.limits.Window))
		}
		return h(w, r)
	}
}

// tooManyRequests logs that r was refused for being over a budget, sets
// Retry-After and returns the 429 error to answer r with. The message says
// which budget (format and args) and when to try again.
func (s *Server) tooManyRequests(w http.ResponseWriter, r *http.Request, format string, args ...any) error {
	wait := retryAfter(s.limiter.limits.Window)
	w.Header().Set(headerRetryAfter, strconv.Itoa(wait))
	msg := fmt.Sprintf(format, args...)
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("route", r.Pattern),
		slog.String("request_id", requestIDFrom(r.Context())),
		slog.String("ip", clientIP(r)),
		slog.String("reason", msg),
	}
	s.logger.LogAttrs(r.Context(), slog.LevelWarn, "rate limited", append(attrs, callerFrom(r.Context()).attrs()...)...)
	return apperr.New(apperr.TooManyRequests, "%s; wait %d seconds (Retry-After) before trying again, and send fewer requests", msg, wait)
}

// retryAfter is how many seconds a caller over a budget is told to wait: a
// window, by when its count has mostly slid out of it (at least a second).
func retryAfter(window time.Duration) int {
	return max(1, int(math.Ceil(window.Seconds())))
}

// describeWindow says how long window is, for a message: "1 minute",
// "30 seconds".
func describeWindow(window time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case window%time.Minute == 0:
		return plural(int64(window/time.Minute), "minute")
	case window%time.Second == 0:
		return plural(int64(window/time.Second), "second")
	default:
		return window.String()
	}
}
