package httpapi

import (
	"math"
	"net/http"

	"insure/internal/apperr"
	"insure/internal/audit"
	"insure/internal/event"
)

// eventPage is the body of GET /api/v1/events.
type eventPage struct {
	Events []event.Envelope `json:"events"`
	Next   int64            `json:"next"`
}

func (s *Server) readEvents(w http.ResponseWriter, r *http.Request) error {
	q := queryOf(r)
	after, err := q.integer("after", 0, 0, math.MaxInt64)
	if err != nil {
		return err
	}
	limit, err := q.limit(defaultLogSize, maxLogSize)
	if err != nil {
		return err
	}
	types := q.list("type")
	if len(types) > maxEventTypes {
		return apperr.Field("type", "give at most %d event types, got %d", maxEventTypes, len(types))
	}
	for _, t := range types {
		if !validEventName(t) {
			return apperr.Field("type", "%q is not an event name; names look like CustomerRegistered", truncate(t, 64))
		}
	}
	events, next, err := s.svc.Events.Read(r.Context(), after, limit, types)
	if err != nil {
		return err
	}
	// The stream holds personal data too: an unrecorded read of it is not
	// served (see recordAccess).
	if err := s.recordAccess(r, audit.AccessEventStream, subjectEventStream, ""); err != nil {
		return err
	}
	if len(events) == 0 {
		next = max(next, after)
	}
	return writeJSON(w, http.StatusOK, eventPage{Events: nonNil(events), Next: next})
}

// validEventName reports whether s looks like an event name: a letter, then
// letters, digits, _ and dots.
func validEventName(s string) bool {
	if s == "" || len(s) > maxEventTypeLen {
		return false
	}
	for i, c := range []byte(s) {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '.'):
		default:
			return false
		}
	}
	return true
}
