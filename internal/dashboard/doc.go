// Package dashboard serves the operator dashboard at /dashboard: plain
// server-rendered pages (html/template), one small script and one
// stylesheet, all embedded in the binary. It shows
//
//   - the event volume per minute and type over the last hour, as an SVG
//     chart drawn on the server;
//   - each listener's jobs, failure rate and p50/p95 processing time;
//   - each queue's jobs per state, the age of its oldest runnable job and
//     its dead letters;
//   - the dead letters, with their error, attempts and ids, and buttons to
//     retry or discard one, a selection or all of them (all and
//     selections, and every discard, are confirmed first);
//   - the event stream, live, filtered by type;
//   - a customer browser: search customers (as GET /api/v1/customers does)
//     and read one's timeline of events with their data and metadata;
//   - the read models' lag and the providers' circuit breakers.
//
// The pages keep themselves up to date over Server-Sent Events
// (GET /dashboard/live): the server re-renders a panel and sends it whole
// when it changed, and the script swaps it in.
//
// # Login, roles and sessions
//
// An operator logs in with an API token (auth.Store.Authenticate). Admins
// and auditors see everything; agents see no event data or metadata, only
// event names, ids, positions and times, and the server refuses them the
// pages that show it; service tokens cannot log in. Auditors change
// nothing; admins and agents retry and discard dead letters.
//
// A login starts a session kept in the dashboard_sessions table: only a
// hash of its id is stored, its cookie is HttpOnly, SameSite=Strict,
// Path=/dashboard and Secure over TLS, and it lasts Config.SessionTTL
// (DASHBOARD_SESSION_TTL). Every request checks the session again,
// together with its token, so a revoked token ends its sessions (and
// their live pages) at once.
//
// # Browser security
//
// Every change is a POST that carries the session's CSRF token (a
// synchronizer token, in a hidden field or the X-CSRF-Token header) and is
// refused when the browser says it came from another site (Origin,
// Sec-Fetch-Site); the login form carries a nonce of its own. The content
// security policy allows scripts, styles and connections from the
// dashboard's origin only, and no inline script or style. Customer
// searches are POSTs, so that their terms (personal data) stay out of
// URLs.
//
// Reads of personal and event data are recorded in the access log as the
// API records them (app.AccessService): customer searches, customer
// profiles and timelines, and the event stream for the roles that see its
// data. A read that cannot be recorded is not shown.
package dashboard
