package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"insure/internal/apperr"
	"insure/internal/customer"
	"insure/internal/idempotency"
	"insure/internal/policy"
	"insure/internal/quotation"
	"insure/internal/recorder"
)

// Idempotent requests: every POST route that takes a token accepts an
// Idempotency-Key header (see idempotency.Store for the guarantees).
const (
	headerIdempotencyKey      = "Idempotency-Key"
	headerIdempotentReplayed  = "Idempotent-Replayed"
	idempotencyInProgressWait = "1" // Retry-After, in seconds
	// finishTimeout bounds storing a response once the request is
	// answered (its own context may be cancelled by then).
	finishTimeout = 5 * time.Second
)

// Codes of the errors about idempotency keys.
const (
	codeIdempotencyKeyReused     apperr.Code = "idempotency_key_reused"
	codeIdempotencyKeyInProgress apperr.Code = "idempotency_key_in_progress"
	codeIdempotencyResponseLost  apperr.Code = "idempotency_response_lost"
)

// Idempotency keeps the idempotency keys (idempotency.Store).
type Idempotency interface {
	// Begin claims req's key (a claim: run the request, then Finish the
	// claim) or returns the stored response of the first request with
	// it. See idempotency.Store.Begin for its errors.
	Begin(ctx context.Context, req idempotency.Request) (*idempotency.Claim, *idempotency.Response, error)
}

// resourcePaths are the paths of the aggregates a lost response can point
// at.
var resourcePaths = map[string]string{
	customer.AggregateType:  "/api/v1/customers/",
	quotation.AggregateType: "/api/v1/quotations/",
	policy.AggregateType:    "/api/v1/policies/",
}

// idempotent wraps the handler of a POST route that takes a token. Without
// an Idempotency-Key header the request is served as it is. With one, the
// first request with the key (per token) runs and its response is stored;
// a repeat with the same method, path and body is answered with that
// response and Idempotent-Replayed: true, and runs nothing. The same key
// with another request is answered with 422 (idempotency_key_reused); a
// repeat while the first still runs, with 409 and Retry-After
// (idempotency_key_in_progress); a key that is not 1 to 255 printable
// ASCII characters, with 400.
//
// Responses that a retry may change (5xx, 408, 409, 425, 429) are not
// stored unless the request committed something: the key is released and
// a retry runs the request again.
func (s *Server) idempotent(pattern string, h handlerFunc) handlerFunc {
	route := routePath(pattern)
	return func(w http.ResponseWriter, r *http.Request) error {
		values := r.Header.Values(headerIdempotencyKey)
		if len(values) == 0 {
			return h(w, r)
		}
		if len(values) > 1 {
			return keyError(apperr.New(apperr.Malformed, "send one %s header, not %d", headerIdempotencyKey, len(values)))
		}
		key := values[0]
		if !idempotency.ValidKey(key) {
			return keyError(apperr.New(apperr.Malformed, "the %s header must be 1 to %d printable ASCII characters (such as a UUID); this one has %d bytes",
				headerIdempotencyKey, idempotency.MaxKeyLen, len(key)))
		}
		if s.svc.Idempotency == nil {
			return apperr.New(apperr.Unavailable, "this server keeps no idempotency keys (none is configured); send the request without %s", headerIdempotencyKey)
		}
		p, ok := principalFrom(r.Context())
		if !ok {
			return errors.New("idempotent: no principal on a route that takes a token")
		}
		body, err := readBody(w, r)
		if err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		req := idempotency.Request{
			Principal: p.TokenID, Key: key, Method: r.Method, Route: route,
			Hash: idempotency.Hash(r.Method, r.URL.Path, r.URL.RawQuery, body),
		}
		claim, stored, err := s.svc.Idempotency.Begin(r.Context(), req)
		if err != nil {
			return idempotencyError(w, err)
		}
		if stored != nil {
			replay(w, stored)
			return nil
		}
		return s.runClaimed(w, r, h, claim, route)
	}
}

// runClaimed runs the request its claim is for, with the claim as the
// recorder's commit hook, and finishes the claim with the response.
func (s *Server) runClaimed(w http.ResponseWriter, r *http.Request, h handlerFunc, claim *idempotency.Claim, route string) error {
	tw := &teeWriter{ResponseWriter: w}
	finish := func(resp idempotency.Response, keep bool) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), finishTimeout)
		defer cancel()
		if err := claim.Finish(ctx, resp, keep); err != nil {
			s.logger.LogAttrs(ctx, slog.LevelWarn, "idempotency key: the response was not stored; a repeat runs the request again, or is told its response was lost if it committed",
				slog.String("route", route), slog.String("request_id", requestIDFrom(r.Context())), slog.String("err", err.Error()))
		}
	}
	defer func() {
		// A panic: release the key unless something committed (the
		// recovered panic is answered with a 500 further out).
		if v := recover(); v != nil {
			finish(idempotency.Response{Status: http.StatusInternalServerError}, false)
			panic(v)
		}
	}()
	rr := r.WithContext(recorder.WithCommitHook(r.Context(), claim))
	if err := h(tw, rr); err != nil {
		// Answered here rather than further out, so that the error
		// response is the one stored.
		s.writeError(tw, rr, err)
	}
	resp := idempotency.Response{Status: tw.statusCode(), Header: tw.sent, Body: tw.body.Bytes()}
	if resp.Status >= 200 && resp.Status < 300 {
		// Only successes carry personal data; an error's id may name
		// no one.
		resp.Subject = personalSubject(r, tw.sent)
	}
	finish(resp, keepResponse(resp.Status))
	return nil
}

// keepResponse reports whether a response of status is stored for repeats
// even when the request committed nothing: successes, and client errors
// that the same request gets again (not 408, 409, 425 or 429, which a
// retry may well change).
func keepResponse(status int) bool {
	switch {
	case status >= 200 && status < 300:
		return true
	case status == http.StatusRequestTimeout, status == http.StatusConflict, status == http.StatusTooEarly, status == http.StatusTooManyRequests:
		return false
	case status >= 400 && status < 500:
		return true
	}
	return false
}

// personalSubject returns the customer whose personal data a successful
// response to r holds, under whose data key it is stored: the customer of
// a route under /api/v1/customers/{id}, or the one a 201 created
// (Location); "" for other routes.
func personalSubject(r *http.Request, sent http.Header) string {
	const prefix = "/api/v1/customers"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		return ""
	}
	if id := r.PathValue("id"); id != "" {
		return id
	}
	if loc, ok := strings.CutPrefix(sent.Get("Location"), prefix+"/"); ok {
		return loc
	}
	return ""
}

// idempotencyError turns an error of Begin into the API's error.
func idempotencyError(w http.ResponseWriter, err error) error {
	var unanswered *idempotency.UnansweredError
	switch {
	case errors.Is(err, idempotency.ErrMismatch):
		return keyError(apperr.New(codeIdempotencyKeyReused, "this %s was first used for a different request (another method, path or body); use a new key for a new request", headerIdempotencyKey))
	case errors.Is(err, idempotency.ErrInProgress):
		w.Header().Set(headerRetryAfter, idempotencyInProgressWait)
		return apperr.New(codeIdempotencyKeyInProgress, "a request with this %s is still running; repeat it once it has been answered (Retry-After)", headerIdempotencyKey)
	case errors.As(err, &unanswered):
		msg := "the request with this " + headerIdempotencyKey + " was carried out, but its response was lost; it is not run again"
		if path, ok := resourcePaths[unanswered.ResourceType]; ok && unanswered.ResourceID != "" {
			msg += "; read what it did at " + path + unanswered.ResourceID
		}
		return apperr.New(codeIdempotencyResponseLost, "%s", msg)
	case errors.Is(err, idempotency.ErrErased):
		return apperr.New(apperr.Gone, "the response to the request with this %s held personal data of a customer whose data has since been erased; it can no longer be repeated", headerIdempotencyKey)
	}
	return err
}

// keyError is e naming the Idempotency-Key header as its field.
func keyError(e *apperr.Error) *apperr.Error {
	e.Field = headerIdempotencyKey
	return e
}

// replay answers with a stored response.
func replay(w http.ResponseWriter, resp *idempotency.Response) {
	h := w.Header()
	for name, v := range resp.Header {
		h[http.CanonicalHeaderKey(name)] = v
	}
	h.Set(headerIdempotentReplayed, "true")
	h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	w.WriteHeader(resp.Status)
	// A write error means the client went away; there is no one to tell.
	_, _ = w.Write(resp.Body)
}

// teeWriter passes a response through and keeps a copy: the status, the
// headers as they were when the status was written, and the body.
type teeWriter struct {
	http.ResponseWriter
	status int
	sent   http.Header
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.ResponseWriter.WriteHeader(code)
		// The writers further in may set headers as the status goes
		// out (X-Event-Position): copy them after.
		w.sent = w.Header().Clone()
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *teeWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
