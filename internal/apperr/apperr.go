// Package apperr is insure's one application error type. Domain code and
// services return *Error values (wrapped with %w as they travel up); the
// HTTP layer maps their Code to a status in exactly one place, and the CLI
// prints their Message.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an application error.
type Code string

// The codes. Each maps to one HTTP status in the httpapi package.
const (
	Invalid      Code = "invalid"      // 422: the input breaks a rule; Field names it
	Malformed    Code = "malformed"    // 400: the input could not be read at all
	TooLarge     Code = "too_large"    // 413
	NotFound     Code = "not_found"    // 404
	Gone         Code = "gone"         // 410: it existed but was removed for good (an erasure)
	Conflict     Code = "conflict"     // 409: a version conflict or a duplicate
	Unavailable  Code = "unavailable"  // 503: try again later
	Internal     Code = "internal"     // 500: a bug; the message is not shown to clients
	Forbidden    Code = "forbidden"    // 403
	Unauthorized Code = "unauthorized" // 401
	// TooManyRequests: the caller has used up its request budget for now;
	// the HTTP layer says when to try again (Retry-After).
	TooManyRequests Code = "rate_limited" // 429
)

// Error is an application error.
type Error struct {
	Code    Code
	Message string
	// Field is the JSON path of the offending input field, for Invalid.
	Field string
	// Err is the underlying cause, if any (not shown to clients).
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Code: c}) match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == "" && t.Field == ""
}

// New returns an error with a code and a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field returns an Invalid error naming a field.
func Field(field, format string, args ...any) *Error {
	return &Error{Code: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error with a code and message around a cause.
func Wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// CodeOf returns err's code, or Internal for errors that are not *Error.
func CodeOf(err error) Code {
	if e, ok := As(err); ok {
		return e.Code
	}
	return Internal
}

// IsCode reports whether err carries code c.
func IsCode(err error, c Code) bool {
	return err != nil && CodeOf(err) == c
}
