package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/httpapi"
	"insure/internal/projection"
)

func TestEraseCustomer(t *testing.T) {
	t.Parallel()
	h := setup(t)
	var got event.Context
	h.f.erasure.EraseFn = func(_ context.Context, ec event.Context, id string) (projection.Customer, error) {
		got = ec
		if id != customerID {
			return projection.Customer{}, apperr.New(apperr.NotFound, "customer %s not found", id)
		}
		return erasedCustomer(), nil
	}
	w := h.do("DELETE", "/api/v1/customers/"+customerID+"/personal-data", "")
	wantStatus(t, w, http.StatusOK)
	var c map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	if c["erased"] != true || c["name"] != event.Erased || c["email"] != event.Erased {
		t.Fatalf("body = %v", c)
	}
	if got.Actor == "" {
		t.Error("the erasure's actor is not the authenticated principal")
	}
	if w.Header().Get("ETag") == "" {
		t.Error("no ETag")
	}

	w = h.do("DELETE", "/api/v1/customers/"+event.NewID()+"/personal-data", "")
	wantError(t, w, http.StatusNotFound, "not_found", "")
	w = h.do("DELETE", "/api/v1/customers/not-a-uuid/personal-data", "", wrong())
	wantStatus(t, w, http.StatusNotFound)

	t.Run("not configured", func(t *testing.T) {
		h := setupServices(t, func(s *httpapi.Services) { s.Erasure = nil })
		w := h.do("DELETE", "/api/v1/customers/"+customerID+"/personal-data", "")
		wantError(t, w, http.StatusNotFound, "not_found", "")
	})
}

// TestGetErasedDocument: a document of an erased customer answers 410.
func TestGetErasedDocument(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.f.documents.OpenFn = func(context.Context, string) (io.ReadCloser, projection.Document, error) {
		return nil, projection.Document{}, apperr.New(apperr.Gone, "document %s held personal data of a customer whose data was erased; it can no longer be read", documentID)
	}
	w := h.do("GET", "/api/v1/documents/"+documentID, "")
	wantError(t, w, http.StatusGone, "gone", "")
}
