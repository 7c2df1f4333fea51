package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"insure/internal/apperr"
	"insure/internal/projection"
)

func TestGetDocument(t *testing.T) {
	t.Parallel()
	h := setup(t)
	closed := false
	h.f.documents.OpenFn = func(_ context.Context, id string) (io.ReadCloser, projection.Document, error) {
		content := "%PDF-1.7 schedule"
		return closer{strings.NewReader(content), &closed}, projection.Document{
			ID: id, Kind: "policy_schedule", SubjectType: "policy", SubjectID: policyID, Status: "generated",
			ContentType: "application/pdf", Size: ptr(int64(len(content))), RequestedAt: testNow,
		}, nil
	}
	w := h.do("GET", "/api/v1/documents/"+documentID, "")
	wantStatus(t, w, http.StatusOK)
	for k, want := range map[string]string{
		"Content-Type":        "application/pdf",
		"Content-Length":      "17",
		"Content-Disposition": `inline; filename="policy_schedule-` + documentID + `.pdf"`,
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if got := w.Body.String(); got != "%PDF-1.7 schedule" {
		t.Errorf("body = %q", got)
	}
	if !closed {
		t.Error("the document content was not closed")
	}

	t.Run("size unknown", func(t *testing.T) {
		h := setup(t)
		h.f.documents.OpenFn = func(_ context.Context, id string) (io.ReadCloser, projection.Document, error) {
			return io.NopCloser(strings.NewReader("%PDF")), projection.Document{ID: id, Kind: "Quotation!", ContentType: ""}, nil
		}
		w := h.do("GET", "/api/v1/documents/"+documentID, "")
		wantStatus(t, w, http.StatusOK)
		if got := w.Header().Get("Content-Length"); got != "" {
			t.Errorf("Content-Length = %q, want none", got)
		}
		if got, want := w.Header().Get("Content-Disposition"), `inline; filename="quotation-`+documentID+`.pdf"`; got != want {
			t.Errorf("Content-Disposition = %q, want %q", got, want)
		}
		if got := w.Header().Get("Content-Type"); got != "application/pdf" {
			t.Errorf("Content-Type = %q", got)
		}
	})
	t.Run("missing", func(t *testing.T) {
		h := setup(t)
		h.f.documents.OpenFn = func(context.Context, string) (io.ReadCloser, projection.Document, error) {
			return nil, projection.Document{}, apperr.New(apperr.NotFound, "no such document")
		}
		wantError(t, h.do("GET", "/api/v1/documents/"+unknownID, ""), http.StatusNotFound, "not_found", "")
		wantError(t, h.do("GET", "/api/v1/documents/report.pdf", "", wrong()), http.StatusNotFound, "not_found", "")
	})
}

type closer struct {
	io.Reader
	closed *bool
}

func (c closer) Close() error {
	*c.closed = true
	return nil
}
