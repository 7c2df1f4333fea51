package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"insure/internal/apperr"
	"insure/internal/auth"
)

// Authentication on the wire: RFC 6750 bearer tokens.
const (
	headerAuthorization   = "Authorization"
	headerWWWAuthenticate = "WWW-Authenticate"
	schemeBearer          = "Bearer"
	// challengeMissing is the WWW-Authenticate of a 401 for a missing or
	// unusable Authorization header; challengeInvalid, of one for a token
	// the authenticator rejected (RFC 6750 section 3.1).
	challengeMissing = `Bearer realm="insure"`
	challengeInvalid = `Bearer realm="insure", error="invalid_token"`
)

// actorAnonymous is the actor of requests to public routes, which carry no
// token.
const actorAnonymous = "anonymous"

// authorized wraps the handler of a protected route: the request must carry
// a bearer token that s.svc.Auth accepts, for a principal whose role the
// route's rule allows. The handler sees the principal in the request's
// context (actorOf reads it).
//
// A missing, malformed or rejected token is answered with 401 and a
// WWW-Authenticate challenge; a role the rule does not allow, with 403. An
// authenticator that fails otherwise (its store is down) is answered as
// its error says, such as 503.
//
// The rate limits (RateLimits) come first: a client IP that has used up
// its budget of failed authentications is answered with 429 before its
// token is checked, and each 401 for a missing or rejected token counts
// against it. A token that has used up its own budget is answered with
// 429, whatever its role.
func (s *Server) authorized(pattern string, rule rule, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		lim := s.limiter
		ip := ipKey(r)
		if lim.failedAuthExhausted(ip) {
			return s.tooManyRequests(w, r, "this address has sent more than %d missing or invalid tokens in %s",
				lim.limits.FailedAuthPerIP, describeWindow(lim.limits.Window))
		}
		p, challenge, err := s.authenticate(r)
		if err != nil {
			if challenge != "" {
				w.Header().Set(headerWWWAuthenticate, challenge)
			}
			// Without an authenticator no token can succeed: there is
			// nothing to guess, so nothing to count.
			if apperr.IsCode(err, apperr.Unauthorized) && s.svc.Auth != nil {
				take(lim.failedAuth, w, r, ip)
			}
			return err
		}
		callerFrom(r.Context()).set(p)
		if !take(lim.perToken, w, r, tokenKey(p)) {
			return s.tooManyRequests(w, r, "this token has made more than %d requests in %s",
				lim.limits.PerToken, describeWindow(lim.limits.Window))
		}
		if !rule.allows(p.Role) {
			return apperr.New(apperr.Forbidden, "role %s may not call %s; it is open to %s: use a token with one of those roles", p.Role, pattern, rule)
		}
		return h(w, r.WithContext(withPrincipal(r.Context(), p)))
	}
}

// authenticate returns the principal of r's bearer token. When it fails
// with apperr.Unauthorized it also returns the WWW-Authenticate challenge
// to answer with.
func (s *Server) authenticate(r *http.Request) (p auth.Principal, challenge string, err error) {
	if s.svc.Auth == nil {
		return auth.Principal{}, challengeMissing, apperr.New(apperr.Unauthorized,
			"this server has no authenticator configured, so it accepts no token; its operator must configure authentication")
	}
	token, err := bearerToken(r.Header)
	if err != nil {
		return auth.Principal{}, challengeMissing, err
	}
	p, err = s.svc.Auth.Authenticate(r.Context(), token)
	switch {
	case apperr.IsCode(err, apperr.Unauthorized):
		return auth.Principal{}, challengeInvalid, err
	case err != nil:
		return auth.Principal{}, "", err
	case p.Name == "" || !p.Role.Valid():
		return auth.Principal{}, "", errors.New("the authenticator accepted a token but returned a principal without a name or with an unknown role")
	}
	return p, "", nil
}

// bearerToken returns the token of the one Authorization header, which must
// use the Bearer scheme (in any case). Its errors are apperr.Unauthorized;
// they never quote the header, which may hold a secret.
func bearerToken(h http.Header) (string, error) {
	values := h.Values(headerAuthorization)
	switch {
	case len(values) == 0:
		return "", apperr.New(apperr.Unauthorized, "this route needs a token: send the header Authorization: Bearer <token>")
	case len(values) > 1:
		return "", apperr.New(apperr.Unauthorized, "send one Authorization header, not %d", len(values))
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, schemeBearer) {
		return "", apperr.New(apperr.Unauthorized, "the Authorization header must use the Bearer scheme: Authorization: Bearer <token>")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", apperr.New(apperr.Unauthorized, "the Authorization header has no token after Bearer")
	}
	return token, nil
}

type principalKey struct{}

func withPrincipal(ctx context.Context, p auth.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principalFrom returns the principal authorized put in ctx, if any: there
// is none on public routes.
func principalFrom(ctx context.Context) (auth.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(auth.Principal)
	return p, ok
}

// callerInfo is who made a request, as far as it is known, for its log
// line: ServeHTTP puts an empty one in the request's context, and
// authorized fills it in once the token is authenticated (even when the
// role is then refused). It holds the token's name, never the token.
type callerInfo struct {
	name string
	role auth.Role
}

type callerKey struct{}

func withCaller(ctx context.Context, c *callerInfo) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFrom(ctx context.Context) *callerInfo {
	c, _ := ctx.Value(callerKey{}).(*callerInfo)
	return c
}

func (c *callerInfo) set(p auth.Principal) {
	if c != nil {
		c.name, c.role = p.Name, p.Role
	}
}

// attrs returns the log attributes of the caller: none for a request that
// was not authenticated.
func (c *callerInfo) attrs() []slog.Attr {
	if c == nil || c.name == "" {
		return nil
	}
	return []slog.Attr{slog.String("token", c.name), slog.String("role", string(c.role))}
}
