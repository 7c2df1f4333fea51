package httpapi

import (
	"math"
	"net/http"

	"insure/internal/queue"
)

// deadLetterList is the body of GET /api/v1/dead-letters.
type deadLetterList struct {
	DeadLetters []queue.DeadLetter `json:"dead_letters"`
}

func (s *Server) listDeadLetters(w http.ResponseWriter, r *http.Request) error {
	q := queryOf(r)
	after, err := q.integer("after", 0, 0, math.MaxInt64)
	if err != nil {
		return err
	}
	limit, err := q.limit(defaultLogSize, maxLogSize)
	if err != nil {
		return err
	}
	items, err := s.svc.DeadLetters.List(r.Context(), after, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, deadLetterList{DeadLetters: nonNil(items)})
}

func (s *Server) retryDeadLetter(w http.ResponseWriter, r *http.Request) error {
	id, err := pathSerial(r, "dead letter")
	if err != nil {
		return err
	}
	d, err := s.svc.DeadLetters.Retry(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

func (s *Server) discardDeadLetter(w http.ResponseWriter, r *http.Request) error {
	id, err := pathSerial(r, "dead letter")
	if err != nil {
		return err
	}
	d, err := s.svc.DeadLetters.Discard(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}
