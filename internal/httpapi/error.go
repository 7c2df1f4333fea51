package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"insure/internal/apperr"
	"insure/internal/database"
	"insure/internal/queue"
)

// Codes of transport errors that apperr has no code for. They travel as
// *apperr.Error like every other error so that writeError stays the one
// place that picks a status.
const (
	codeMethodNotAllowed     apperr.Code = "method_not_allowed"
	codeUnsupportedMediaType apperr.Code = "unsupported_media_type"
	// codeStorageFull: the database's disk is full, so nothing was saved.
	// It is a 503 (not 507) because it passes: once an operator frees
	// space the same request succeeds, and clients and proxies retry a 503.
	codeStorageFull apperr.Code = "storage_full"
)

// Retry-After, in seconds, of a request refused because the database is
// unavailable (it is usually back within seconds) or its disk is full (an
// operator has to act).
const (
	retryAfterUnavailable = "5"
	retryAfterStorageFull = "30"
)

// errPanic is what a recovered panic is answered with; the panic itself is
// logged where it is recovered.
var errPanic = errors.New("panic in handler")

// statusOf maps an error code to its HTTP status. Unknown codes are bugs.
func statusOf(code apperr.Code) int {
	switch code {
	case apperr.Malformed:
		return http.StatusBadRequest
	case apperr.Unauthorized:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Gone:
		return http.StatusGone
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case apperr.Conflict, codeIdempotencyKeyInProgress, codeIdempotencyResponseLost:
		return http.StatusConflict
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case codeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case apperr.Invalid, codeIdempotencyKeyReused:
		return http.StatusUnprocessableEntity
	case apperr.TooManyRequests:
		return http.StatusTooManyRequests
	case apperr.Unavailable, codeStorageFull:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// asAppError returns err as an *apperr.Error. Errors of other packages that
// clients can act on are translated here; anything else is Internal.
func asAppError(err error) *apperr.Error {
	// More specific than any wrapping Unavailable.
	if errors.Is(err, database.ErrStorageFull) {
		return apperr.Wrap(codeStorageFull, err, "the database's disk is full, so nothing was saved; try again later (an operator must free disk space)")
	}
	if e, ok := apperr.As(err); ok {
		return e
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, queue.ErrDeadLetterNotFound):
		return apperr.Wrap(apperr.NotFound, err, "there is no such dead letter")
	case errors.Is(err, queue.ErrAlreadyResolved):
		return apperr.Wrap(apperr.Conflict, err, "%s", queue.ErrAlreadyResolved.Error())
	case errors.Is(err, queue.ErrJobBusy):
		return apperr.Wrap(apperr.Conflict, err, "%s", queue.ErrJobBusy.Error())
	case errors.As(err, &tooLarge):
		return apperr.Wrap(apperr.TooLarge, err, "the request body is larger than %d bytes", tooLarge.Limit)
	case errors.Is(err, database.ErrUnavailable):
		return apperr.Wrap(apperr.Unavailable, err, "the database is unavailable; try again shortly")
	case errors.Is(err, context.DeadlineExceeded):
		return apperr.Wrap(apperr.Unavailable, err, "the request took too long; try again later")
	case errors.Is(err, context.Canceled):
		return apperr.Wrap(apperr.Unavailable, err, "the request was cancelled")
	}
	return apperr.Wrap(apperr.Internal, err, "internal error")
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// writeError answers the request with err: the one place where errors
// become statuses. The message of a 500 is never shown; its cause is
// logged instead (never the request body).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := asAppError(err)
	status := statusOf(e.Code)
	detail := errorDetail{Code: string(e.Code), Message: e.Message, Field: e.Field}
	if status == http.StatusInternalServerError {
		detail = errorDetail{Code: string(apperr.Internal), Message: "internal error"}
		if !errors.Is(err, errPanic) {
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("route", r.Pattern),
				slog.String("request_id", requestIDFrom(r.Context())),
				slog.String("err", err.Error()),
			}
			s.logger.LogAttrs(r.Context(), slog.LevelError, "internal error", append(attrs, callerFrom(r.Context()).attrs()...)...)
		}
	}
	// Headers that describe a success do not belong on an error.
	for _, h := range []string{"Location", "ETag", "Content-Disposition"} {
		w.Header().Del(h)
	}
	// A database that is down or full: say when to try again, unless the
	// refusal has said so itself.
	if errors.Is(err, database.ErrUnavailable) && w.Header().Get(headerRetryAfter) == "" {
		wait := retryAfterUnavailable
		if e.Code == codeStorageFull {
			wait = retryAfterStorageFull
		}
		w.Header().Set(headerRetryAfter, wait)
	}
	if detail.Message == "" {
		detail.Message = http.StatusText(status)
	}
	if werr := writeJSON(w, status, errorBody{Error: detail}); werr != nil {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "write error response",
			slog.String("request_id", requestIDFrom(r.Context())),
			slog.String("err", werr.Error()),
		)
	}
}
