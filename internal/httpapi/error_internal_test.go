package httpapi

import (
	"net/http"
	"testing"

	"insure/internal/apperr"
)

// TestStatusOf pins the status of every error code: clients rely on them.
func TestStatusOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code apperr.Code
		want int
	}{
		{apperr.Malformed, http.StatusBadRequest},
		{apperr.Unauthorized, http.StatusUnauthorized},
		{apperr.Forbidden, http.StatusForbidden},
		{apperr.NotFound, http.StatusNotFound},
		{codeMethodNotAllowed, http.StatusMethodNotAllowed},
		{apperr.Conflict, http.StatusConflict},
		{apperr.Gone, http.StatusGone},
		{apperr.TooLarge, http.StatusRequestEntityTooLarge},
		{codeUnsupportedMediaType, http.StatusUnsupportedMediaType},
		{apperr.Invalid, http.StatusUnprocessableEntity},
		{apperr.TooManyRequests, http.StatusTooManyRequests},
		{apperr.Unavailable, http.StatusServiceUnavailable},
		{apperr.Internal, http.StatusInternalServerError},
		{"no_such_code", http.StatusInternalServerError},
	}
	for _, tt := range tests {
		if got := statusOf(tt.code); got != tt.want {
			t.Errorf("statusOf(%s) = %d, want %d", tt.code, got, tt.want)
		}
	}
}
