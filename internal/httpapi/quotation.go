package httpapi

import (
	"encoding/json"
	"net/http"

	"insure/internal/projection"
	"insure/internal/quotation"
	"insure/internal/rating"
)

// requestQuotationRequest is the body of POST /api/v1/quotations.
type requestQuotationRequest struct {
	CustomerID string          `json:"customer_id"`
	Product    string          `json:"product"`
	SumInsured int64           `json:"sum_insured"`
	Currency   string          `json:"currency"`
	Details    json.RawMessage `json:"details"`
}

func (b requestQuotationRequest) command() quotation.Request {
	return quotation.Request{
		CustomerID: b.CustomerID,
		Product:    b.Product,
		SumInsured: b.SumInsured,
		Currency:   b.Currency,
		Details:    b.Details,
	}
}

func (s *Server) requestQuotation(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeBody[requestQuotationRequest](w, r, bodyRequired)
	if err != nil {
		return err
	}
	q, err := s.svc.Quotations.Request(r.Context(), eventContext(r), body.command())
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/quotations/"+q.ID)
	return writeJSON(w, http.StatusAccepted, quotationView(q))
}

func (s *Server) getQuotation(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "quotation")
	if err != nil {
		return err
	}
	q, err := s.svc.Quotations.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, quotationView(q))
}

// quotationView returns q with nil lists made empty, so that they encode as
// [] rather than null.
func quotationView(q projection.Quotation) projection.Quotation {
	quotes := make([]rating.Quote, len(q.Quotes))
	for i, qt := range q.Quotes {
		qt.AddOns = nonNil(qt.AddOns)
		quotes[i] = qt
	}
	q.Quotes = quotes
	return q
}
