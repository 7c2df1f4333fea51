package httpapi

import (
	"net/http"
	"strings"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/projection"
)

// messageList is the body of GET /api/v1/messages.
type messageList struct {
	Messages []projection.Message `json:"messages"`
	Next     *string              `json:"next"`
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) error {
	q := queryOf(r)
	customerID, err := q.single("customer_id")
	if err != nil {
		return err
	}
	if customerID != "" {
		if !event.ValidID(customerID) {
			return apperr.Field("customer_id", "must be a customer id (a UUID), got %q", truncate(customerID, 64))
		}
		customerID = strings.ToLower(customerID)
	}
	channel, err := q.single("channel")
	if err != nil {
		return err
	}
	switch channel {
	case "", "email", "whatsapp":
	default:
		return apperr.Field("channel", "must be email or whatsapp, got %q", truncate(channel, 32))
	}
	after, err := q.cursor()
	if err != nil {
		return err
	}
	limit, err := q.limit(defaultPageSize, maxPageSize)
	if err != nil {
		return err
	}
	items, next, err := s.svc.Messages.List(r.Context(), customerID, channel, after, limit)
	if err != nil {
		return err
	}
	for i := range items {
		items[i].DocumentIDs = nonNil(items[i].DocumentIDs)
	}
	return writeJSON(w, http.StatusOK, messageList{Messages: nonNil(items), Next: cursorOrNull(next)})
}
