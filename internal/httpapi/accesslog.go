package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"insure/internal/apperr"
	"insure/internal/audit"
	"insure/internal/event"
	"insure/internal/projection"
)

// The subject types of recorded reads.
const (
	subjectCustomer    = "customer"
	subjectEventStream = "event_stream"
	subjectAccessLog   = "access_log"
)

// accessList is the body of GET /api/v1/audit/access.
type accessList struct {
	Accesses []projection.Access `json:"accesses"`
	Next     *string             `json:"next"`
}

// recordAccess records, through s.svc.Access, that the request's principal
// has read the subject's data by action (an audit.Access* constant). A
// handler calls it after its read succeeded and before it writes anything,
// and returns its error as its own.
//
// A read that cannot be recorded is not served: personal data handed out
// without a record of who saw it could never be accounted for, so a
// failure to record fails the request (503 while the store is down, 500
// otherwise) rather than being logged and ignored. Without s.svc.Access
// nothing is recorded (NewServer warns of it).
func (s *Server) recordAccess(r *http.Request, action, subjectType, subjectID string) error {
	if s.svc.Access == nil {
		return nil
	}
	p, ok := principalFrom(r.Context())
	if !ok {
		return errors.New("recordAccess called for a request without a principal; only protected routes record reads")
	}
	if err := s.svc.Access.Record(r.Context(), eventContext(r), string(p.Role), action, subjectType, subjectID); err != nil {
		return fmt.Errorf("record a %s read: %w", action, err)
	}
	return nil
}

// listAccesses serves GET /api/v1/audit/access: the recorded reads, of one
// subject when the subject parameter names it. Listing them is itself a
// recorded read.
func (s *Server) listAccesses(w http.ResponseWriter, r *http.Request) error {
	if s.svc.Access == nil {
		return apperr.New(apperr.NotFound, "this server does not record reads, so it has no access log; its operator must configure access recording")
	}
	q := queryOf(r)
	subject, err := q.single("subject")
	if err != nil {
		return err
	}
	if subject != "" {
		if !event.ValidID(subject) {
			return apperr.Field("subject", "must be the id (a UUID) of the subject whose reads to list, such as a customer id; got %q", truncate(subject, 64))
		}
		subject = strings.ToLower(subject)
	}
	after, err := q.cursor()
	if err != nil {
		return err
	}
	limit, err := q.limit(defaultPageSize, maxPageSize)
	if err != nil {
		return err
	}
	items, next, err := s.svc.Access.List(r.Context(), subject, after, limit)
	if err != nil {
		return err
	}
	if err := s.recordAccess(r, audit.AccessAuditTrail, subjectAccessLog, subject); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, accessList{Accesses: nonNil(items), Next: cursorOrNull(next)})
}
