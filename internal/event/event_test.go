package event_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"insure/internal/event"
)

// thingHappened is registered at schema version 1 and validates itself.
type thingHappened struct {
	N     int    `json:"n"`
	Label string `json:"label,omitempty"`
}

func (thingHappened) EventName() string { return "ThingHappened" }

var errNegative = errors.New("n must not be negative")

func (t thingHappened) Validate() error {
	if t.N < 0 {
		return errNegative
	}
	return nil
}

// otherHappened is registered at schema version 2 and has no Validate.
// Version 1 called its field "text".
type otherHappened struct {
	S string `json:"s"`
}

// renameText upcasts OtherHappened version 1 to 2.
func renameText(data json.RawMessage) (json.RawMessage, error) {
	var v1 struct {
		Text string `json:"text"`
	}
	if err := event.UnmarshalStrict(data, &v1); err != nil {
		return nil, err
	}
	return json.Marshal(otherHappened{S: v1.Text})
}

func (otherHappened) EventName() string { return "OtherHappened" }

// unencodable cannot be marshalled to JSON.
type unencodable struct {
	F func() `json:"f"`
}

func (unencodable) EventName() string { return "Unencodable" }

// neverRegistered is a payload no registry knows.
type neverRegistered struct{}

func (neverRegistered) EventName() string { return "NeverRegistered" }

func definitions() []event.Definition {
	return []event.Definition{
		{Name: "ThingHappened", AggregateType: "thing", SchemaVersion: 1, New: func() event.Payload { return &thingHappened{} }},
		{Name: "OtherHappened", AggregateType: "thing", SchemaVersion: 2, New: func() event.Payload { return &otherHappened{} },
			Upcasters: map[int]event.Upcaster{1: renameText}},
		{Name: "Unencodable", AggregateType: "thing", SchemaVersion: 1, New: func() event.Payload { return &unencodable{} }},
	}
}

func setup(t testing.TB) *event.Registry {
	t.Helper()
	reg := event.NewRegistry()
	if err := reg.Register(definitions()...); err != nil {
		t.Fatalf("register: %v", err)
	}
	return reg
}

func TestNewID(t *testing.T) {
	t.Parallel()
	prev := ""
	for i := range 2000 {
		before := time.Now().UnixMilli()
		id := event.NewID()
		after := time.Now().UnixMilli()

		u, err := uuid.Parse(id)
		if err != nil {
			t.Fatalf("NewID() = %q: %v", id, err)
		}
		if u.Version() != 7 {
			t.Fatalf("NewID() = %q: version %d, want 7", id, u.Version())
		}
		if u.Variant() != uuid.RFC4122 {
			t.Fatalf("NewID() = %q: variant %v, want RFC 4122", id, u.Variant())
		}
		if id != u.String() || !event.ValidID(id) {
			t.Fatalf("NewID() = %q is not in canonical form", id)
		}
		var ms [8]byte
		copy(ms[2:], u[:6])
		if got := int64(binary.BigEndian.Uint64(ms[:])); got < before || got > after {
			t.Fatalf("NewID() = %q embeds unix ms %d, want within [%d, %d]", id, got, before, after)
		}
		if id <= prev {
			t.Fatalf("call %d: NewID() = %q, not after the previous %q", i, id, prev)
		}
		prev = id
	}
}

func TestDerivedID(t *testing.T) {
	t.Parallel()
	parent := event.NewID()
	other := event.NewID()

	a := event.DerivedID(parent, "welcome-email")
	if !event.ValidID(a) {
		t.Fatalf("DerivedID = %q, not a UUID", a)
	}
	if u := uuid.MustParse(a); u.Version() != 5 {
		t.Errorf("DerivedID = %q: version %d, want 5", a, u.Version())
	}
	if again := event.DerivedID(parent, "welcome-email"); again != a {
		t.Errorf("DerivedID is not deterministic: %q then %q", a, again)
	}
	if b := event.DerivedID(parent, "admin-email"); b == a {
		t.Errorf("DerivedID gives %q for two names", a)
	}
	if c := event.DerivedID(other, "welcome-email"); c == a {
		t.Errorf("DerivedID gives %q for two parents", a)
	}

	// A parent that is not a UUID still gives a stable, valid id that
	// depends on both parent and name.
	x := event.DerivedID("request-42", "audit")
	if !event.ValidID(x) {
		t.Fatalf("DerivedID(non-UUID parent) = %q, not a UUID", x)
	}
	for _, tc := range []struct{ parent, name string }{
		{"request-42", "audit"},
		{"request-43", "audit"},
		{"request-42", "audit2"},
		{"", "audit"},
	} {
		got := event.DerivedID(tc.parent, tc.name)
		if want := tc.parent == "request-42" && tc.name == "audit"; (got == x) != want {
			t.Errorf("DerivedID(%q, %q) = %q; equal to DerivedID(request-42, audit) = %v, want %v", tc.parent, tc.name, got, got == x, want)
		}
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{event.NewID(), true},
		{"0190d4a2-7c1e-7b3a-9f00-123456789abc", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"", false},
		{"not-a-uuid", false},
		{"0190d4a27c1e7b3a9f00123456789abc", false},                // no dashes
		{"{0190d4a2-7c1e-7b3a-9f00-123456789abc}", false},          // braces
		{"urn:uuid:0190d4a2-7c1e-7b3a-9f00-123456789abc", false},   // URN
		{"0190d4a2-7c1e-7b3a-9f00-123456789ab", false},             // short
		{"0190d4a2-7c1e-7b3a-9f00-123456789abcd", false},           // long
		{"0190d4a2-7c1e-7b3a-9f00-123456789abg", false},            // not hex
		{"0190d4a2x7c1e-7b3a-9f00-123456789abc", false},            // wrong separator
		{"0190d4a2-7c1e-7b3a-9f00-123456789ab\x00", false},         // NUL
		{" 0190d4a2-7c1e-7b3a-9f00-123456789ab", false},            // space
		{"0190d4a2-7c1e-7b3a-9f00-123456789abc' OR 1=1 --", false}, // injection
	}
	for _, tt := range tests {
		if got := event.ValidID(tt.in); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRegister(t *testing.T) {
	t.Parallel()
	newThing := func() event.Payload { return &thingHappened{} }
	tests := []struct {
		name    string
		defs    []event.Definition
		wantErr string // "" for success
	}{
		{"ok", definitions(), ""},
		{"empty name", []event.Definition{{Name: "", AggregateType: "thing", SchemaVersion: 1, New: newThing}}, "empty name"},
		{"empty aggregate type", []event.Definition{{Name: "ThingHappened", SchemaVersion: 1, New: newThing}}, "empty aggregate type"},
		{"schema version 0", []event.Definition{{Name: "ThingHappened", AggregateType: "thing", SchemaVersion: 0, New: newThing}}, "schema version 0"},
		{"negative schema version", []event.Definition{{Name: "ThingHappened", AggregateType: "thing", SchemaVersion: -1, New: newThing}}, "schema version -1"},
		{"nil constructor", []event.Definition{{Name: "ThingHappened", AggregateType: "thing", SchemaVersion: 1}}, "no constructor"},
		{"duplicate in one call", []event.Definition{
			{Name: "ThingHappened", AggregateType: "thing", SchemaVersion: 1, New: newThing},
			{Name: "ThingHappened", AggregateType: "thing", SchemaVersion: 2, New: newThing},
		}, "already registered"},
		{"constructor makes another event", []event.Definition{
			{Name: "OtherHappened", AggregateType: "thing", SchemaVersion: 1, New: newThing},
		}, "constructor makes ThingHappened"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := event.NewRegistry().Register(tt.defs...)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Register: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Register succeeded, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Register error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}

	t.Run("duplicate across calls keeps the first", func(t *testing.T) {
		t.Parallel()
		reg := setup(t)
		err := reg.Register(event.Definition{Name: "ThingHappened", AggregateType: "other", SchemaVersion: 9, New: newThing})
		if err == nil || !strings.Contains(err.Error(), "already registered") {
			t.Fatalf("Register duplicate: err = %v, want already registered", err)
		}
		d, ok := reg.Lookup("ThingHappened")
		if !ok || d.AggregateType != "thing" || d.SchemaVersion != 1 {
			t.Fatalf("Lookup after rejected duplicate = %+v, %v; want the original definition", d, ok)
		}
	})
}

func TestNames(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff([]string{}, event.NewRegistry().Names()); diff != "" {
		t.Errorf("empty registry Names() (-want +got):\n%s", diff)
	}
	want := []string{"OtherHappened", "ThingHappened", "Unencodable"}
	if diff := cmp.Diff(want, setup(t).Names()); diff != "" {
		t.Errorf("Names() (-want +got):\n%s", diff)
	}
	if _, ok := setup(t).Lookup("NeverRegistered"); ok {
		t.Error("Lookup(NeverRegistered) = true")
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	ist := time.FixedZone("IST", 5*3600+1800)
	now := time.Date(2026, 3, 10, 9, 30, 0, 123456789, ist)

	tests := []struct {
		name string
		p    event.Payload
		c    event.Context
		// want is the metadata apart from EventID; an empty CorrelationID
		// here means "the event's own id".
		want          event.Metadata
		wantName      string
		wantSchema    int
		wantData      string
		wantOwnCorrID bool
	}{
		{
			name: "full context",
			p:    thingHappened{N: 3, Label: "x"},
			c: event.Context{CorrelationID: "corr-1", CausationID: "cause-1", Actor: "user:alice",
				Channel: "web", IP: "203.0.113.9", UserAgent: "curl/8"},
			want: event.Metadata{CorrelationID: "corr-1", CausationID: "cause-1", Actor: "user:alice",
				Channel: "web", IP: "203.0.113.9", UserAgent: "curl/8", OccurredAt: now.UTC()},
			wantName: "ThingHappened", wantSchema: 1, wantData: `{"n":3,"label":"x"}`,
		},
		{
			name:     "empty context defaults",
			p:        &otherHappened{S: "y"},
			want:     event.Metadata{Actor: "system", OccurredAt: now.UTC()},
			wantName: "OtherHappened", wantSchema: 2, wantData: `{"s":"y"}`,
			wantOwnCorrID: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := event.New(tt.p, tt.c, reg, now)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			id := got.Metadata.EventID
			if u, err := uuid.Parse(id); err != nil || u.Version() != 7 {
				t.Fatalf("EventID = %q, want a UUIDv7 (%v)", id, err)
			}
			want := event.Pending{
				Name:          tt.wantName,
				SchemaVersion: tt.wantSchema,
				Data:          json.RawMessage(tt.wantData),
				Payload:       tt.p,
				Metadata:      tt.want,
			}
			want.Metadata.EventID = id
			if tt.wantOwnCorrID {
				want.Metadata.CorrelationID = id
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("New (-want +got):\n%s", diff)
			}
			if loc := got.Metadata.OccurredAt.Location(); loc != time.UTC {
				t.Errorf("OccurredAt location = %v, want UTC", loc)
			}
		})
	}

	t.Run("every event gets its own id", func(t *testing.T) {
		t.Parallel()
		a, errA := event.New(thingHappened{}, event.Context{}, reg, now)
		b, errB := event.New(thingHappened{}, event.Context{}, reg, now)
		if errA != nil || errB != nil {
			t.Fatalf("New: %v, %v", errA, errB)
		}
		if a.Metadata.EventID == b.Metadata.EventID {
			t.Fatalf("two events share id %s", a.Metadata.EventID)
		}
	})

	t.Run("unregistered payload", func(t *testing.T) {
		t.Parallel()
		_, err := event.New(neverRegistered{}, event.Context{}, reg, now)
		if !errors.Is(err, event.ErrUnknownEvent) {
			t.Fatalf("New(unregistered) err = %v, want ErrUnknownEvent", err)
		}
	})

	t.Run("unencodable payload", func(t *testing.T) {
		t.Parallel()
		_, err := event.New(unencodable{F: func() {}}, event.Context{}, reg, now)
		if err == nil || errors.Is(err, event.ErrUnknownEvent) {
			t.Fatalf("New(unencodable) err = %v, want an encoding error", err)
		}
	})
}

func envelope(name string, schema int, data string) event.Envelope {
	return event.Envelope{EventID: event.NewID(), EventName: name, AggregateType: "thing", AggregateID: "t-1",
		AggregateVersion: 1, SchemaVersion: schema, Data: json.RawMessage(data)}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	tests := []struct {
		name    string
		env     event.Envelope
		want    event.Payload // nil when an error is expected
		wantIs  error         // checked with errors.Is when set
		wantMsg string        // checked with strings.Contains when set
	}{
		{name: "thing", env: envelope("ThingHappened", 1, `{"n":7,"label":"a"}`), want: &thingHappened{N: 7, Label: "a"}},
		{name: "omitted fields are zero", env: envelope("ThingHappened", 1, `{}`), want: &thingHappened{}},
		{name: "older schema version", env: envelope("OtherHappened", 1, `{"text":"old"}`), want: &otherHappened{S: "old"}},
		{name: "older schema version in the current shape", env: envelope("OtherHappened", 1, `{"s":"old"}`), wantIs: event.ErrUpcast},
		{name: "current schema version", env: envelope("OtherHappened", 2, `{"s":"new"}`), want: &otherHappened{S: "new"}},
		{name: "surrounding whitespace", env: envelope("ThingHappened", 1, " \n{\"n\":1}\n "), want: &thingHappened{N: 1}},

		{name: "unknown event", env: envelope("NeverRegistered", 1, `{}`), wantIs: event.ErrUnknownEvent},
		{name: "empty event name", env: envelope("", 1, `{}`), wantIs: event.ErrUnknownEvent},
		{name: "schema version 0", env: envelope("ThingHappened", 0, `{"n":1}`), wantMsg: "schema version 0 is not supported"},
		{name: "negative schema version", env: envelope("ThingHappened", -3, `{"n":1}`), wantMsg: "schema version -3 is not supported"},
		{name: "newer schema version", env: envelope("ThingHappened", 2, `{"n":1}`), wantMsg: "schema version 2 is not supported"},
		{name: "much newer schema version", env: envelope("OtherHappened", 3, `{"s":"x"}`), wantMsg: "schema version 3 is not supported"},
		{name: "unknown field", env: envelope("ThingHappened", 1, `{"n":1,"extra":true}`), wantMsg: "unknown field"},
		{name: "malformed JSON", env: envelope("ThingHappened", 1, `{"n":`), wantMsg: "decode event"},
		{name: "empty data", env: envelope("ThingHappened", 1, ``), wantMsg: "decode event"},
		{name: "wrong type", env: envelope("ThingHappened", 1, `{"n":"seven"}`), wantMsg: "decode event"},
		{name: "array", env: envelope("ThingHappened", 1, `[1]`), wantMsg: "decode event"},
		{name: "trailing object", env: envelope("ThingHappened", 1, `{"n":1}{"n":2}`), wantMsg: "decode event"},
		{name: "trailing garbage", env: envelope("ThingHappened", 1, `{"n":1} x`), wantMsg: "decode event"},
		{name: "invalid data", env: envelope("ThingHappened", 1, `{"n":-1}`), wantIs: errNegative},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := reg.Decode(tt.env)
			if tt.want != nil {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("Decode (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("Decode = %#v, want an error", got)
			}
			if got != nil {
				t.Errorf("Decode returned payload %#v with error %v", got, err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Decode err = %v, want errors.Is %v", err, tt.wantIs)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Decode err = %q, want it to contain %q", err, tt.wantMsg)
			}
			if !strings.Contains(err.Error(), tt.env.EventID) {
				t.Errorf("Decode err = %q does not name the event id %s", err, tt.env.EventID)
			}
		})
	}
}

// TestNewDecodeRoundTrip checks that what New encodes, Decode reads back.
func TestNewDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	for _, p := range []event.Payload{thingHappened{N: 5, Label: "ü\u2028<>&"}, otherHappened{S: ""}} {
		pe, err := event.New(p, event.Context{}, reg, time.Now())
		if err != nil {
			t.Fatalf("New(%#v): %v", p, err)
		}
		env := event.Envelope{EventID: pe.Metadata.EventID, EventName: pe.Name, SchemaVersion: pe.SchemaVersion, Data: pe.Data}
		got, err := reg.Decode(env)
		if err != nil {
			t.Fatalf("Decode(New(%#v)): %v", p, err)
		}
		if diff := cmp.Diff(p, deref(got)); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func deref(p event.Payload) event.Payload {
	switch v := p.(type) {
	case *thingHappened:
		return *v
	case *otherHappened:
		return *v
	}
	return p
}

func TestDecodeAs(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	env := envelope("ThingHappened", 1, `{"n":2}`)

	got, err := event.DecodeAs[*thingHappened](reg, env)
	if err != nil {
		t.Fatalf("DecodeAs[*thingHappened]: %v", err)
	}
	if diff := cmp.Diff(&thingHappened{N: 2}, got); diff != "" {
		t.Errorf("DecodeAs (-want +got):\n%s", diff)
	}

	other, err := event.DecodeAs[*otherHappened](reg, env)
	if err == nil || !strings.Contains(err.Error(), "want *event_test.otherHappened") {
		t.Errorf("DecodeAs[*otherHappened] of a ThingHappened err = %v, want a type mismatch", err)
	}
	if other != nil {
		t.Errorf("DecodeAs mismatch returned %#v, want nil", other)
	}

	// Decoding errors pass through unchanged.
	if _, err := event.DecodeAs[*thingHappened](reg, envelope("NeverRegistered", 1, `{}`)); !errors.Is(err, event.ErrUnknownEvent) {
		t.Errorf("DecodeAs unknown event err = %v, want ErrUnknownEvent", err)
	}
}

func TestAs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		p      event.Payload
		want   thingHappened
		wantOK bool
	}{
		{"value", thingHappened{N: 1}, thingHappened{N: 1}, true},
		{"pointer", &thingHappened{N: 2}, thingHappened{N: 2}, true},
		{"nil pointer", (*thingHappened)(nil), thingHappened{}, false},
		{"nil payload", nil, thingHappened{}, false},
		{"other value", otherHappened{S: "x"}, thingHappened{}, false},
		{"other pointer", &otherHappened{S: "x"}, thingHappened{}, false},
	}
	for _, tt := range tests {
		got, ok := event.As[thingHappened](tt.p)
		if ok != tt.wantOK {
			t.Errorf("%s: As ok = %v, want %v", tt.name, ok, tt.wantOK)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: As (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestContextChild(t *testing.T) {
	t.Parallel()
	parent := event.Context{CorrelationID: "ignored", CausationID: "ignored", Actor: "user:bob", Channel: "web", IP: "198.51.100.1", UserAgent: "ua"}
	tests := []struct {
		name string
		env  event.Envelope
		want event.Context
	}{
		{
			name: "keeps the correlation",
			env:  event.Envelope{EventID: "e-1", Metadata: event.Metadata{EventID: "e-1", CorrelationID: "corr-1", CausationID: "c-0"}},
			want: event.Context{CorrelationID: "corr-1", CausationID: "e-1", Actor: "listener:X", Channel: "system"},
		},
		{
			name: "starts a correlation at the event",
			env:  event.Envelope{EventID: "e-2"},
			want: event.Context{CorrelationID: "e-2", CausationID: "e-2", Actor: "listener:X", Channel: "system"},
		},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, parent.Child(tt.env, "listener:X")); diff != "" {
			t.Errorf("%s: Child (-want +got):\n%s", tt.name, diff)
		}
	}
}

// FuzzDecode feeds arbitrary stored events to Decode. It must never panic;
// what it accepts is a registered event at a supported schema version whose
// data is one valid JSON value and which encodes and decodes back to itself.
func FuzzDecode(f *testing.F) {
	for _, s := range []struct {
		name   string
		schema int
		data   string
	}{
		{"ThingHappened", 1, `{"n":1,"label":"a"}`},
		{"ThingHappened", 1, `{"n":-1}`},
		{"ThingHappened", 1, `{"n":1,"x":2}`},
		{"ThingHappened", 1, `{"n":1}{"n":2}`},
		{"ThingHappened", 1, `null`},
		{"ThingHappened", 1, `{"n":1e400}`},
		{"ThingHappened", 2, `{}`},
		{"ThingHappened", 0, `{}`},
		{"OtherHappened", 2, `{"s":"\ud800"}`},
		{"OtherHappened", 1, `[]`},
		{"OtherHappened", 1, `{"text":"t"}`},
		{"Unencodable", 1, `{"f":null}`},
		{"Unencodable", 1, `{}`},
		{"NeverRegistered", 1, `{}`},
		{"", -1, ``},
	} {
		f.Add(s.name, s.schema, []byte(s.data))
	}
	reg := setup(f)
	f.Fuzz(func(t *testing.T, name string, schema int, data []byte) {
		env := event.Envelope{EventID: event.NewID(), EventName: name, SchemaVersion: schema, Data: data}
		p, err := reg.Decode(env)
		if err != nil {
			if p != nil {
				t.Fatalf("Decode returned %#v with error %v", p, err)
			}
			_, known := reg.Lookup(name)
			if !known && !errors.Is(err, event.ErrUnknownEvent) {
				t.Fatalf("Decode(%q) err = %v, want ErrUnknownEvent", name, err)
			}
			return
		}
		d, ok := reg.Lookup(name)
		switch {
		case !ok:
			t.Fatalf("Decode accepted unregistered event %q", name)
		case schema < 1 || schema > d.SchemaVersion:
			t.Fatalf("Decode accepted %s at schema version %d (registered %d)", name, schema, d.SchemaVersion)
		case p == nil || p.EventName() != name:
			t.Fatalf("Decode(%s) = %#v", name, p)
		case !json.Valid(data):
			t.Fatalf("Decode(%s) accepted data %q that is not one JSON value", name, data)
		}
		b, err := json.Marshal(p)
		if err != nil {
			// Only a payload that cannot be encoded at all may fail here.
			if name != "Unencodable" {
				t.Fatalf("marshal decoded %s: %v", name, err)
			}
			return
		}
		// What Decode returns is in the current shape: it decodes again as
		// the current version.
		env.Data, env.SchemaVersion = b, d.SchemaVersion
		p2, err := reg.Decode(env)
		if err != nil {
			t.Fatalf("decode re-encoded %s %s: %v", name, b, err)
		}
		if diff := cmp.Diff(p, p2); diff != "" {
			t.Fatalf("re-encode round trip of %s (-first +second):\n%s", name, diff)
		}
	})
}
