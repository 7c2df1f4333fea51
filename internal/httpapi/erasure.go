package httpapi

import (
	"context"
	"net/http"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/projection"
)

// Erasure erases customers' personal data (the right to be forgotten).
type Erasure interface {
	// Erase destroys the customer's data key and records
	// CustomerPersonalDataErased; erasing twice changes nothing. It
	// returns the customer as they read afterwards.
	Erase(ctx context.Context, ec event.Context, id string) (projection.Customer, error)
}

// eraseCustomer serves DELETE /api/v1/customers/{id}/personal-data. The
// customer record stays (policies, premiums and history are kept); their
// personal fields read "[erased]" from then on.
func (s *Server) eraseCustomer(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "customer")
	if err != nil {
		return err
	}
	if s.svc.Erasure == nil {
		return apperr.New(apperr.NotFound, "this server does not erase personal data; its operator must configure erasure")
	}
	c, err := s.svc.Erasure.Erase(r.Context(), eventContext(r), id)
	if err != nil {
		return err
	}
	return writeCustomer(w, http.StatusOK, c)
}
