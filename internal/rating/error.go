package rating

import (
	"errors"
	"fmt"
)

// sentinelError is a constant error value, so that the package sentinels need
// no package-level variables.
type sentinelError string

func (e sentinelError) Error() string { return string(e) }

const (
	// ErrInvalidRequest is matched by errors.Is for every error that
	// ValidateRequest and Table.Rate return for bad input. The error also
	// holds one or more *FieldError values; see FieldErrors.
	ErrInvalidRequest = sentinelError("rating: invalid request")
	// ErrInvalidTable is matched by errors.Is for every error that LoadTable,
	// LoadTableFile and DefaultTable return for a bad rate table. The error
	// also holds one or more *TableError values.
	ErrInvalidTable = sentinelError("rating: invalid rate table")
)

// FieldError says what is wrong with one field of a Request. Field is the
// JSON name the API uses, such as "sum_insured" or "details.vehicle_year".
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Is reports whether target is ErrInvalidRequest.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidRequest }

// FieldErrors returns every *FieldError held by err, in order, looking
// through wrapped and joined errors. It returns nil when there are none.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	walk(err, func(e error) {
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
		}
	})
	return out
}

// TableError says what is wrong with one field of a rate table. Insurer is
// the insurer's code when the problem belongs to one insurer (empty
// otherwise) and Field is the JSON path, such as
// "insurers[0].products.motor.base_rate_bp".
type TableError struct {
	Insurer string
	Field   string
	Message string
	// Err is the underlying error, such as a JSON syntax error, if any.
	Err error
}

func (e *TableError) Error() string {
	s := "rate table: "
	if e.Insurer != "" {
		s += fmt.Sprintf("insurer %q: ", e.Insurer)
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Message
}

// Is reports whether target is ErrInvalidTable.
func (e *TableError) Is(target error) bool { return target == ErrInvalidTable }

// Unwrap returns the underlying error, if any.
func (e *TableError) Unwrap() error { return e.Err }

// TableErrors returns every *TableError held by err, in order, looking
// through wrapped and joined errors. It returns nil when there are none.
func TableErrors(err error) []*TableError {
	var out []*TableError
	walk(err, func(e error) {
		if te, ok := e.(*TableError); ok {
			out = append(out, te)
		}
	})
	return out
}

// walk calls visit for err and every error it wraps, depth first.
func walk(err error, visit func(error)) {
	if err == nil {
		return
	}
	visit(err)
	switch x := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range x.Unwrap() {
			walk(e, visit)
		}
	case interface{ Unwrap() error }:
		walk(x.Unwrap(), visit)
	}
}

// joinErrors returns nil for no errors, the error itself for one, and
// errors.Join for more.
func joinErrors[E error](errs []E) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}
