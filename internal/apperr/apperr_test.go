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

func TestGone(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("open: %w", apperr.New(apperr.Gone, "document %s was erased", "d1"))
	if !apperr.IsCode(err, apperr.Gone) || apperr.IsCode(err, apperr.NotFound) {
		t.Fatalf("CodeOf = %s, want gone", apperr.CodeOf(err))
	}
	if string(apperr.Gone) != "gone" {
		t.Fatalf("Gone = %q: the code is part of the API", apperr.Gone)
	}
}
