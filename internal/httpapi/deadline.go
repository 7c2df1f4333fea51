package httpapi

import (
	"context"
	"net/http"
)

// patternStream is the route that stays open for as long as the client
// reads, so it has no deadline.
const patternStream = "GET /api/v1/events/stream"

// withDeadline gives every request of pattern the deadline
// Services.RequestTimeout, so that a request cannot hang on a database
// that accepts connections but never answers: its work is cancelled, and
// the error it returns (context.DeadlineExceeded, or the database's
// ErrUnavailable) is answered with 503.
func (s *Server) withDeadline(pattern string, h handlerFunc) handlerFunc {
	d := s.svc.RequestTimeout
	if d <= 0 || pattern == patternStream {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		return h(w, r.WithContext(ctx))
	}
}
