package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"insure/internal/apperr"
	"insure/internal/audit"
	"insure/internal/event"
	"insure/internal/projection"
	"insure/internal/queue"
)

// The subject types of recorded reads, as the API records them.
const (
	subjectCustomer     = "customer"
	subjectCustomerList = "customer_list"
	subjectEventStream  = "event_stream"
	// channelDashboard is the channel of the dashboard's access records.
	channelDashboard = "dashboard"
)

// The limits of the lists.
const (
	recentEvents  = 50  // events the stream page opens with
	recentScan    = 500 // positions before the head it looks through for them
	maxCustomers  = 50
	maxTypeFilter = 20
)

// overviewPanels are the panels of the overview page.
func overviewPanels() []string {
	return []string{panelSummary, panelChart, panelListeners, panelQueues, panelProjections, panelBreakers, panelWorkers}
}

// liveURL is the live connection's URL for panels (and the event stream
// after position after, of types, when stream is set).
func liveURL(panels []string, stream bool, after int64, types []string) string {
	q := url.Values{}
	q.Set("panels", strings.Join(panels, ","))
	if stream {
		q.Set("stream", "1")
		q.Set("after", strconv.FormatInt(after, 10))
		for _, t := range types {
			q.Add("type", t)
		}
	}
	return Prefix + "/live?" + q.Encode()
}

// overview serves the overview: volume, listeners, queues, projections,
// breakers and workers.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	v := h.newView(r, "Overview", "overview")
	v.Panels = h.collect(r.Context(), overviewPanels())
	v.LiveURL = liveURL(overviewPanels(), false, 0, nil)
	h.render(w, r, http.StatusOK, "overview", v)
}

// deadLetters serves the dead-letter list.
func (h *Handler) deadLetters(w http.ResponseWriter, r *http.Request) {
	v := h.newView(r, "Dead letters", "deadletters")
	panels := []string{panelSummary, panelDeadLetters}
	v.Panels = h.collect(r.Context(), panels)
	v.LiveURL = liveURL(panels, false, 0, nil)
	v.Flash = flash(r.URL.Query())
	h.render(w, r, http.StatusOK, "deadletters", v)
}

// flash is the message a resolve left in the query string it redirected
// to.
func flash(q url.Values) string {
	verb := map[string]string{"retry": "Retried", "discard": "Discarded"}[q.Get("done")]
	if verb == "" {
		return ""
	}
	n, _ := strconv.Atoi(q.Get("n"))
	msg := fmt.Sprintf("%s %d dead letter%s.", verb, n, plural(n))
	if busy, _ := strconv.Atoi(q.Get("busy")); busy > 0 {
		msg += fmt.Sprintf(" %d %s still finishing its last attempt; try again in a moment.", busy, map[bool]string{true: "was", false: "were"}[busy == 1])
	}
	if gone, _ := strconv.Atoi(q.Get("gone")); gone > 0 {
		msg += fmt.Sprintf(" %d had already been resolved or did not exist.", gone)
	}
	return msg
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// confirmData is the confirmation page's data.
type confirmData struct {
	Action string // retry | discard
	Scope  string // all | selected | one
	IDs    []int64
	Count  int
	// UpTo bounds scope "all" to the dead letters counted on the
	// confirmation page: the newest id among them.
	UpTo int64
}

// resolveDeadLetters retries or discards dead letters: one (the form's
// "one"), the selected ones ("sel") or all of them (scope=all). Anything
// but retrying one is confirmed on a page of its own first.
func (h *Handler) resolveDeadLetters(w http.ResponseWriter, r *http.Request) {
	if !mayResolve(principalOf(r).Role) {
		h.fail(w, r, apperr.New(apperr.Forbidden, "role %s may look at dead letters but not retry or discard them", principalOf(r).Role))
		return
	}
	action := r.PathValue("action")
	if action != "retry" && action != "discard" {
		h.fail(w, r, apperr.New(apperr.NotFound, "dead letters can be retried or discarded, not %q", truncate(action, 32)))
		return
	}
	f := r.PostForm
	d := confirmData{Action: action, Scope: f.Get("scope")}
	if d.Scope == "all" && f.Get("confirm") == "yes" {
		upTo, err := strconv.ParseInt(f.Get("upto"), 10, 64)
		if err != nil || upTo <= 0 {
			h.fail(w, r, apperr.New(apperr.Malformed, "the confirmation does not say which dead letters it covers; start again from the list"))
			return
		}
		d.UpTo = upTo
	}
	if one := f.Get("one"); one != "" {
		d.Scope, f["sel"] = "one", []string{one}
	}
	if d.Scope != "all" {
		for _, s := range f["sel"] {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil || id <= 0 {
				h.fail(w, r, apperr.New(apperr.Malformed, "dead letter id %q is not a number", truncate(s, 32)))
				return
			}
			if !slices.Contains(d.IDs, id) {
				d.IDs = append(d.IDs, id)
			}
		}
		if len(d.IDs) == 0 {
			h.fail(w, r, apperr.New(apperr.Invalid, "select at least one dead letter first"))
			return
		}
		d.Count = len(d.IDs)
	}
	if f.Get("confirm") != "yes" && (d.Scope != "one" || action == "discard") {
		if d.Scope == "all" {
			dls, err := h.cfg.DeadLetters.DeadLetters(r.Context(), "dead", 0, 1000)
			if err != nil {
				h.fail(w, r, apperr.Wrap(apperr.Unavailable, err, "the dead letters could not be counted"))
				return
			}
			d.Count = len(dls)
			if d.Count == 0 {
				http.Redirect(w, r, Prefix+"/dead-letters?"+url.Values{"done": {action}, "n": {"0"}}.Encode(), http.StatusSeeOther)
				return
			}
			d.UpTo = dls[len(dls)-1].ID
		}
		v := h.newView(r, "Confirm", "deadletters")
		v.Data = d
		h.render(w, r, http.StatusOK, "confirm", v)
		return
	}
	ctx := r.Context()
	var done, busy, gone int
	switch {
	case d.Scope == "all" && action == "retry":
		dls, err := h.cfg.DeadLetters.RetryUpTo(ctx, d.UpTo)
		done = len(dls)
		if be := (*queue.BusyError)(nil); errors.As(err, &be) {
			busy, err = be.Count, nil
		}
		if err != nil {
			h.fail(w, r, apperr.Wrap(apperr.Unavailable, err, "retrying all dead letters stopped after %d", done))
			return
		}
	case d.Scope == "all":
		dls, err := h.cfg.DeadLetters.DiscardUpTo(ctx, d.UpTo)
		done = len(dls)
		if be := (*queue.BusyError)(nil); errors.As(err, &be) {
			busy, err = be.Count, nil
		}
		if err != nil {
			h.fail(w, r, apperr.Wrap(apperr.Unavailable, err, "discarding all dead letters stopped after %d", done))
			return
		}
	default:
		resolve := h.cfg.DeadLetters.Retry
		if action == "discard" {
			resolve = h.cfg.DeadLetters.Discard
		}
		for _, id := range d.IDs {
			_, err := resolve(ctx, id)
			switch {
			case err == nil:
				done++
			case errors.Is(err, queue.ErrJobBusy):
				busy++
			case errors.Is(err, queue.ErrAlreadyResolved), errors.Is(err, queue.ErrDeadLetterNotFound):
				gone++
			default:
				h.fail(w, r, apperr.Wrap(apperr.Unavailable, err, "dead letter %d could not be resolved (%d were)", id, done))
				return
			}
		}
	}
	h.cfg.Logger.Info("dashboard: dead letters resolved", "actor", principalOf(r).Actor(), "action", action,
		"scope", d.Scope, "done", done, "busy", busy, "gone", gone)
	q := url.Values{"done": {action}, "n": {strconv.Itoa(done)}}
	if busy > 0 {
		q.Set("busy", strconv.Itoa(busy))
	}
	if gone > 0 {
		q.Set("gone", strconv.Itoa(gone))
	}
	http.Redirect(w, r, Prefix+"/dead-letters?"+q.Encode(), http.StatusSeeOther)
}

// eventRow is one event as the dashboard lists it. Data and Metadata are
// filled only for the roles that may see them (maySeeEventData): for the
// others they are never even formatted.
type eventRow struct {
	Position         int64
	EventID          string
	EventName        string
	AggregateType    string
	AggregateID      string
	AggregateVersion int64
	OccurredAt       time.Time
	Data             string
	Metadata         string
}

// rowsOf turns envelopes into rows, newest first, with their data and
// metadata only when withData.
func rowsOf(envs []event.Envelope, withData bool) []eventRow {
	rows := make([]eventRow, 0, len(envs))
	for i := len(envs) - 1; i >= 0; i-- {
		e := envs[i]
		row := eventRow{Position: e.Position, EventID: e.EventID, EventName: e.EventName, AggregateType: e.AggregateType,
			AggregateID: e.AggregateID, AggregateVersion: e.AggregateVersion, OccurredAt: e.OccurredAt.UTC()}
		if withData {
			row.Data = indentJSON(e.Data)
			if md, err := json.Marshal(e.Metadata); err == nil {
				row.Metadata = indentJSON(md)
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func indentJSON(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// eventsData is the stream page's data.
type eventsData struct {
	Names    []string
	Selected []string
	Rows     []eventRow
	Head     int64
}

// eventTypes reads the type filter: names the dashboard knows.
func (h *Handler) eventTypes(q url.Values) ([]string, error) {
	types := q["type"]
	if len(types) > maxTypeFilter {
		return nil, apperr.Field("type", "choose at most %d event types", maxTypeFilter)
	}
	var out []string
	for _, t := range types {
		if t == "" {
			continue
		}
		if !h.known[t] {
			return nil, apperr.Field("type", "%q is not an event type of this system", truncate(t, 64))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// eventsPage serves the live event stream, filtered by type. It opens
// with the latest events; the live connection adds the new ones.
func (h *Handler) eventsPage(w http.ResponseWriter, r *http.Request) {
	types, err := h.eventTypes(r.URL.Query())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx := r.Context()
	head, err := h.cfg.Events.Head(ctx)
	if err != nil {
		h.fail(w, r, apperr.Wrap(apperr.Unavailable, err, "the event stream could not be read"))
		return
	}
	var recent []event.Envelope
	for after := max(head-recentScan, 0); after < head; {
		envs, next, err := h.cfg.Events.Read(ctx, after, recentScan, types)
		if err != nil {
			h.fail(w, r, apperr.Wrap(apperr.Unavailable, err, "the event stream could not be read"))
			return
		}
		if len(envs) == 0 {
			break
		}
		for _, e := range envs {
			if e.Position <= head {
				recent = append(recent, e)
			}
		}
		after = next
	}
	if len(recent) > recentEvents {
		recent = recent[len(recent)-recentEvents:]
	}
	v := h.newView(r, "Event stream", "events")
	// The stream's data holds personal data (sealed as stored): the read
	// is recorded before it is served, as the API records it.
	if v.CanSeeData {
		if err := h.record(r, audit.AccessEventStream, subjectEventStream, ""); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	v.Data = eventsData{Names: h.cfg.EventNames, Selected: types, Rows: rowsOf(recent, v.CanSeeData), Head: head}
	v.Panels = h.collect(ctx, []string{panelSummary})
	v.LiveURL = liveURL([]string{panelSummary}, true, head, types)
	h.render(w, r, http.StatusOK, "events", v)
}

// eventPage serves one event with its data and metadata, as stored: only
// to the roles that may see event data.
func (h *Handler) eventPage(w http.ResponseWriter, r *http.Request) {
	if !maySeeEventData(principalOf(r).Role) {
		h.fail(w, r, apperr.New(apperr.Forbidden, "role %s does not see event data; the stream shows it names, ids, positions and times", principalOf(r).Role))
		return
	}
	pos, err := strconv.ParseInt(r.PathValue("position"), 10, 64)
	if err != nil || pos <= 0 {
		h.fail(w, r, apperr.New(apperr.NotFound, "an event's address is its position, a number such as 42"))
		return
	}
	envs, _, err := h.cfg.Events.Read(r.Context(), pos-1, 1, nil)
	if err != nil {
		h.fail(w, r, apperr.Wrap(apperr.Unavailable, err, "the event stream could not be read"))
		return
	}
	if len(envs) == 0 || envs[0].Position != pos {
		h.fail(w, r, apperr.New(apperr.NotFound, "no event at position %d (it may be archived)", pos))
		return
	}
	if err := h.record(r, audit.AccessEventStream, subjectEventStream, ""); err != nil {
		h.fail(w, r, err)
		return
	}
	v := h.newView(r, envs[0].EventName, "events")
	v.Data = rowsOf(envs, true)[0]
	h.render(w, r, http.StatusOK, "event", v)
}

// customersData is the customer search page's data.
type customersData struct {
	Filter    projection.CustomerFilter
	Searched  bool
	Customers []projection.Customer
	More      bool
}

// customersPage serves the customer search form.
func (h *Handler) customersPage(w http.ResponseWriter, r *http.Request) {
	v := h.newView(r, "Customers", "customers")
	v.Data = customersData{}
	h.render(w, r, http.StatusOK, "customers", v)
}

// searchCustomers lists the customers that match the form, as
// GET /api/v1/customers does. It is a POST so that the search terms,
// personal data, stay out of URLs, history and logs.
func (h *Handler) searchCustomers(w http.ResponseWriter, r *http.Request) {
	f := projection.CustomerFilter{
		Email: strings.TrimSpace(r.PostForm.Get("email")),
		Phone: strings.TrimSpace(r.PostForm.Get("phone")),
		Name:  strings.TrimSpace(r.PostForm.Get("name")),
	}
	v := h.newView(r, "Customers", "customers")
	data := customersData{Filter: f, Searched: true}
	for field, s := range map[string]string{"email": f.Email, "phone": f.Phone, "name": f.Name} {
		if !utf8.ValidString(s) || len(s) > 320 {
			v.Error = field + ": must be valid text of at most 320 bytes"
			v.Data = data
			h.render(w, r, http.StatusUnprocessableEntity, "customers", v)
			return
		}
	}
	list, next, err := h.cfg.Customers.List(r.Context(), f, "", maxCustomers)
	if apperr.IsCode(err, apperr.Invalid) {
		_, v.Error = statusOf(err)
		v.Data = data
		h.render(w, r, http.StatusUnprocessableEntity, "customers", v)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// A page of profiles is a read of personal data: recorded first.
	if err := h.record(r, audit.AccessCustomerList, subjectCustomerList, ""); err != nil {
		h.fail(w, r, err)
		return
	}
	data.Customers, data.More = list, next != ""
	v.Data = data
	h.render(w, r, http.StatusOK, "customers", v)
}

// customerData is the customer page's data.
type customerData struct {
	Customer projection.Customer
	Events   []eventRow
}

// customerPage serves one customer and the timeline of their events, with
// each event's data and metadata (personal fields opened) for the roles
// that may see event data.
func (h *Handler) customerPage(w http.ResponseWriter, r *http.Request) {
	id := strings.ToLower(r.PathValue("id"))
	if !event.ValidID(id) {
		h.fail(w, r, apperr.New(apperr.NotFound, "a customer's address is their id, a UUID"))
		return
	}
	ctx := r.Context()
	c, err := h.cfg.Customers.Get(ctx, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	envs, err := h.cfg.Customers.Events(ctx, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := h.newView(r, "Customer", "customers")
	if err := h.record(r, audit.AccessCustomerProfile, subjectCustomer, id); err != nil {
		h.fail(w, r, err)
		return
	}
	if v.CanSeeData {
		if err := h.record(r, audit.AccessCustomerEvents, subjectCustomer, id); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	rows := rowsOf(envs, v.CanSeeData)
	slices.Reverse(rows) // a timeline reads oldest first
	v.Data = customerData{Customer: c, Events: rows}
	h.render(w, r, http.StatusOK, "customer", v)
}

// record records that the request's principal read a subject's data, as
// the API does (see httpapi's recordAccess). A read that cannot be
// recorded is not served.
func (h *Handler) record(r *http.Request, action, subjectType, subjectID string) error {
	p := principalOf(r)
	ec := event.Context{CorrelationID: event.NewID(), Actor: p.Actor(), Channel: channelDashboard, IP: clientIP(r),
		UserAgent: truncate(r.UserAgent(), 256)}
	if err := h.cfg.Access.Record(r.Context(), ec, string(p.Role), action, subjectType, subjectID); err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "this read could not be recorded, so it is not shown; try again in a moment")
	}
	return nil
}

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// templateFuncs are the helpers the templates use.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"dur": func(d time.Duration) string {
			switch {
			case d <= 0:
				return "–"
			case d < time.Millisecond:
				return fmt.Sprintf("%dµs", d.Microseconds())
			case d < time.Second:
				return fmt.Sprintf("%dms", d.Milliseconds())
			case d < time.Minute:
				return fmt.Sprintf("%.1fs", d.Seconds())
			}
			return d.Round(time.Second).String()
		},
		"pct":  func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
		"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
		"ago": func(now, t time.Time) string {
			return now.Sub(t).Round(time.Second).String()
		},
		"firstLine": func(s string) string {
			line, _, _ := strings.Cut(s, "\n")
			return truncate(line, 160)
		},
		"selected": func(list []string, s string) bool { return slices.Contains(list, s) },
	}
}
