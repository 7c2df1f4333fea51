package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	"insure/internal/apperr"
)

// Server is the HTTP API. It implements http.Handler.
type Server struct {
	svc    Services
	logger *slog.Logger
	now    func() time.Time
	mux    *http.ServeMux
	// access is the access table (accessTable, except in tests).
	access map[string]rule
	// readModels is the read-model table (readModelTable).
	readModels map[string][]string
	// patterns lists every pattern registered on mux, in order.
	patterns []string
	// errs collects what is wrong with the routes as they are registered.
	errs []error
	// limiter counts requests against the budgets of s.svc.Limits.
	limiter *limiter
	// streams ends the event streams when their http.Server shuts down.
	streams streamHub
}

// NewServer returns the API over the given services. A nil logger discards
// logs; a nil now uses time.Now.
//
// Every route but the public ones (the health checks and the WhatsApp
// webhook) takes a bearer token, which s.Auth authenticates; without
// s.Auth every such request is answered with 401. NewServer fails when a
// route has no entry in the access table (access.go), or an entry names no
// route: that is a bug in this package, not in its caller's input. It
// also fails when s.Limits has a negative field.
//
// Every response carries the security headers (see securityHeaders), and
// every request to a route is counted against the rate limits of
// s.Limits (ratelimit.go).
//
// Reads of personal, event and audit data are recorded through s.Access
// before they are served (see recordAccess); without s.Access they are
// served unrecorded, and NewServer logs a warning that says so.
func NewServer(s Services, logger *slog.Logger, now func() time.Time) (*Server, error) {
	return newServer(s, logger, now, accessTable())
}

// newServer is NewServer with the given access table.
func newServer(s Services, logger *slog.Logger, now func() time.Time, access map[string]rule) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	if err := s.Limits.validate(); err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	srv := &Server{svc: s, logger: logger, now: now, mux: http.NewServeMux(), access: access, readModels: readModelTable(), limiter: newLimiter(s.Limits.withDefaults())}
	srv.routes()
	if err := srv.checkAccess(); err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	if s.Auth == nil {
		logger.Warn("the API has no authenticator: every request to a route that takes a bearer token is answered with 401")
	}
	if s.Access == nil {
		logger.Warn("access recording is off (the API has no access recorder): reads of customers and events are served without a record of who read them, and GET /api/v1/audit/access answers 404")
	}
	return srv, nil
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
	s.handle("DELETE /api/v1/customers/{id}/personal-data", s.eraseCustomer)

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
	s.handle("GET /api/v1/events/stream", s.streamEvents)

	s.handle("GET /api/v1/audit/access", s.listAccesses)

	s.handle("GET /api/v1/dead-letters", s.listDeadLetters)
	s.handle("POST /api/v1/dead-letters/{id}/retry", s.retryDeadLetter)
	s.handle("POST /api/v1/dead-letters/{id}/discard", s.discardDeadLetter)

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

// handle registers h for pattern behind the access rule the access table
// gives pattern. A pattern the table does not list, or that is registered
// twice or that the mux refuses, is not registered: it is recorded as an
// error, which makes NewServer fail.
func (s *Server) handle(pattern string, h handlerFunc) {
	if slices.Contains(s.patterns, pattern) {
		s.errs = append(s.errs, fmt.Errorf("route %q is registered twice", pattern))
		return
	}
	s.patterns = append(s.patterns, pattern)
	// ServeMux panics on a pattern it cannot parse or that conflicts with
	// another; NewServer reports that as an error instead.
	defer func() {
		if v := recover(); v != nil {
			s.errs = append(s.errs, fmt.Errorf("route %q: %v", pattern, v))
		}
	}()
	rule, ok := s.access[pattern]
	if !ok {
		s.errs = append(s.errs, fmt.Errorf("route %q has no entry in the access table (access.go); say which roles may call it", pattern))
		return
	}
	if err := checkRule(pattern, rule); err != nil {
		s.errs = append(s.errs, err)
		return
	}
	if names, ok := s.readModels[pattern]; ok {
		h = s.consistent(names, h)
	}
	if strings.HasPrefix(pattern, http.MethodPost+" ") && !rule.public {
		// Every POST that takes a token accepts Idempotency-Key; the
		// WhatsApp webhook (public, called by Meta, which sends none)
		// does not.
		h = s.idempotent(pattern, h)
	}
	if rule.public {
		h = s.limitedByIP(h)
	} else {
		h = s.authorized(pattern, rule, h)
	}
	h = s.withDeadline(pattern, h)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w, r = withPositionHeader(w, r)
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// checkAccess returns the errors found while the routes were registered,
// and an error for each entry of the access table that names no route.
func (s *Server) checkAccess() error {
	errs := s.errs
	var stale []string
	for pattern := range s.access {
		if !slices.Contains(s.patterns, pattern) {
			stale = append(stale, pattern)
		}
	}
	sort.Strings(stale)
	for _, pattern := range stale {
		errs = append(errs, fmt.Errorf("the access table (access.go) has an entry for %q, which is not a route; remove it or fix its pattern", pattern))
	}
	stale = stale[:0]
	for pattern := range s.readModels {
		if !slices.Contains(s.patterns, pattern) {
			stale = append(stale, pattern)
		}
	}
	sort.Strings(stale)
	for _, pattern := range stale {
		errs = append(errs, fmt.Errorf("the read-model table (access.go) has an entry for %q, which is not a route; remove it or fix its pattern", pattern))
	}
	return errors.Join(errs...)
}

// ServeHTTP serves one request: it assigns the request id, sets the
// security headers, logs the request, recovers panics and dispatches to
// the endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	id := requestID(r)
	w.Header().Set(headerRequestID, id)
	securityHeaders(w.Header(), r)
	caller := &callerInfo{}
	ctx := withCaller(withRequestID(r.Context(), id), caller)
	end := func(string, string, int) {}
	if s.svc.Observer != nil {
		ctx, end = s.svc.Observer.StartRequest(ctx, r)
	}
	r = r.WithContext(ctx)
	// A mux in front of the API (GET /metrics beside it) has set the
	// pattern it matched; the route is the API's own, or none.
	r.Pattern = ""
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		// r.Pattern is set by the mux on this same *http.Request.
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		end(r.Method, routePath(route), sw.statusCode())
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", sw.statusCode()),
			slog.Int64("duration_ms", s.now().Sub(start).Milliseconds()),
			slog.String("request_id", id),
		}
		s.logger.LogAttrs(r.Context(), slog.LevelInfo, "http request", append(attrs, caller.attrs()...)...)
	}()
	s.recoverPanics(sw, r)
}

// routePath is a route pattern without its method: "/api/v1/customers"
// for "POST /api/v1/customers".
func routePath(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		return pattern[i+1:]
	}
	return pattern
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
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("route", r.Pattern),
			slog.String("request_id", requestIDFrom(r.Context())),
			slog.Any("panic", v),
			slog.String("stack", string(debug.Stack())),
		}
		s.logger.LogAttrs(r.Context(), slog.LevelError, "panic in handler", append(attrs, callerFrom(r.Context()).attrs()...)...)
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
