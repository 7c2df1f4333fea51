package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/auth"
	"insure/internal/event"
	"insure/internal/httpapi"
	"insure/internal/projection"
)

// recordedReads are the reads that are recorded, with a good request to
// each and what it must record.
func recordedReads() []struct {
	name, target                   string
	action, subjectType, subjectID string
} {
	return []struct {
		name, target                   string
		action, subjectType, subjectID string
	}{
		{"customer profile", "/api/v1/customers/" + customerID, "customer.profile", "customer", customerID},
		{"customer events", "/api/v1/customers/" + customerID + "/events", "customer.events", "customer", customerID},
		{"event stream", "/api/v1/events?after=3", "events.stream", "event_stream", ""},
		{"access log", "/api/v1/audit/access?subject=" + customerID, "audit.access", "access_log", customerID},
		{"whole access log", "/api/v1/audit/access", "audit.access", "access_log", ""},
	}
}

// TestReadsAreRecorded: each served read records exactly one access, with
// the token's actor and role, the request's metadata, and its action and
// subject.
func TestReadsAreRecorded(t *testing.T) {
	t.Parallel()
	for _, tt := range recordedReads() {
		for _, role := range []auth.Role{auth.RoleAuditor, auth.RoleAdmin} {
			t.Run(tt.name+"/"+string(role), func(t *testing.T) {
				t.Parallel()
				h := setup(t)
				w := h.do("GET", tt.target, "", as(tokenFor(role)), header("X-Correlation-ID", correlationID))
				wantStatus(t, w, http.StatusOK)
				want := []recordedAccess{{
					EC: event.Context{
						CorrelationID: correlationID, Actor: "token:" + testPrincipals()[tokenFor(role)].Name,
						Channel: "api", IP: "192.0.2.1", UserAgent: "insure-test/1.0",
					},
					Role: string(role), Action: tt.action, SubjectType: tt.subjectType, SubjectID: tt.subjectID,
				}}
				if diff := cmp.Diff(want, h.f.recorded.all()); diff != "" {
					t.Errorf("recorded (-want +got):\n%s", diff)
				}
			})
		}
	}

	t.Run("the service role's stream reads", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		wantStatus(t, h.do("GET", "/api/v1/events", "", as(serviceToken)), http.StatusOK)
		got := h.f.recorded.all()
		if len(got) != 1 || got[0].Role != "service" || got[0].EC.Actor != "token:test-service" || got[0].Action != "events.stream" {
			t.Errorf("recorded %+v, want one events.stream read by token:test-service (service)", got)
		}
	})

	t.Run("a page of customers is one recorded read", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		wantStatus(t, h.do("GET", "/api/v1/customers", ""), http.StatusOK)
		got := h.f.recorded.all()
		if len(got) != 1 || got[0].Action != "customer.list" || got[0].SubjectType != "customer_list" || got[0].Role != "admin" {
			t.Errorf("recorded %+v, want one customer.list read", got)
		}
	})

	t.Run("other reads are not recorded", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		for _, target := range []string{"/api/v1/policies/" + policyID, "/api/v1/messages"} {
			wantStatus(t, h.do("GET", target, ""), http.StatusOK)
		}
		if got := h.f.recorded.all(); len(got) != 0 {
			t.Errorf("recorded %+v", got)
		}
	})
}

// TestRefusedReadsAreNotRecorded: a read that is not served (404, 403,
// 401, 422, or a failing read) records nothing.
func TestRefusedReadsAreNotRecorded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target string
		opts   []option
		edit   func(*fakes)
		status int
	}{
		{"unknown customer", "/api/v1/customers/" + unknownID, nil, nil, http.StatusNotFound},
		{"customer id not a UUID", "/api/v1/customers/42", []option{wrong()}, nil, http.StatusNotFound},
		{"unknown customer's events", "/api/v1/customers/" + unknownID + "/events", nil, func(f *fakes) {
			f.customers.EventsFn = func(context.Context, string) ([]event.Envelope, error) {
				return nil, apperr.New(apperr.NotFound, "no such customer")
			}
		}, http.StatusNotFound},
		{"agent reads customer events", "/api/v1/customers/" + customerID + "/events", []option{as(agentToken)}, nil, http.StatusForbidden},
		{"agent reads the stream", "/api/v1/events", []option{as(agentToken)}, nil, http.StatusForbidden},
		{"agent reads the access log", "/api/v1/audit/access", []option{as(agentToken)}, nil, http.StatusForbidden},
		{"service reads the access log", "/api/v1/audit/access", []option{as(serviceToken)}, nil, http.StatusForbidden},
		{"service reads a customer", "/api/v1/customers/" + customerID, []option{as(serviceToken)}, nil, http.StatusForbidden},
		{"bad token", "/api/v1/customers/" + customerID, []option{as("nope")}, nil, http.StatusUnauthorized},
		{"bad stream query", "/api/v1/events?after=-1", []option{wrong()}, nil, http.StatusUnprocessableEntity},
		{"bad access log subject", "/api/v1/audit/access?subject=42", []option{wrong()}, nil, http.StatusUnprocessableEntity},
		{"stream unavailable", "/api/v1/events", nil, func(f *fakes) {
			f.events.ReadFn = func(context.Context, int64, int, []string) ([]event.Envelope, int64, error) {
				return nil, 0, apperr.New(apperr.Unavailable, "down")
			}
		}, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			if tt.edit != nil {
				tt.edit(h.f)
			}
			w := h.do("GET", tt.target, "", tt.opts...)
			wantStatus(t, w, tt.status)
			if got := h.f.recorded.all(); len(got) != 0 {
				t.Errorf("recorded %+v", got)
			}
		})
	}
}

// TestUnrecordedReadsAreNotServed: when the access cannot be recorded the
// read fails, and the response holds none of the data read.
func TestUnrecordedReadsAreNotServed(t *testing.T) {
	t.Parallel()
	c := testCustomer()
	personal := []string{c.Name, c.Email, c.Phone, "Asha"}
	for _, tt := range recordedReads() {
		for _, fail := range []struct {
			name   string
			err    error
			status int
			code   string
		}{
			{"unavailable", apperr.New(apperr.Unavailable, "the event store is not answering; try again in a minute"), http.StatusServiceUnavailable, "unavailable"},
			{"bug", errors.New("access log: constraint violated"), http.StatusInternalServerError, "internal"},
		} {
			t.Run(tt.name+"/"+fail.name, func(t *testing.T) {
				t.Parallel()
				h := setup(t)
				h.f.access.ListFn = func(context.Context, string, string, int) ([]projection.Access, string, error) {
					a := testAccess(eventID)
					a.UserAgent = c.Name // data that must not leak either
					return []projection.Access{a}, "", nil
				}
				calls := 0
				h.f.access.RecordFn = func(context.Context, event.Context, string, string, string, string) error {
					calls++
					return fail.err
				}
				w := h.do("GET", tt.target, "")
				wantError(t, w, fail.status, fail.code, "")
				if calls != 1 {
					t.Errorf("Record called %d times, want 1", calls)
				}
				for _, s := range personal {
					if strings.Contains(w.Body.String(), s) {
						t.Errorf("the response holds %q: %s", s, w.Body.String())
					}
				}
				if got := w.Header().Get("ETag"); got != "" {
					t.Errorf("ETag = %q on an error", got)
				}
			})
		}
	}
}

// TestWithoutAccessRecording: without an Access service the reads are
// served unrecorded, NewServer warns of it once, and the access log is
// not there.
func TestWithoutAccessRecording(t *testing.T) {
	t.Parallel()
	h := setupServices(t, func(s *httpapi.Services) { s.Access = nil })
	for _, target := range []string{"/api/v1/customers/" + customerID, "/api/v1/customers/" + customerID + "/events", "/api/v1/events"} {
		wantStatus(t, h.do("GET", target, ""), http.StatusOK)
	}
	wantError(t, h.do("GET", "/api/v1/audit/access", ""), http.StatusNotFound, "not_found", "")
	if got := strings.Count(h.logs.String(), "access recording is off"); got != 1 {
		t.Errorf("%d warnings that access recording is off, want 1:\n%s", got, h.logs.String())
	}

	full := setup(t)
	if strings.Contains(full.logs.String(), "access recording is off") {
		t.Errorf("a server with an Access service warns that recording is off:\n%s", full.logs.String())
	}
}

func TestListAccesses(t *testing.T) {
	t.Parallel()

	type call struct {
		Subject, After string
		Limit          int
	}
	tests := []struct {
		query    string
		want     call
		next     string
		wantNext *string
	}{
		{query: "", want: call{"", "", 50}},
		{query: "?subject=" + customerID, want: call{customerID, "", 50}},
		{query: "?subject=" + strings.ToUpper(customerID), want: call{customerID, "", 50}},
		{query: "?subject=&after=c1&limit=200", want: call{"", "c1", 200}, next: "c2", wantNext: ptr("c2")},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			var got call
			h.f.access.ListFn = func(_ context.Context, subject, after string, limit int) ([]projection.Access, string, error) {
				got = call{subject, after, limit}
				return []projection.Access{testAccess(eventID)}, tt.next, nil
			}
			w := h.do("GET", "/api/v1/audit/access"+tt.query, "", as(auditorToken))
			wantStatus(t, w, http.StatusOK)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("call (-want +got):\n%s", diff)
			}
			type list struct {
				Accesses []projection.Access `json:"accesses"`
				Next     *string             `json:"next"`
			}
			want := list{Accesses: []projection.Access{testAccess(eventID)}, Next: tt.wantNext}
			if diff := cmp.Diff(want, decodeJSON[list](t, w)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.access.ListFn = func(context.Context, string, string, int) ([]projection.Access, string, error) {
			return nil, "", nil
		}
		w := h.do("GET", "/api/v1/audit/access", "")
		wantStatus(t, w, http.StatusOK)
		if got, want := w.Body.String(), `{"accesses":[],"next":null}`+"\n"; got != want {
			t.Errorf("body = %q, want %q", got, want)
		}
	})

	t.Run("pages", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		// The fake pages through five accesses of the customer (and one of
		// another), its cursor being the index of the next one.
		var log []projection.Access
		for i := range 6 {
			a := testAccess(strings.Replace(eventID, "06", "1"+strconv.Itoa(i), 1))
			if i == 2 {
				a.SubjectID = unknownID
			}
			log = append(log, a)
		}
		h.f.access.ListFn = func(_ context.Context, subject, after string, limit int) ([]projection.Access, string, error) {
			start := 0
			if after != "" {
				n, err := strconv.Atoi(after)
				if err != nil {
					return nil, "", apperr.Field("after", "is not a cursor returned by this endpoint")
				}
				start = n
			}
			var out []projection.Access
			for i := start; i < len(log); i++ {
				if subject != "" && log[i].SubjectID != subject {
					continue
				}
				if len(out) == limit {
					return out, strconv.Itoa(i), nil
				}
				out = append(out, log[i])
			}
			return out, "", nil
		}
		var ids []string
		target := "/api/v1/audit/access?subject=" + customerID + "&limit=2"
		for pages := 0; ; pages++ {
			if pages == 5 {
				t.Fatal("the pages do not end")
			}
			w := h.do("GET", target, "", as(auditorToken))
			wantStatus(t, w, http.StatusOK)
			type list struct {
				Accesses []projection.Access `json:"accesses"`
				Next     *string             `json:"next"`
			}
			page := decodeJSON[list](t, w)
			for _, a := range page.Accesses {
				ids = append(ids, a.ID)
			}
			if page.Next == nil {
				break
			}
			target = "/api/v1/audit/access?subject=" + customerID + "&limit=2&after=" + *page.Next
		}
		want := []string{log[0].ID, log[1].ID, log[3].ID, log[4].ID, log[5].ID}
		if diff := cmp.Diff(want, ids); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
		if got := len(h.f.recorded.all()); got != 3 {
			t.Errorf("%d reads recorded for 3 pages", got)
		}
		wantError(t, h.do("GET", "/api/v1/audit/access?after=garbage", "", as(auditorToken)), http.StatusUnprocessableEntity, "invalid", "after")
	})

	bad := []struct{ query, field string }{
		{"subject=42", "subject"},
		{"subject=not-a-uuid", "subject"},
		{"subject=" + customerID + "&subject=" + unknownID, "subject"},
		{"limit=0", "limit"},
		{"limit=201", "limit"},
		{"after=" + strings.Repeat("c", 201), "after"},
	}
	for _, tt := range bad {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			called := false
			h.f.access.ListFn = func(context.Context, string, string, int) ([]projection.Access, string, error) {
				called = true
				return nil, "", nil
			}
			w := h.do("GET", "/api/v1/audit/access?"+tt.query, "", wrong())
			wantError(t, w, http.StatusUnprocessableEntity, "invalid", tt.field)
			if called {
				t.Error("the access service was asked")
			}
		})
	}
}
