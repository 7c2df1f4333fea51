package httpapi

import (
	"context"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"insure/internal/event"
)

// Request headers the API reads and writes.
const (
	headerCorrelationID = "X-Correlation-ID"
	headerRequestID     = "X-Request-ID"
)

// Event metadata limits.
const (
	channelAPI      = "api"
	maxUserAgentLen = 256 // characters
)

type requestIDKey struct{}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// requestIDFrom returns the request id ServeHTTP put in ctx.
func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestID returns the correlation id the client gave in X-Correlation-ID
// or X-Request-ID, when that is a UUID, or else a new one.
func requestID(r *http.Request) string {
	for _, h := range []string{headerCorrelationID, headerRequestID} {
		if v := strings.TrimSpace(r.Header.Get(h)); event.ValidID(v) {
			return strings.ToLower(v)
		}
	}
	return event.NewID()
}

// eventContext is who made the request and how: the metadata of every event
// it causes.
func eventContext(r *http.Request) event.Context {
	return event.Context{
		CorrelationID: requestIDFrom(r.Context()),
		Actor:         actorOf(r),
		Channel:       channelAPI,
		IP:            clientIP(r),
		UserAgent:     truncateChars(r.UserAgent(), maxUserAgentLen),
	}
}

// actorOf returns who is making the request: the authenticated token's
// actor ("token:<name>"), or "anonymous" on a public route. It is the one
// place the actor of the events a request causes comes from; it is never
// taken from the request body.
func actorOf(r *http.Request) string {
	if p, ok := principalFrom(r.Context()); ok {
		return p.Actor()
	}
	return actorAnonymous
}

// clientIP returns the host of the peer's address. Forwarding headers are
// not trusted.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if net.ParseIP(host) == nil {
		return ""
	}
	return host
}

// truncate returns s as valid UTF-8 of at most n bytes, cut at a character
// boundary.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// truncateChars returns s as valid UTF-8 of at most n characters.
func truncateChars(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
