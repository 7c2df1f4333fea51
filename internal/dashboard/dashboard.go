package dashboard

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"insure/internal/apperr"
	"insure/internal/auth"
)

// Prefix is where the dashboard is mounted.
const Prefix = "/dashboard"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what New needs. Every dependency is required.
type Config struct {
	Auth        Authenticator
	Sessions    SessionStore
	Metrics     Metrics
	DeadLetters DeadLetters
	Projections Projections
	Breakers    Breakers
	Events      Events
	Customers   Customers
	Access      Access
	// EventNames are the event types the stream can be filtered by.
	EventNames []string
	// PublicURL is the address browsers use (PUBLIC_URL), when insure sits
	// behind a proxy: its origin is accepted on forms besides the
	// request's own, and an https one makes the cookies Secure. Empty:
	// only the request's own origin.
	PublicURL string

	// SessionTTL is how long a session lasts after its login
	// (DASHBOARD_SESSION_TTL; default 8h).
	SessionTTL time.Duration
	// Refresh is how often the live pages are brought up to date (default
	// 2s; the chart and the listeners' figures every fifth time); EventPoll, how often the live event stream looks for new
	// events (default 500ms); Heartbeat, how long the live connection may
	// be quiet before a keepalive comment (default 15s).
	Refresh   time.Duration
	EventPoll time.Duration
	Heartbeat time.Duration
	// LoginFailures is how many failed logins one address may make in
	// LoginWindow before it must wait (default 10 per 5 minutes).
	LoginFailures int
	LoginWindow   time.Duration

	Logger *slog.Logger
	Now    func() time.Time
}

func (c Config) withDefaults() Config {
	if c.SessionTTL <= 0 {
		c.SessionTTL = 8 * time.Hour
	}
	if c.Refresh <= 0 {
		c.Refresh = 2 * time.Second
	}
	if c.EventPoll <= 0 {
		c.EventPoll = 500 * time.Millisecond
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.LoginFailures <= 0 {
		c.LoginFailures = 10
	}
	if c.LoginWindow <= 0 {
		c.LoginWindow = 5 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	var missing []string
	for _, d := range []struct {
		name string
		nil  bool
	}{
		{"Auth", c.Auth == nil}, {"Sessions", c.Sessions == nil}, {"Metrics", c.Metrics == nil},
		{"DeadLetters", c.DeadLetters == nil}, {"Projections", c.Projections == nil}, {"Breakers", c.Breakers == nil},
		{"Events", c.Events == nil}, {"Customers", c.Customers == nil}, {"Access", c.Access == nil},
	} {
		if d.nil {
			missing = append(missing, d.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("dashboard: Config lacks %v; wire every dependency", missing)
	}
	return nil
}

// Handler serves the dashboard under Prefix.
type Handler struct {
	cfg    Config
	mux    *http.ServeMux
	pages  map[string]*template.Template
	panels *template.Template
	static http.Handler
	logins *limiter
	known  map[string]bool // cfg.EventNames
	hub    shutdownHub
	// publicOrigin is cfg.PublicURL's scheme and host ("" without one).
	publicOrigin string
	volume       volumeCache
}

// New returns the dashboard handler.
func New(cfg Config) (*Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), logins: newLimiter(cfg.LoginFailures, cfg.LoginWindow, cfg.Now),
		known: map[string]bool{}}
	for _, n := range cfg.EventNames {
		h.known[n] = true
	}
	if err := h.parseTemplates(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	h.static = http.StripPrefix(Prefix+"/static/", http.FileServerFS(sub))
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("dashboard: public URL %q is not an http or https URL", cfg.PublicURL)
		}
		h.publicOrigin = u.Scheme + "://" + u.Host
	}
	h.routes()
	return h, nil
}

// parseTemplates parses each page with the layout and the panels, and the
// panels alone for the live updates.
func (h *Handler) parseTemplates() error {
	funcs := templateFuncs()
	h.pages = map[string]*template.Template{}
	for _, page := range []string{"login", "overview", "deadletters", "confirm", "events", "event", "customers", "customer", "error"} {
		t, err := template.New(page).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/panels.html", "templates/"+page+".html")
		if err != nil {
			return fmt.Errorf("dashboard template %s: %w", page, err)
		}
		h.pages[page] = t
	}
	t, err := template.New("panels").Funcs(funcs).ParseFS(templateFS, "templates/panels.html")
	if err != nil {
		return fmt.Errorf("dashboard panels: %w", err)
	}
	h.panels = t
	return nil
}

// ServeHTTP implements http.Handler: every response carries the security
// headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header(), h.secure(r))
	h.mux.ServeHTTP(w, r)
}

// routes registers every route. Who may call each is said where it is
// registered: public (login, assets), any dashboard role (seen), or a
// narrower check inside the handler (changes, raw event data).
func (h *Handler) routes() {
	h.mux.HandleFunc("GET "+Prefix+"/{$}", h.seen(h.overview))
	h.mux.HandleFunc("GET "+Prefix+"/login", h.loginPage)
	h.mux.HandleFunc("POST "+Prefix+"/login", h.login)
	h.mux.HandleFunc("POST "+Prefix+"/logout", h.seen(h.changes(h.logout)))
	h.mux.Handle("GET "+Prefix+"/static/", h.assets())
	h.mux.HandleFunc("GET "+Prefix+"/dead-letters", h.seen(h.deadLetters))
	h.mux.HandleFunc("POST "+Prefix+"/dead-letters/{action}", h.seen(h.changes(h.resolveDeadLetters)))
	h.mux.HandleFunc("GET "+Prefix+"/events", h.seen(h.eventsPage))
	h.mux.HandleFunc("GET "+Prefix+"/events/{position}", h.seen(h.eventPage))
	h.mux.HandleFunc("GET "+Prefix+"/customers", h.seen(h.customersPage))
	h.mux.HandleFunc("POST "+Prefix+"/customers", h.seen(h.changes(h.searchCustomers)))
	h.mux.HandleFunc("GET "+Prefix+"/customers/{id}", h.seen(h.customerPage))
	h.mux.HandleFunc("GET "+Prefix+"/live", h.seen(h.live))
	h.mux.HandleFunc(Prefix+"/", h.seen(func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, apperr.New(apperr.NotFound, "there is no dashboard page at %s", r.URL.Path))
	}))
}

// The content security policy of every dashboard response: scripts,
// styles and connections from the dashboard's own origin only, no inline
// script or style, no framing, no plugins.
const valueCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// securityHeaders sets the headers every dashboard response carries.
func securityHeaders(hd http.Header, secure bool) {
	hd.Set("Content-Security-Policy", valueCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	if secure {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// assets serves the embedded CSS and JS. They hold nothing private, so
// they may be cached, but are revalidated.
func (h *Handler) assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.static.ServeHTTP(w, r)
	})
}

// Roles: who sees what.
//
//   - admin sees everything and may change everything.
//   - auditor sees everything, raw event data included, and changes
//     nothing.
//   - agent sees the metrics, the dead letters (and retries and discards
//     them, as through the API) and customers, but no event data or
//     metadata: event names, ids, positions and times only.
//   - service tokens are for machines: they cannot log in.
func mayLogIn(r auth.Role) bool {
	return slices.Contains([]auth.Role{auth.RoleAdmin, auth.RoleAuditor, auth.RoleAgent}, r)
}

// maySeeEventData reports whether role may see event data and metadata.
func maySeeEventData(r auth.Role) bool { return r == auth.RoleAdmin || r == auth.RoleAuditor }

// mayResolve reports whether role may retry and discard dead letters.
func mayResolve(r auth.Role) bool { return r == auth.RoleAdmin || r == auth.RoleAgent }

// view is what every page's template gets.
type view struct {
	Title   string
	Nav     string
	Session Session
	// LiveURL is where the page's live updates come from ("" for none).
	LiveURL string
	// CanSeeData and CanResolve are the role's rights (maySeeEventData,
	// mayResolve).
	CanSeeData bool
	CanResolve bool
	Flash      string
	Error      string
	Data       any
	// Panels holds the data of the page's panels, by name.
	Panels map[string]any
}

// LoggedIn reports whether the page is shown to a logged-in user.
func (v view) LoggedIn() bool { return v.Session.IDHash != "" }

// With returns this view with data as Data (for a template that renders
// part of a page).
func (v view) With(data any) view {
	v.Data = data
	return v
}

// Panel returns the view a panel's template gets: this one, with the
// panel's data as Data.
func (v view) Panel(name string) view {
	v.Data = v.Panels[name]
	return v
}

func (h *Handler) newView(r *http.Request, title, nav string) view {
	s := sessionFrom(r.Context())
	return view{Title: title, Nav: nav, Session: s, CanSeeData: maySeeEventData(s.Principal.Role),
		CanResolve: mayResolve(s.Principal.Role)}
}

// render writes a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := h.pages[page]
	if !ok {
		h.fail(w, r, fmt.Errorf("no template for page %q", page))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		h.cfg.Logger.Error("dashboard: render failed", "page", page, "error", err.Error())
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail renders err as an error page with the status its code means. The
// message of an internal error is logged (without the query string, which
// may hold search terms) and not shown.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := statusOf(err)
	switch {
	case status == http.StatusServiceUnavailable:
		// The cause (a database error, a timeout) is for the log, not
		// the page.
		h.cfg.Logger.Warn("dashboard: request could not be served", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	case status >= 500:
		h.cfg.Logger.Error("dashboard: request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	}
	v := h.newView(r, http.StatusText(status), "")
	v.Error = msg
	h.render(w, r, status, "error", v)
}

// statusOf maps an error to its HTTP status and the message to show.
func statusOf(err error) (int, string) {
	e, ok := apperr.As(err)
	if !ok {
		if errors.Is(err, context.Canceled) {
			return http.StatusServiceUnavailable, "the request was cancelled"
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return http.StatusServiceUnavailable, "the server took too long to answer; try again in a moment"
		}
		return http.StatusInternalServerError, "something went wrong on the server; the error is logged"
	}
	status := map[apperr.Code]int{
		apperr.Invalid: http.StatusUnprocessableEntity, apperr.Malformed: http.StatusBadRequest, apperr.TooLarge: http.StatusRequestEntityTooLarge,
		apperr.NotFound: http.StatusNotFound, apperr.Gone: http.StatusGone, apperr.Conflict: http.StatusConflict,
		apperr.Unavailable: http.StatusServiceUnavailable, apperr.Forbidden: http.StatusForbidden,
		apperr.Unauthorized: http.StatusUnauthorized, apperr.TooManyRequests: http.StatusTooManyRequests,
	}[e.Code]
	if status == 0 {
		return http.StatusInternalServerError, "something went wrong on the server; the error is logged"
	}
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	return status, msg
}

// shutdownHub ends the live connections when the http.Server serving
// them shuts down (Shutdown waits for every handler to return).
type shutdownHub struct {
	mu   sync.Mutex
	done map[*http.Server]chan struct{}
}

// shutdown returns a channel closed when r's http.Server shuts down (nil,
// never closed, for a request that came through none).
func (s *shutdownHub) shutdown(r *http.Request) <-chan struct{} {
	hs, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok || hs == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.done[hs]; ok {
		return ch
	}
	if s.done == nil {
		s.done = map[*http.Server]chan struct{}{}
	}
	ch := make(chan struct{})
	s.done[hs] = ch
	var once sync.Once
	hs.RegisterOnShutdown(func() { once.Do(func() { close(ch) }) })
	return ch
}
