package dashboard

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"insure/internal/apperr"
	"insure/internal/auth"
)

// The cookies. Both are HttpOnly, SameSite=Strict, scoped to Prefix, and
// Secure when the request came over TLS.
const (
	// sessionCookie holds the session id.
	sessionCookie = "insure_dashboard"
	// loginCookie holds the login form's nonce (login CSRF): a form
	// posted from elsewhere lacks it.
	loginCookie = "insure_dashboard_login"
	// csrfField and csrfHeader carry the session's CSRF token.
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
	// maxForm is the largest form body read.
	maxForm = 64 << 10
)

type sessionKey struct{}

// sessionFrom returns the session seen put in ctx (the zero Session on a
// public route).
func sessionFrom(ctx context.Context) Session {
	s, _ := ctx.Value(sessionKey{}).(Session)
	return s
}

// cookie returns a dashboard cookie: Secure when the request came over
// TLS or the public URL is https (TLS ends at a proxy).
func (h *Handler) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: h.secure(r)}
}

// secure reports whether browsers reach the dashboard over TLS: this
// request came over TLS, or the public URL is https.
func (h *Handler) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(h.cfg.PublicURL, "https://")
}

// current returns the request's live session: its cookie names a session
// that exists, has not expired and whose token is not revoked. An expired
// one is deleted. ErrNoSession: there is none.
func (h *Handler) current(r *http.Request) (Session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || !wellFormedSecret(c.Value) {
		return Session{}, ErrNoSession
	}
	return h.check(r.Context(), hashSessionID(c.Value))
}

// check looks a session up by its id's hash and checks it is still good.
func (h *Handler) check(ctx context.Context, idHash string) (Session, error) {
	s, err := h.cfg.Sessions.Lookup(ctx, idHash)
	if err != nil {
		return Session{}, err
	}
	if !h.cfg.Now().Before(s.ExpiresAt) {
		if err := h.cfg.Sessions.Delete(ctx, idHash); err != nil {
			h.cfg.Logger.Warn("dashboard: deleting an expired session failed", "error", err.Error())
		}
		return Session{}, ErrNoSession
	}
	if !mayLogIn(s.Principal.Role) {
		return Session{}, ErrNoSession
	}
	return s, nil
}

// seen wraps a handler that needs a session. Without one, a page request
// is sent to the login page and anything else is answered 401.
func (h *Handler) seen(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.current(r)
		if errors.Is(err, ErrNoSession) {
			if r.Method == http.MethodGet && r.URL.Path != Prefix+"/live" {
				http.SetCookie(w, h.cookie(r, sessionCookie, "", -1))
				http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "log in to the dashboard first", http.StatusUnauthorized)
			return
		}
		if err != nil {
			h.fail(w, r, apperr.Wrap(apperr.Unavailable, err, "the session could not be checked; try again in a moment"))
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	}
}

// changes wraps a handler that changes something (a POST): the request
// must come from the dashboard's own pages (Sec-Fetch-Site and Origin,
// where the browser sends them) and carry the session's CSRF token, in the
// form field csrf or the X-CSRF-Token header.
func (h *Handler) changes(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h.sameOrigin(r); err != nil {
			h.fail(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			h.fail(w, r, apperr.New(apperr.Malformed, "the form could not be read"))
			return
		}
		token := r.Header.Get(csrfHeader)
		if token == "" {
			token = r.PostForm.Get(csrfField)
		}
		want := sessionFrom(r.Context()).CSRF
		if want == "" || subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
			h.fail(w, r, apperr.New(apperr.Forbidden, "the form's CSRF token is missing or stale; reload the page and try again"))
			return
		}
		next(w, r)
	}
}

// sameOrigin refuses a request that the browser says came from another
// site: Sec-Fetch-Site other than same-origin (or none, typed by the
// user), or an Origin other than this server's.
func (h *Handler) sameOrigin(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return apperr.New(apperr.Forbidden, "this form was sent from another site (Sec-Fetch-Site: %s); use the dashboard's own pages", site)
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		if !strings.EqualFold(origin, scheme+"://"+r.Host) && (h.publicOrigin == "" || !strings.EqualFold(origin, h.publicOrigin)) {
			return apperr.New(apperr.Forbidden, "this form was sent from another origin; use the dashboard's own pages")
		}
	}
	return nil
}

// loginData is the login page's data.
type loginData struct {
	Nonce string
}

// loginPage serves the login form, or sends a logged-in user on.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := h.current(r); err == nil {
		http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
		return
	}
	h.renderLogin(w, r, http.StatusOK, "")
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	nonce := newSecret()
	http.SetCookie(w, h.cookie(r, loginCookie, nonce, int(time.Hour/time.Second)))
	v := view{Title: "Log in", Nav: "login", Error: msg, Data: loginData{Nonce: nonce}}
	h.render(w, r, status, "login", v)
}

// login checks the token and starts a session.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if err := h.sameOrigin(r); err != nil {
		h.fail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		h.renderLogin(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	c, err := r.Cookie(loginCookie)
	nonce := r.PostForm.Get("nonce")
	if err != nil || nonce == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(nonce)) != 1 {
		h.renderLogin(w, r, http.StatusForbidden, "The login form expired or came from elsewhere; try again.")
		return
	}
	ip := clientIP(r)
	if !h.logins.allow(ip) {
		h.renderLogin(w, r, http.StatusTooManyRequests, "Too many failed logins from this address; wait a few minutes.")
		return
	}
	raw := strings.TrimSpace(r.PostForm.Get("token"))
	p, err := h.cfg.Auth.Authenticate(r.Context(), raw)
	if apperr.IsCode(err, apperr.Unauthorized) {
		h.logins.fail(ip)
		h.renderLogin(w, r, http.StatusUnauthorized, "That token is not valid: it is unknown, mistyped or revoked.")
		return
	}
	if err != nil {
		h.cfg.Logger.Warn("dashboard: login failed", "error", err.Error())
		h.renderLogin(w, r, http.StatusServiceUnavailable, "The token could not be checked; try again in a moment.")
		return
	}
	if !mayLogIn(p.Role) {
		h.renderLogin(w, r, http.StatusForbidden, "Tokens of role "+string(p.Role)+" are for programs and cannot log in to the dashboard; use an admin, auditor or agent token.")
		return
	}
	now := h.cfg.Now().UTC()
	if _, err := h.cfg.Sessions.DeleteExpired(r.Context(), now); err != nil {
		h.cfg.Logger.Warn("dashboard: deleting expired sessions failed", "error", err.Error())
	}
	id := newSecret()
	s := Session{IDHash: hashSessionID(id), Principal: p, CSRF: newSecret(), CreatedAt: now, ExpiresAt: now.Add(h.cfg.SessionTTL)}
	if err := h.cfg.Sessions.Create(r.Context(), s); err != nil {
		h.cfg.Logger.Warn("dashboard: creating a session failed", "error", err.Error())
		h.renderLogin(w, r, http.StatusServiceUnavailable, "The session could not be started; try again in a moment.")
		return
	}
	h.cfg.Logger.Info("dashboard: login", "actor", p.Actor(), "role", string(p.Role))
	http.SetCookie(w, h.cookie(r, loginCookie, "", -1))
	http.SetCookie(w, h.cookie(r, sessionCookie, id, int(h.cfg.SessionTTL/time.Second)))
	http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
}

// logout ends the session.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	if err := h.cfg.Sessions.Delete(r.Context(), s.IDHash); err != nil {
		h.fail(w, r, apperr.Wrap(apperr.Unavailable, err, "the session could not be ended; try again in a moment"))
		return
	}
	h.cfg.Logger.Info("dashboard: logout", "actor", s.Principal.Actor())
	http.SetCookie(w, h.cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

// clientIP is the host of the peer's address; forwarding headers are not
// trusted.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if net.ParseIP(host) == nil {
		return ""
	}
	return host
}

// limiter counts failed logins per address over a sliding window.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	fails  map[string][]time.Time
}

func newLimiter(max int, window time.Duration, now func() time.Time) *limiter {
	return &limiter{max: max, window: window, now: now, fails: map[string][]time.Time{}}
}

// allow reports whether addr may try to log in.
func (l *limiter) allow(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(addr)) < l.max
}

// fail counts a failed login from addr.
func (l *limiter) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fails[addr] = append(l.recent(addr), l.now())
	// Forget quiet addresses now and then, so the map stays small.
	if len(l.fails) > 10_000 {
		for a := range l.fails {
			if len(l.recent(a)) == 0 {
				delete(l.fails, a)
			}
		}
	}
}

// recent returns addr's failures inside the window (l.mu held).
func (l *limiter) recent(addr string) []time.Time {
	cut := l.now().Add(-l.window)
	ts := l.fails[addr]
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, addr)
	} else {
		l.fails[addr] = ts
	}
	return ts
}

// principalOf returns the logged-in principal (for access records).
func principalOf(r *http.Request) auth.Principal { return sessionFrom(r.Context()).Principal }
