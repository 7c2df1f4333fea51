package event_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/event"
)

// ThingMoved exists only in these tests, to show a chain of upcasters on a
// fake event without inventing a change to a real one. Its versions:
//
//	1: {"thing_id", "from_city", "to_city"}
//	2: {"thing_id", "from", "to"}                      (fields renamed)
//	3: {"thing_id", "from": {"city"}, "to": {"city"}}  (places became objects)
//
// ThingRelocated is a legacy name it replaces: {"destination"}, read as
// version 2 with the thing id taken from the envelope.

type place struct {
	City string `json:"city"`
}

type thingMoved struct {
	ThingID string `json:"thing_id"`
	From    place  `json:"from"`
	To      place  `json:"to"`
}

func (thingMoved) EventName() string { return "ThingMoved" }

func (e thingMoved) Validate() error {
	switch {
	case e.ThingID == "":
		return errors.New("thing_id is required")
	case strings.TrimSpace(e.To.City) == "":
		return errors.New("to.city is required")
	}
	return nil
}

type movedV2 struct {
	ThingID string `json:"thing_id"`
	From    string `json:"from"`
	To      string `json:"to"`
}

func movedV1toV2(data json.RawMessage) (json.RawMessage, error) {
	var v1 struct {
		ThingID  string `json:"thing_id"`
		FromCity string `json:"from_city"`
		ToCity   string `json:"to_city"`
	}
	if err := event.UnmarshalStrict(data, &v1); err != nil {
		return nil, err
	}
	return json.Marshal(movedV2{ThingID: v1.ThingID, From: v1.FromCity, To: v1.ToCity})
}

func movedV2toV3(data json.RawMessage) (json.RawMessage, error) {
	var v2 movedV2
	if err := event.UnmarshalStrict(data, &v2); err != nil {
		return nil, err
	}
	return json.Marshal(thingMoved{ThingID: v2.ThingID, From: place{v2.From}, To: place{v2.To}})
}

func relocatedToV2(env event.Envelope) (json.RawMessage, error) {
	var legacy struct {
		Destination string `json:"destination"`
	}
	if err := event.UnmarshalStrict(env.Data, &legacy); err != nil {
		return nil, err
	}
	return json.Marshal(movedV2{ThingID: env.AggregateID, To: legacy.Destination})
}

func movedDefinition() event.Definition {
	return event.Definition{
		Name: "ThingMoved", AggregateType: "thing", SchemaVersion: 3,
		New:       func() event.Payload { return &thingMoved{} },
		Personal:  []string{"from.city", "to.city"},
		Upcasters: map[int]event.Upcaster{1: movedV1toV2, 2: movedV2toV3},
		Legacy: map[string]event.LegacyEvent{
			"ThingRelocated": {SchemaVersion: 2, Upcast: relocatedToV2, Personal: []string{"destination"}},
		},
	}
}

// chain returns a registry with ThingMoved as well as the definitions of
// event_test.go.
func chain(t testing.TB) *event.Registry {
	t.Helper()
	reg := setup(t)
	if err := reg.Register(movedDefinition()); err != nil {
		t.Fatalf("register ThingMoved: %v", err)
	}
	return reg
}

// fixture reads a stored envelope from testdata.
func fixture(t testing.TB, name string) event.Envelope {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var env event.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return env
}

// jsonEqual compares raw JSON by meaning, not by bytes.
var jsonEqual = cmp.Comparer(func(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return cmp.Equal(x, y)
})

// TestStoredVersions reads the stored example of every version of
// ThingMoved, and of its legacy name, as the current version.
func TestStoredVersions(t *testing.T) {
	t.Parallel()
	reg := chain(t)
	moved := &thingMoved{ThingID: "t-1", From: place{"Pune"}, To: place{"Mumbai"}}
	tests := []struct {
		file     string
		want     *thingMoved
		wantData string
	}{
		{"thing_moved_v1.json", moved, `{"thing_id":"t-1","from":{"city":"Pune"},"to":{"city":"Mumbai"}}`},
		{"thing_moved_v2.json", moved, `{"thing_id":"t-1","from":{"city":"Pune"},"to":{"city":"Mumbai"}}`},
		{"thing_moved_v3.json", moved, `{"thing_id":"t-1","from":{"city":"Pune"},"to":{"city":"Mumbai"}}`},
		{"thing_relocated_legacy.json", &thingMoved{ThingID: "t-1", To: place{"Mumbai"}},
			`{"thing_id":"t-1","from":{"city":""},"to":{"city":"Mumbai"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			env := fixture(t, tt.file)
			got, err := reg.Decode(env)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}

			up, err := reg.Upcast(env)
			if err != nil {
				t.Fatalf("Upcast: %v", err)
			}
			want := env
			want.EventName, want.SchemaVersion, want.Data = "ThingMoved", 3, json.RawMessage(tt.wantData)
			if diff := cmp.Diff(want, up, jsonEqual); diff != "" {
				t.Errorf("Upcast (-want +got):\n%s", diff)
			}
			// An upcast envelope is current: upcasting it again changes
			// nothing, and it decodes to the same payload.
			again, err := reg.Upcast(up)
			if err != nil || string(again.Data) != string(up.Data) {
				t.Errorf("Upcast(Upcast(env)) = %s, %v; want %s", again.Data, err, up.Data)
			}
			if p, err := reg.Decode(up); err != nil || !cmp.Equal(p, got) {
				t.Errorf("Decode(Upcast(env)) = %#v, %v; want %#v", p, err, got)
			}
		})
	}
}

func TestUpcastCurrentIsUnchanged(t *testing.T) {
	t.Parallel()
	env := fixture(t, "thing_moved_v3.json")
	up, err := chain(t).Upcast(env)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(env, up); diff != "" {
		t.Errorf("Upcast of a current envelope (-want +got):\n%s", diff)
	}
}

func TestUpcastErrors(t *testing.T) {
	t.Parallel()
	reg := chain(t)
	errBroken := errors.New("broken")
	bad := event.NewRegistry()
	err := bad.Register(
		event.Definition{Name: "ThingMoved", AggregateType: "thing", SchemaVersion: 3, New: func() event.Payload { return &thingMoved{} },
			Upcasters: map[int]event.Upcaster{
				1: func(json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{"thing_id":`), nil },
				2: func(json.RawMessage) (json.RawMessage, error) { return nil, errBroken },
			},
			Legacy: map[string]event.LegacyEvent{
				"ThingRelocated": {SchemaVersion: 1, Upcast: func(event.Envelope) (json.RawMessage, error) { return nil, errBroken }},
			}},
	)
	if err != nil {
		t.Fatal(err)
	}
	legacy := fixture(t, "thing_relocated_legacy.json")
	legacyV2 := legacy
	legacyV2.SchemaVersion = 2
	tests := []struct {
		name    string
		reg     *event.Registry
		env     event.Envelope
		wantIs  error
		wantMsg string
	}{
		{"unknown event", reg, envelope("ThingVanished", 1, `{}`), event.ErrUnknownEvent, "(ThingVanished): unknown event type"},
		{"newer version", reg, envelope("ThingMoved", 4, `{}`), nil, "schema version 4 is not supported (this build knows 1..3)"},
		{"version 0", reg, envelope("ThingMoved", 0, `{}`), nil, "schema version 0 is not supported"},
		{"legacy at version 2", reg, legacyV2, nil, "schema version 2 is not supported (ThingRelocated is a legacy name of ThingMoved and has only version 1)"},
		{"old version in a wrong shape", reg, envelope("ThingMoved", 1, `{"from":"Pune"}`), event.ErrUpcast, "schema version 1 to 2: upcast failed: json: unknown field"},
		{"legacy in a wrong shape", reg, func() event.Envelope {
			env := legacy
			env.Data = json.RawMessage(`{"to":"Mumbai"}`)
			return env
		}(), event.ErrUpcast, "read as ThingMoved version 2: upcast failed"},
		{"upcaster returns no JSON", bad, envelope("ThingMoved", 1, `{}`), event.ErrUpcast, "schema version 1 to 2: upcast failed: the upcaster returned data that is not one JSON value"},
		{"upcaster fails", bad, envelope("ThingMoved", 2, `{}`), errBroken, "schema version 2 to 3: upcast failed: broken"},
		{"legacy upcaster fails", bad, legacy, errBroken, "read as ThingMoved version 1: upcast failed: broken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up, err := tt.reg.Upcast(tt.env)
			if err == nil {
				t.Fatalf("Upcast = %+v, want an error", up)
			}
			if !strings.HasPrefix(err.Error(), "upcast event "+tt.env.EventID+" ("+tt.env.EventName+"): ") {
				t.Errorf("Upcast err = %q, want it to name the event", err)
			}
			_, derr := tt.reg.Decode(tt.env)
			for name, err := range map[string]error{"Upcast": err, "Decode": derr} {
				if err == nil {
					t.Fatalf("%s succeeded, want an error", name)
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("%s err = %v, want errors.Is %v", name, err, tt.wantIs)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("%s err = %q, want it to contain %q", name, err, tt.wantMsg)
				}
			}
		})
	}
}

func TestRegisterUpcasters(t *testing.T) {
	t.Parallel()
	identity := func(d json.RawMessage) (json.RawMessage, error) { return d, nil }
	def := func(edit func(*event.Definition)) event.Definition {
		d := movedDefinition()
		edit(&d)
		return d
	}
	tests := []struct {
		name    string
		defs    []event.Definition
		wantErr string // "" for success
	}{
		{"complete chain", []event.Definition{movedDefinition()}, ""},
		{"version 1 with no upcasters", []event.Definition{def(func(d *event.Definition) {
			d.SchemaVersion, d.Upcasters, d.Legacy = 1, nil, map[string]event.LegacyEvent{"ThingRelocated": {SchemaVersion: 1, Upcast: relocatedToV2}}
		})}, ""},
		{"missing first step", []event.Definition{def(func(d *event.Definition) { delete(d.Upcasters, 1) })},
			"register event ThingMoved: no upcaster from schema version 1 to 2"},
		{"missing middle step", []event.Definition{def(func(d *event.Definition) { delete(d.Upcasters, 2) })},
			"no upcaster from schema version 2 to 3"},
		{"nil upcaster", []event.Definition{def(func(d *event.Definition) { d.Upcasters[1] = nil })},
			"no upcaster from schema version 1 to 2"},
		{"no upcasters at all", []event.Definition{def(func(d *event.Definition) { d.Upcasters = nil })},
			"no upcaster from schema version 1 to 2"},
		{"upcaster from the current version", []event.Definition{def(func(d *event.Definition) { d.Upcasters[3] = identity })},
			"upcaster from schema version 3: there is no version 4"},
		{"upcaster from version 0", []event.Definition{def(func(d *event.Definition) { d.Upcasters[0] = identity })},
			"upcaster from schema version 0"},
		{"upcaster on a version 1 event", []event.Definition{def(func(d *event.Definition) {
			d.SchemaVersion, d.Legacy = 1, nil
			d.Upcasters = map[int]event.Upcaster{1: identity}
		})}, "upcaster from schema version 1"},
		{"legacy without upcaster", []event.Definition{def(func(d *event.Definition) {
			d.Legacy["ThingRelocated"] = event.LegacyEvent{SchemaVersion: 2}
		})}, `legacy name "ThingRelocated": no upcaster`},
		{"legacy to version 0", []event.Definition{def(func(d *event.Definition) {
			d.Legacy["ThingRelocated"] = event.LegacyEvent{Upcast: relocatedToV2}
		})}, "upcasts to schema version 0, want 1..3"},
		{"legacy to a newer version", []event.Definition{def(func(d *event.Definition) {
			d.Legacy["ThingRelocated"] = event.LegacyEvent{SchemaVersion: 4, Upcast: relocatedToV2}
		})}, "upcasts to schema version 4, want 1..3"},
		{"empty legacy name", []event.Definition{def(func(d *event.Definition) {
			d.Legacy[""] = event.LegacyEvent{SchemaVersion: 1, Upcast: relocatedToV2}
		})}, `legacy name "": empty name`},
		{"legacy name is its own", []event.Definition{def(func(d *event.Definition) {
			d.Legacy["ThingMoved"] = event.LegacyEvent{SchemaVersion: 1, Upcast: relocatedToV2}
		})}, `legacy name "ThingMoved": is the event's own name`},
		{"legacy personal path", []event.Definition{def(func(d *event.Definition) {
			d.Legacy["ThingRelocated"] = event.LegacyEvent{SchemaVersion: 2, Upcast: relocatedToV2, Personal: []string{"a..b"}}
		})}, `personal field path "a..b"`},
		{"legacy name of a registered event", append(definitions(), def(func(d *event.Definition) {
			d.Legacy["ThingHappened"] = event.LegacyEvent{SchemaVersion: 1, Upcast: relocatedToV2}
		})), `legacy name "ThingHappened": already registered`},
		{"event named like a legacy name", []event.Definition{movedDefinition(),
			{Name: "ThingRelocated", AggregateType: "thing", SchemaVersion: 1, New: func() event.Payload { return &relocated{} }}},
			"register event ThingRelocated: already registered as a legacy name of ThingMoved"},
		{"legacy name claimed twice", []event.Definition{movedDefinition(),
			{Name: "ThingHappened", AggregateType: "thing", SchemaVersion: 1, New: func() event.Payload { return &thingHappened{} },
				Legacy: map[string]event.LegacyEvent{"ThingRelocated": {SchemaVersion: 1, Upcast: relocatedToV2}}}},
			`register event ThingHappened: legacy name "ThingRelocated": already registered as a legacy name of ThingMoved`},
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
}

// relocated would be the payload of ThingRelocated if it were still an
// event of its own.
type relocated struct{}

func (relocated) EventName() string { return "ThingRelocated" }

func TestLookupLegacy(t *testing.T) {
	t.Parallel()
	reg := chain(t)
	d, ok := reg.Lookup("ThingRelocated")
	if !ok {
		t.Fatal("Lookup(ThingRelocated) found nothing")
	}
	if d.Name != "ThingMoved" || d.AggregateType != "thing" || d.SchemaVersion != 3 {
		t.Errorf("Lookup(ThingRelocated) = %s %s v%d, want ThingMoved thing v3", d.Name, d.AggregateType, d.SchemaVersion)
	}
	if diff := cmp.Diff([]string{"destination"}, d.Personal); diff != "" {
		t.Errorf("Lookup(ThingRelocated).Personal: the legacy data's paths (-want +got):\n%s", diff)
	}
	cur, _ := reg.Lookup("ThingMoved")
	if diff := cmp.Diff([]string{"from.city", "to.city"}, cur.Personal); diff != "" {
		t.Errorf("Lookup(ThingMoved).Personal (-want +got):\n%s", diff)
	}
	for _, n := range reg.Names() {
		if n == "ThingRelocated" {
			t.Error("Names() lists the legacy name ThingRelocated")
		}
	}
}

// TestNewRefusesLegacyName: legacy names are only read, never recorded.
func TestNewRefusesLegacyName(t *testing.T) {
	t.Parallel()
	_, err := event.New(relocated{}, event.Context{}, chain(t), time.Now())
	if err == nil || !strings.Contains(err.Error(), `"ThingRelocated" is a legacy name, only read: record ThingMoved instead`) {
		t.Fatalf("New(legacy) err = %v", err)
	}
}

// TestReplayLegacyStream rebuilds a stream that starts with a legacy event
// and goes on with events of every version.
func TestReplayLegacyStream(t *testing.T) {
	t.Parallel()
	reg := chain(t)
	var envs []event.Envelope
	for i, f := range []string{"thing_relocated_legacy.json", "thing_moved_v1.json", "thing_moved_v2.json", "thing_moved_v3.json"} {
		env := fixture(t, f)
		env.AggregateVersion = int64(i) + 1
		envs = append(envs, env)
	}
	var got []string
	err := event.Replay(envs, reg, "thing", func(p event.Payload, at time.Time) (string, error) {
		m, ok := event.As[thingMoved](p)
		if !ok {
			t.Fatalf("payload is %T, want thingMoved", p)
		}
		got = append(got, m.From.City+">"+m.To.City+"@"+at.Format("2006-01"))
		return m.ThingID, nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	want := []string{">Mumbai@2024-08", "Pune>Mumbai@2024-09", "Pune>Mumbai@2024-10", "Pune>Mumbai@2024-11"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replayed (-want +got):\n%s", diff)
	}
}

// FuzzUpcast checks, for any name, version and data: upcasting and decoding
// never panic; what Upcast returns is current, the data as given when it
// was current already and one JSON value when it was upcast, and upcasting
// it again changes nothing; Decode succeeds only where Upcast
// does, and its payload validates and decodes again from its own encoding
// at the current version.
func FuzzUpcast(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".json" {
			continue
		}
		env := fixture(f, e.Name())
		f.Add(env.EventName, env.SchemaVersion, []byte(env.Data), env.AggregateID)
	}
	f.Add("ThingMoved", 1, []byte(`{"thing_id":"t","from_city":"","to_city":" "}`), "t")
	f.Add("ThingMoved", 2, []byte(`{"thing_id":null,"from":1,"to":"x"}`), "t")
	f.Add("ThingRelocated", 1, []byte(`{"destination":"x"}`), "")
	f.Add("ThingRelocated", 1, []byte(`{"destination":"x"} {}`), "t")
	f.Add("OtherHappened", 1, []byte(`{"text":"\ud800"}`), "t")
	reg := chain(f)
	f.Fuzz(func(t *testing.T, name string, schema int, data []byte, aggregateID string) {
		env := event.Envelope{EventID: "e-1", EventName: name, AggregateType: "thing", AggregateID: aggregateID,
			AggregateVersion: 1, SchemaVersion: schema, Data: data}
		up, uerr := reg.Upcast(env)
		p, derr := reg.Decode(env)
		if uerr != nil {
			if derr == nil {
				t.Fatalf("Decode succeeded where Upcast failed: %v", uerr)
			}
			return
		}
		d, ok := reg.Lookup(name)
		switch {
		case !ok:
			t.Fatalf("Upcast accepted unknown event %q", name)
		case up.EventName != d.Name || up.SchemaVersion != d.SchemaVersion:
			t.Fatalf("Upcast = %s v%d, want %s v%d", up.EventName, up.SchemaVersion, d.Name, d.SchemaVersion)
		case name == d.Name && schema == d.SchemaVersion && string(up.Data) != string(data):
			t.Fatalf("Upcast changed the data of a current envelope: %q to %q", data, up.Data)
		case (name != d.Name || schema != d.SchemaVersion) && !json.Valid(up.Data):
			t.Fatalf("Upcast data %q is not JSON", up.Data)
		case up.EventID != env.EventID || up.AggregateID != env.AggregateID || up.AggregateVersion != env.AggregateVersion:
			t.Fatalf("Upcast changed the envelope: %+v", up)
		}
		again, err := reg.Upcast(up)
		if err != nil || string(again.Data) != string(up.Data) {
			t.Fatalf("Upcast(Upcast) = %q, %v; want %q", again.Data, err, up.Data)
		}
		p2, err2 := reg.Decode(up)
		if (derr == nil) != (err2 == nil) {
			t.Fatalf("Decode(env) err = %v but Decode(Upcast(env)) err = %v", derr, err2)
		}
		if derr != nil {
			return
		}
		if diff := cmp.Diff(p, p2); diff != "" {
			t.Fatalf("Decode(env) and Decode(Upcast(env)) differ (-env +upcast):\n%s", diff)
		}
		if p.EventName() != d.Name {
			t.Fatalf("Decode(%s) = %s, want %s", name, p.EventName(), d.Name)
		}
		if v, ok := p.(interface{ Validate() error }); ok {
			if err := v.Validate(); err != nil {
				t.Fatalf("Decode returned a payload that does not validate: %v", err)
			}
		}
		b, err := json.Marshal(p)
		if err != nil {
			if d.Name != "Unencodable" {
				t.Fatalf("marshal decoded %s: %v", name, err)
			}
			return
		}
		up.Data = b
		p3, err := reg.Decode(up)
		if err != nil {
			t.Fatalf("decode re-encoded %s %s: %v", name, b, err)
		}
		if diff := cmp.Diff(p, p3); diff != "" {
			t.Fatalf("re-encode round trip (-first +second):\n%s", diff)
		}
	})
}
