package audit_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/audit"
	"insure/internal/event"
)

const (
	custID  = "0193a5f2-0000-7d3a-9b1f-2f4e5d6c7b8a"
	srcID   = "0193a5f2-2222-7d3a-9b1f-2f4e5d6c7b8a"
	src2ID  = "0193a5f2-4444-7d3a-9b1f-2f4e5d6c7b8a"
	otherID = "0193a5f2-7c1e-7d3a-9b1f-000000000000"
)

var now = time.Date(2026, time.March, 10, 9, 30, 0, 0, time.UTC)

func setup(t *testing.T) *event.Registry {
	t.Helper()
	reg := event.NewRegistry()
	if err := reg.Register(audit.Events()...); err != nil {
		t.Fatalf("register events: %v", err)
	}
	return reg
}

func envelopes(t *testing.T, id string, from int64, at time.Time, ps ...event.Payload) []event.Envelope {
	t.Helper()
	var envs []event.Envelope
	for i, p := range ps {
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal %s: %v", p.EventName(), err)
		}
		envs = append(envs, event.Envelope{
			EventID:          event.NewID(),
			EventName:        p.EventName(),
			AggregateType:    audit.AggregateType,
			AggregateID:      id,
			AggregateVersion: from + int64(i) + 1,
			SchemaVersion:    1,
			Data:             data,
			OccurredAt:       at.Add(time.Duration(i) * time.Minute),
		})
	}
	return envs
}

func must(t *testing.T) func([]event.Payload, error) []event.Payload {
	return func(ps []event.Payload, err error) []event.Payload {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
}

func TestActionFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"CustomerRegistered", "customer.registered", true},
		{"CustomerProfileUpdated", "customer.profile_updated", true},
		{"CustomerEmailVerified", "customer.email_verified", true},
		{"CustomerPersonalDataErased", "customer.personal_data_erased", true},
		{"QuotationRequested", "quotation.requested", true},
		{"QuotationGenerated", "quotation.generated", true},
		{"QuotationGenerationFailed", "quotation.generation_failed", true},
		{"PolicyCreated", "policy.created", true},
		{"PolicyRenewed", "policy.renewed", true},
		{"PolicyExpiringWarning", "policy.expiring_warning", true},
		{"EmailQueued", "message.email_queued", true},
		{"MessageSent", "message.sent", true},
		{"CustomerActionLogged", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := audit.ActionFor(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ActionFor(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	names := audit.EventNames()
	if len(names) != 15 || names[0] != "CustomerEmailVerified" {
		t.Fatalf("EventNames = %v", names)
	}
	for _, n := range names {
		a, ok := audit.ActionFor(n)
		if !ok {
			t.Errorf("EventNames lists %s but ActionFor does not map it", n)
		}
		// Every action is itself acceptable to LogAction.
		if _, err := audit.LogAction(custID, a, srcID, n, "system", "x"); err != nil {
			t.Errorf("action %s: %v", a, err)
		}
	}
}

func TestLogAction(t *testing.T) {
	t.Parallel()
	ps, err := audit.LogAction(custID, "customer.registered", srcID, "CustomerRegistered", " admin:42 ", " Customer registered via web ")
	if err != nil {
		t.Fatal(err)
	}
	want := []event.Payload{&audit.ActionLogged{CustomerID: custID, Action: "customer.registered", SourceEventID: srcID,
		SourceEventName: "CustomerRegistered", Actor: "admin:42", Summary: "Customer registered via web"}}
	if diff := cmp.Diff(want, ps); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}

	type args struct{ customer, action, source, name, actor, summary string }
	valid := args{custID, "customer.registered", srcID, "CustomerRegistered", "system", "Customer registered via web"}
	tests := []struct {
		name  string
		edit  func(*args)
		field string
	}{
		{"no customer", func(a *args) { a.customer = "" }, "customer_id"},
		{"customer not a UUID", func(a *args) { a.customer = "c-1" }, "customer_id"},
		{"no action", func(a *args) { a.action = "" }, "action"},
		{"action upper case", func(a *args) { a.action = "Customer.Registered" }, "action"},
		{"action with space", func(a *args) { a.action = "customer registered" }, "action"},
		{"action empty word", func(a *args) { a.action = "customer..registered" }, "action"},
		{"action trailing dot", func(a *args) { a.action = "customer." }, "action"},
		{"action too long", func(a *args) { a.action = strings.Repeat("a", 101) }, "action"},
		{"no source", func(a *args) { a.source = "" }, "source_event_id"},
		{"source not a UUID", func(a *args) { a.source = "e-1" }, "source_event_id"},
		{"no source name", func(a *args) { a.name = " " }, "source_event_name"},
		{"no actor", func(a *args) { a.actor = "" }, "actor"},
		{"actor too long", func(a *args) { a.actor = strings.Repeat("a", 201) }, "actor"},
		{"no summary", func(a *args) { a.summary = "  " }, "summary"},
		{"summary too long", func(a *args) { a.summary = strings.Repeat("s", 501) }, "summary"},
		{"summary with newline", func(a *args) { a.summary = "line one\nline two" }, "summary"},
		{"summary invalid utf-8", func(a *args) { a.summary = "bad \xff" }, "summary"},
		{"summary with email", func(a *args) { a.summary = "Customer asha@example.com registered" }, "summary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := valid
			tt.edit(&a)
			ps, err := audit.LogAction(a.customer, a.action, a.source, a.name, a.actor, a.summary)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || e.Field != tt.field {
				t.Fatalf("LogAction error = %v, want invalid %q", err, tt.field)
			}
			if ps != nil {
				t.Fatalf("events on error: %v", ps)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	var all []event.Payload
	l := &audit.Log{}
	for _, ps := range [][]event.Payload{
		must(t)(audit.LogAction(custID, "customer.registered", srcID, "CustomerRegistered", "system", "Customer registered via web")),
		must(t)(audit.LogAction(custID, "customer.email_verified", src2ID, "CustomerEmailVerified", "customer", "Email address verified")),
	} {
		for _, p := range ps {
			if err := l.Apply(p); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, ps...)
	}
	envs := envelopes(t, custID, 0, now, all...)
	got, err := audit.Rebuild(envs, reg)
	if err != nil {
		t.Fatal(err)
	}
	want := &audit.Log{ID: custID, CustomerID: custID, Entries: []audit.Entry{
		{Action: "customer.registered", SourceEventID: srcID, SourceEventName: "CustomerRegistered", Actor: "system", Summary: "Customer registered via web", LoggedAt: now},
		{Action: "customer.email_verified", SourceEventID: src2ID, SourceEventName: "CustomerEmailVerified", Actor: "customer", Summary: "Email address verified", LoggedAt: now.Add(time.Minute)},
	}, Version: 2, CreatedAt: now, UpdatedAt: now.Add(time.Minute)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("rebuilt log (-want +got):\n%s", diff)
	}
	if !got.Logged(src2ID) || got.Logged(otherID) {
		t.Fatal("Logged disagrees with the entries")
	}
	for i, env := range envs {
		p, err := reg.Decode(env)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(all[i], p); diff != "" {
			t.Fatalf("event %d (-decided +decoded):\n%s", i, diff)
		}
	}
}

func TestRebuildErrors(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	e1 := must(t)(audit.LogAction(custID, "customer.registered", srcID, "CustomerRegistered", "system", "Registered"))[0]
	e2 := must(t)(audit.LogAction(otherID, "customer.registered", src2ID, "CustomerRegistered", "system", "Registered"))[0]
	tests := []struct {
		name    string
		envs    func(t *testing.T) []event.Envelope
		wantErr string
	}{
		{"no events", func(t *testing.T) []event.Envelope { return nil }, "not found"},
		{"other aggregate type", func(t *testing.T) []event.Envelope {
			envs := envelopes(t, custID, 0, now, e1)
			envs[0].AggregateType = "customer"
			return envs
		}, `aggregate type "customer"`},
		{"other aggregate", func(t *testing.T) []event.Envelope {
			return append(envelopes(t, custID, 0, now, e1), envelopes(t, otherID, 1, now, e1)...)
		}, "belongs to audit log"},
		{"gap", func(t *testing.T) []event.Envelope {
			return append(envelopes(t, custID, 0, now, e1), envelopes(t, custID, 2, now, e1)...)
		}, "version 3, want 2"},
		{"two customers", func(t *testing.T) []event.Envelope { return envelopes(t, custID, 0, now, e1, e2) }, "in the log of customer"},
		{"corrupt entry", func(t *testing.T) []event.Envelope {
			envs := envelopes(t, custID, 0, now, e1)
			envs[0].Data = json.RawMessage(`{"customer_id":"` + custID + `","action":"x","source_event_id":"` + srcID + `","source_event_name":"N","actor":"a","summary":""}`)
			return envs
		}, "summary: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := audit.Rebuild(tt.envs(t), reg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Rebuild = %+v, %v; want an error containing %q", l, err, tt.wantErr)
			}
			if apperr.CodeOf(err) == apperr.Invalid {
				t.Fatalf("a corrupt stored event must not look like bad input: %v", err)
			}
		})
	}
}

type foreign struct{}

func (foreign) EventName() string { return "CustomerRegistered" }

func TestApplyRejects(t *testing.T) {
	t.Parallel()
	var l audit.Log
	for i, p := range []event.Payload{nil, foreign{}, (*audit.ActionLogged)(nil)} {
		if err := l.Apply(p); err == nil {
			t.Errorf("Apply(#%d %T) succeeded", i, p)
		}
	}
	if l.Version != 0 || l.Entries != nil {
		t.Fatalf("log changed on error: %+v", l)
	}
	if err := l.Apply(audit.ActionLogged{CustomerID: custID, Action: "a"}); err != nil || len(l.Entries) != 1 {
		t.Fatalf("Apply(value) = %v, %+v", err, l)
	}
}

func TestValidateIsPlain(t *testing.T) {
	t.Parallel()
	err := audit.ActionLogged{}.Validate()
	if err == nil {
		t.Fatal("empty entry validated")
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		t.Fatalf("Validate returned an application error %v; stored-event errors must be plain", err)
	}
}

func FuzzDecodeEvents(f *testing.F) {
	f.Add(audit.EventActionLogged, []byte(`{"customer_id":"`+custID+`","action":"customer.registered","source_event_id":"`+srcID+`","source_event_name":"CustomerRegistered","actor":"system","summary":"Customer registered via web"}`))
	f.Add(audit.EventActionLogged, []byte(`{"customer_id":"`+custID+`","action":"Customer","source_event_id":"","source_event_name":"","actor":"","summary":"a@b"}`))
	f.Add(audit.EventActionLogged, []byte(`[]`))
	f.Add("Other", []byte(`{}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		reg := event.NewRegistry()
		if err := reg.Register(audit.Events()...); err != nil {
			t.Fatal(err)
		}
		env := event.Envelope{EventID: event.NewID(), EventName: name, AggregateType: audit.AggregateType,
			AggregateID: custID, AggregateVersion: 1, SchemaVersion: 1, Data: data}
		if l, err := audit.Rebuild([]event.Envelope{env}, reg); err == nil {
			l.Logged(srcID)
		}
		p, err := reg.Decode(env)
		if err != nil {
			return
		}
		b1, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal decoded %s: %v", name, err)
		}
		env.Data = b1
		p2, err := reg.Decode(env)
		if err != nil {
			t.Fatalf("re-decode %s %s: %v", name, b1, err)
		}
		if diff := cmp.Diff(p, p2); diff != "" {
			t.Fatalf("decode, encode, decode changed the payload:\n%s", diff)
		}
	})
}
