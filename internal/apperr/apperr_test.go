package apperr_test

import (
	"errors"
	"fmt"
	"testing"

	"insure/internal/apperr"
)

func TestCodeOf(t *testing.T) {
	t.Parallel()
	base := apperr.Field("email", "is already registered to another customer")
	wrapped := fmt.Errorf("register: %w", base)
	if got := apperr.CodeOf(wrapped); got != apperr.Invalid {
		t.Fatalf("CodeOf = %s", got)
	}
	if !errors.Is(wrapped, &apperr.Error{Code: apperr.Invalid}) {
		t.Fatal("errors.Is by code failed")
	}
	if errors.Is(wrapped, &apperr.Error{Code: apperr.Conflict}) {
		t.Fatal("matched the wrong code")
	}
	if apperr.CodeOf(errors.New("x")) != apperr.Internal {
		t.Fatal("plain errors must be internal")
	}
	if got := base.Error(); got != "email: is already registered to another customer" {
		t.Fatalf("message %q", got)
	}
	cause := errors.New("disk full")
	w := apperr.Wrap(apperr.Unavailable, cause, "save")
	if !errors.Is(w, cause) || w.Error() != "save: disk full" {
		t.Fatalf("wrap: %v", w)
	}
}
