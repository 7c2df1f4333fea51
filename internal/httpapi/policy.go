package httpapi

import (
	"net/http"
	"time"

	"insure/internal/app"
	"insure/internal/apperr"
	"insure/internal/policy"
	"insure/internal/projection"
)

// dateLayout is the layout of dates on the wire.
const dateLayout = "2006-01-02"

// createPolicyRequest is the body of POST /api/v1/policies.
type createPolicyRequest struct {
	CustomerID  string  `json:"customer_id"`
	QuotationID *string `json:"quotation_id"`
	Insurer     string  `json:"insurer"`
	Product     string  `json:"product"`
	Premium     int64   `json:"premium"`
	SumInsured  int64   `json:"sum_insured"`
	Currency    string  `json:"currency"`
	StartDate   string  `json:"start_date"`
	EndDate     string  `json:"end_date"`
}

func (b createPolicyRequest) command() policy.Create {
	return policy.Create{
		CustomerID:  b.CustomerID,
		QuotationID: b.QuotationID,
		Insurer:     b.Insurer,
		Product:     b.Product,
		Premium:     b.Premium,
		SumInsured:  b.SumInsured,
		Currency:    b.Currency,
		StartDate:   b.StartDate,
		EndDate:     b.EndDate,
	}
}

// renewPolicyRequest is the body of POST /api/v1/policies/{id}/renew; it may
// be empty.
type renewPolicyRequest struct {
	Premium    *int64  `json:"premium"`
	SumInsured *int64  `json:"sum_insured"`
	EndDate    *string `json:"end_date"`
}

func (b renewPolicyRequest) command() policy.Renew {
	return policy.Renew{Premium: b.Premium, SumInsured: b.SumInsured, EndDate: b.EndDate}
}

// expiryScanRequest is the body of POST /api/v1/policies/expiry-scan; it may
// be empty.
type expiryScanRequest struct {
	AsOf *string `json:"as_of"`
}

// asOf returns the scan date at midnight UTC, nil for today.
func (b expiryScanRequest) asOf() (*time.Time, error) {
	if b.AsOf == nil {
		return nil, nil
	}
	t, err := time.Parse(dateLayout, *b.AsOf)
	if err != nil {
		return nil, apperr.Field("as_of", "must be a date in the form YYYY-MM-DD, got %q", truncate(*b.AsOf, 32))
	}
	return &t, nil
}

// policyList is the body of GET /api/v1/policies.
type policyList struct {
	Policies []projection.Policy `json:"policies"`
	Next     *string             `json:"next"`
}

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeBody[createPolicyRequest](w, r, bodyRequired)
	if err != nil {
		return err
	}
	p, err := s.svc.Policies.Create(r.Context(), eventContext(r), body.command())
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/policies/"+p.ID)
	return writeJSON(w, http.StatusCreated, p)
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request) error {
	q := queryOf(r)
	within, err := q.optionalInt("expiring_within_days", 0, maxExpiringDays)
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
	items, next, err := s.svc.Policies.List(r.Context(), within, after, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, policyList{Policies: nonNil(items), Next: cursorOrNull(next)})
}

func (s *Server) scanExpiringPolicies(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeBody[expiryScanRequest](w, r, bodyOptional)
	if err != nil {
		return err
	}
	asOf, err := body.asOf()
	if err != nil {
		return err
	}
	report, err := s.svc.Policies.ScanExpiring(r.Context(), eventContext(r), asOf)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, scanReportView(report))
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "policy")
	if err != nil {
		return err
	}
	asOf, err := queryOf(r).asOf()
	if err != nil {
		return err
	}
	var p projection.Policy
	if asOf != nil {
		p, err = s.svc.Policies.GetAsOf(r.Context(), id, *asOf)
	} else {
		p, err = s.svc.Policies.Get(r.Context(), id)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) renewPolicy(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "policy")
	if err != nil {
		return err
	}
	body, err := decodeBody[renewPolicyRequest](w, r, bodyOptional)
	if err != nil {
		return err
	}
	p, err := s.svc.Policies.Renew(r.Context(), eventContext(r), id, body.command())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

// scanReportView returns rep with a nil list made empty.
func scanReportView(rep app.ScanReport) app.ScanReport {
	rep.Warned = nonNil(rep.Warned)
	return rep
}
