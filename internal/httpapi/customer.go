package httpapi

import (
	"net/http"
	"unicode/utf8"

	"insure/internal/apperr"
	"insure/internal/audit"
	"insure/internal/customer"
	"insure/internal/event"
	"insure/internal/projection"
)

// registerCustomerRequest is the body of POST /api/v1/customers.
type registerCustomerRequest struct {
	Name        string           `json:"name"`
	Email       string           `json:"email"`
	Phone       string           `json:"phone"`
	DateOfBirth *string          `json:"date_of_birth"`
	Channel     string           `json:"channel"`
	Preferences *preferencesBody `json:"preferences"`
}

type preferencesBody struct {
	Email    bool `json:"email"`
	WhatsApp bool `json:"whatsapp"`
}

func (b registerCustomerRequest) command() customer.Register {
	cmd := customer.Register{
		Name:        b.Name,
		Email:       b.Email,
		Phone:       b.Phone,
		DateOfBirth: b.DateOfBirth,
		Channel:     b.Channel,
	}
	if b.Preferences != nil {
		cmd.Preferences = &customer.Preferences{Email: b.Preferences.Email, WhatsApp: b.Preferences.WhatsApp}
	}
	return cmd
}

// updateCustomerRequest is the body of PATCH /api/v1/customers/{id}. Absent
// (and null) fields stay as they are.
type updateCustomerRequest struct {
	Name        *string               `json:"name"`
	Email       *string               `json:"email"`
	Phone       *string               `json:"phone"`
	DateOfBirth *string               `json:"date_of_birth"`
	Preferences *preferencesPatchBody `json:"preferences"`
}

type preferencesPatchBody struct {
	Email    *bool `json:"email"`
	WhatsApp *bool `json:"whatsapp"`
}

func (b updateCustomerRequest) command() customer.UpdateProfile {
	cmd := customer.UpdateProfile{
		Name:        b.Name,
		Email:       b.Email,
		Phone:       b.Phone,
		DateOfBirth: b.DateOfBirth,
	}
	if b.Preferences != nil {
		cmd.Preferences = &customer.PreferencesPatch{Email: b.Preferences.Email, WhatsApp: b.Preferences.WhatsApp}
	}
	return cmd
}

// verifyEmailRequest is the body of POST /api/v1/customers/{id}/verify-email.
type verifyEmailRequest struct {
	Token string `json:"token"`
}

// customerList is the body of GET /api/v1/customers.
type customerList struct {
	Customers []projection.Customer `json:"customers"`
	Next      *string               `json:"next"`
}

// eventList is the body of GET /api/v1/customers/{id}/events.
type eventList struct {
	Events []event.Envelope `json:"events"`
}

func (s *Server) registerCustomer(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeBody[registerCustomerRequest](w, r, bodyRequired)
	if err != nil {
		return err
	}
	c, err := s.svc.Customers.Register(r.Context(), eventContext(r), body.command())
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/customers/"+c.ID)
	return writeCustomer(w, http.StatusCreated, c)
}

// The longest search parameters of GET /api/v1/customers: the longest
// value a customer may have (customer.MaxNameLen characters,
// customer.MaxEmailLen bytes) and the longest phone number the API takes.
const (
	maxSearchName  = customer.MaxNameLen
	maxSearchEmail = customer.MaxEmailLen
	maxSearchPhone = 32
)

// customerFilter reads the search parameters email, phone and name. Each is
// given at most once and is capped in length; their meaning is checked by
// the service (a phone that is not a number, a name without letters).
func customerFilter(q query) (projection.CustomerFilter, error) {
	var f projection.CustomerFilter
	for _, p := range []struct {
		name  string
		max   int
		runes bool // max counts characters, not bytes
		out   *string
	}{
		{"email", maxSearchEmail, false, &f.Email},
		{"phone", maxSearchPhone, false, &f.Phone},
		{"name", maxSearchName, true, &f.Name},
	} {
		v, err := q.single(p.name)
		if err != nil {
			return f, err
		}
		if !utf8.ValidString(v) {
			return f, apperr.Field(p.name, "is not valid UTF-8")
		}
		n, unit := len(v), "bytes"
		if p.runes {
			n, unit = utf8.RuneCountInString(v), "characters"
		}
		if n > p.max {
			return f, apperr.Field(p.name, "must be at most %d %s, got %d", p.max, unit, n)
		}
		*p.out = v
	}
	return f, nil
}

func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) error {
	q := queryOf(r)
	filter, err := customerFilter(q)
	if err != nil {
		return err
	}
	after, err := q.cursor()
	if err != nil {
		return err
	}
	limit, err := q.limit(defaultPageSize, maxPageSize)
	if err != nil {
		return err
	}
	items, next, err := s.svc.Customers.List(r.Context(), filter, after, limit)
	if err != nil {
		return err
	}
	// A page of full profiles is a read of personal data: record it (one
	// record per page) before serving it.
	if err := s.recordAccess(r, audit.AccessCustomerList, "customer_list", ""); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, customerList{Customers: nonNil(items), Next: cursorOrNull(next)})
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "customer")
	if err != nil {
		return err
	}
	asOf, err := queryOf(r).asOf()
	if err != nil {
		return err
	}
	var c projection.Customer
	if asOf != nil {
		c, err = s.svc.Customers.GetAsOf(r.Context(), id, *asOf)
	} else {
		c, err = s.svc.Customers.Get(r.Context(), id)
	}
	if err != nil {
		return err
	}
	// An unrecorded read of personal data is not served (see recordAccess);
	// a profile as it was is a read of it too.
	if err := s.recordAccess(r, audit.AccessCustomerProfile, subjectCustomer, id); err != nil {
		return err
	}
	return writeCustomer(w, http.StatusOK, c)
}

func (s *Server) updateCustomer(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "customer")
	if err != nil {
		return err
	}
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	body, err := decodeBody[updateCustomerRequest](w, r, bodyRequired)
	if err != nil {
		return err
	}
	c, err := s.svc.Customers.Update(r.Context(), eventContext(r), id, version, body.command())
	if err != nil {
		return err
	}
	return writeCustomer(w, http.StatusOK, c)
}

func (s *Server) verifyCustomerEmail(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "customer")
	if err != nil {
		return err
	}
	body, err := decodeBody[verifyEmailRequest](w, r, bodyRequired)
	if err != nil {
		return err
	}
	c, err := s.svc.Customers.VerifyEmail(r.Context(), eventContext(r), id, body.Token)
	if err != nil {
		return err
	}
	return writeCustomer(w, http.StatusOK, c)
}

func (s *Server) listCustomerEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "customer")
	if err != nil {
		return err
	}
	events, err := s.svc.Customers.Events(r.Context(), id)
	if err != nil {
		return err
	}
	// An unrecorded read of personal data is not served (see recordAccess).
	if err := s.recordAccess(r, audit.AccessCustomerEvents, subjectCustomer, id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, eventList{Events: nonNil(events)})
}

// writeCustomer writes a customer with its version as the ETag.
func writeCustomer(w http.ResponseWriter, status int, c projection.Customer) error {
	w.Header().Set("ETag", etag(c.Version))
	return writeJSON(w, status, c)
}

// nonNil returns s, or an empty slice for nil, so that lists encode as [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// cursorOrNull returns nil for the empty cursor that means "no more".
func cursorOrNull(next string) *string {
	if next == "" {
		return nil
	}
	return &next
}
