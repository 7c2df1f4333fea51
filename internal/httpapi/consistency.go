package httpapi

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"insure/internal/apperr"
	"insure/internal/recorder"
)

// Read your writes: a write answers with the position of the last event it
// committed (X-Event-Position), and a read of projections given that
// position (?min_position=) waits until they have applied it.
const (
	headerEventPosition = "X-Event-Position"
	paramMinPosition    = "min_position"
	// defaultMinPositionWait is Services.MinPositionWait's default.
	defaultMinPositionWait = 5 * time.Second
	// minPositionRetryAfter is the Retry-After, in seconds, of a read
	// whose projections did not reach min_position in time.
	minPositionRetryAfter = "1"
)

// consistent wraps the handler of a route that reads the projections
// names: with ?min_position=N (an integer from 0) it first waits, through
// s.svc.Consistency and for at most Services.MinPositionWait, until they
// have all applied the event at position N. A read they do not catch up
// with in time is answered with 503 and Retry-After, naming the
// projection and its position; a min_position that is not such an
// integer, with 422 naming min_position.
func (s *Server) consistent(names []string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		pos, err := queryOf(r).integer(paramMinPosition, 0, 0, math.MaxInt64)
		if err != nil {
			return err
		}
		if pos > 0 {
			if err := s.waitFor(r.Context(), w, names, pos); err != nil {
				return err
			}
		}
		return h(w, r)
	}
}

// waitFor waits until the projections names have applied position. When
// they do not in time it sets Retry-After on w.
func (s *Server) waitFor(ctx context.Context, w http.ResponseWriter, names []string, pos int64) error {
	if s.svc.Consistency == nil {
		return apperr.New(apperr.Unavailable, "this server cannot wait for its read models (no consistency service is configured); read without min_position")
	}
	wait := s.svc.MinPositionWait
	if wait <= 0 {
		wait = defaultMinPositionWait
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	err := s.svc.Consistency.WaitFor(ctx, names, pos)
	if err != nil && asAppError(err).Code == apperr.Unavailable {
		w.Header().Set(headerRetryAfter, minPositionRetryAfter)
	}
	return err
}

// withPositionHeader prepares a write: r's context gets a
// recorder.PositionSink, and the returned writer sets X-Event-Position
// from it on a success response (2xx) once something was committed, just
// before the status is written.
func withPositionHeader(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request) {
	ctx, sink := recorder.WithPositionSink(r.Context())
	return &positionWriter{ResponseWriter: w, sink: sink}, r.WithContext(ctx)
}

// positionWriter sets X-Event-Position before the status is written.
type positionWriter struct {
	http.ResponseWriter
	sink        *recorder.PositionSink
	wroteHeader bool
}

func (w *positionWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		if pos, ok := w.sink.Position(); ok && code >= 200 && code < 300 {
			w.Header().Set(headerEventPosition, strconv.FormatInt(pos, 10))
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *positionWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *positionWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
