package httpapi

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"insure/internal/apperr"
)

// Server is the HTTP API. It implements http.Handler.
type Server struct {
	svc    Services
	logger *slog.Logger
	now    func() time.Time
	mux    *http.ServeMux
	// patterns lists every pattern registered on mux, in order.
	patterns []string
}

// NewServer returns the API over the given services. A nil logger discards
// logs; a nil now uses time.Now.
func NewServer(s Services, logger *slog.Logger, now func() time.Time) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	srv := &Server{svc: s, logger: logger, now: now, mux: http.NewServeMux()}
	srv.routes()
	return srv
}

// routes registers every endpoint. api/openapi.yaml lists the same ones; a
// test keeps the two in step.
func (s *Server) routes() {
	s.handle("GET /healthz", s.health)
	s.handle("GET /readyz", s.ready)

	s.handle("POST /api/v1/customers", s.registerCustomer)
	s.handle("GET /api/v1/customers", s.listCustomers)
	s.handle("GET /api/v1/customers/{id}", s.getCustomer)
	s.handle("PATCH /api/v1/customers/{id}", s.updateCustomer)
	s.handle("POST /api/v1/customers/{id}/verify-email", s.verifyCustomerEmail)
	s.handle("GET /api/v1/customers/{id}/events", s.listCustomerEvents)

	s.handle("POST /api/v1/quotations", s.requestQuotation)
	s.handle("GET /api/v1/quotations/{id}", s.getQuotation)

	s.handle("POST /api/v1/policies", s.createPolicy)
	s.handle("GET /api/v1/policies", s.listPolicies)
	s.handle("POST /api/v1/policies/expiry-scan", s.scanExpiringPolicies)
	s.handle("GET /api/v1/policies/{id}", s.getPolicy)
	s.handle("POST /api/v1/policies/{id}/renew", s.renewPolicy)

	s.handle("GET /api/v1/messages", s.listMessages)

	s.handle("GET /api/v1/documents/{id}", s.getDocument)

	s.handle("GET /api/v1/events", s.readEvents)

	s.handle("GET /api/v1/dead-letters", s.listDeadLetters)
	s.handle("POST /api/v1/dead-letters/{id}/retry", s.retryDeadLetter)

	s.handle("GET /api/v1/providers", s.listProviders)

	s.handle("GET /api/v1/webhooks/whatsapp", s.verifyWhatsAppWebhook)
	s.handle("POST /api/v1/webhooks/whatsapp", s.receiveWhatsAppWebhook)
}

// Routes returns the pattern of every endpoint, in the order registered,
// such as "POST /api/v1/customers".
func (s *Server) Routes() []string {
	return append([]string(nil), s.patterns...)
}

// handlerFunc is an endpoint. It writes its own success response and
// returns an error for anything else, which handle turns into a response
// with writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(pattern string, h handlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// ServeHTTP serves one request: it assigns the request id, logs the
// request, recovers panics and dispatches to the endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	id := requestID(r)
	w.Header().Set(headerRequestID, id)
	r = r.WithContext(withRequestID(r.Context(), id))
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		// r.Pattern is set by the mux on this same *http.Request.
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.logger.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", sw.statusCode()),
			slog.Int64("duration_ms", s.now().Sub(start).Milliseconds()),
			slog.String("request_id", id),
		)
	}()
	s.recoverPanics(sw, r)
}

// recoverPanics dispatches r and turns a panic into a 500 response (or,
// when the response has already begun, into an aborted connection).
func (s *Server) recoverPanics(w *statusWriter, r *http.Request) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.logger.LogAttrs(r.Context(), slog.LevelError, "panic in handler",
			slog.String("method", r.Method),
			slog.String("route", r.Pattern),
			slog.String("request_id", requestIDFrom(r.Context())),
			slog.Any("panic", v),
			slog.String("stack", string(debug.Stack())),
		)
		if w.wroteHeader {
			panic(http.ErrAbortHandler)
		}
		s.writeError(w, r, errPanic)
	}()
	s.dispatch(w, r)
}

// dispatch hands r to the mux, except that requests matching no route are
// answered with a JSON 404 or 405 rather than the mux's plain text.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// The mux's own handler for an unmatched request sets Allow for a
	// method that is not allowed. Run it against a scratch writer to learn
	// its verdict.
	var c capture
	h.ServeHTTP(&c, r)
	switch c.status {
	case http.StatusMethodNotAllowed:
		allow := c.header.Get("Allow")
		w.Header().Set("Allow", allow)
		s.writeError(w, r, apperr.New(codeMethodNotAllowed, "method %s is not allowed here; use %s", r.Method, allow))
	default:
		s.writeError(w, r, apperr.New(apperr.NotFound, "there is no such resource; see api/openapi.yaml for the routes"))
	}
}
