package personal_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/keyring"
	"insure/internal/personal"
)

func setup(t *testing.T, db database.DB) (*personal.Codec, *keyring.Keyring) {
	t.Helper()
	m, err := keyring.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	reg := event.NewRegistry()
	if err := reg.Register(customer.Events()...); err != nil {
		t.Fatal(err)
	}
	keys := keyring.New(db, m, nil)
	return personal.NewCodec(reg, keys), keys
}

func envelope(t *testing.T, id string, p event.Payload) event.Envelope {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return event.Envelope{EventID: event.NewID(), EventName: p.EventName(), AggregateType: customer.AggregateType,
		AggregateID: id, AggregateVersion: 1, SchemaVersion: 1, Data: data}
}

func fields(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	return m
}

// TestCodecSealsPersonalFields: exactly the fields the definition lists are
// sealed, the rest stays readable, and opening gives the original back;
// after the subject's key is destroyed they open as event.Erased and the
// payload still decodes and validates.
func TestCodecSealsPersonalFields(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		codec, keys := setup(t, db)
		id := event.NewID()
		reg := &customer.Registered{CustomerID: id, Name: "Asha Verma", Email: "asha@example.com", Phone: "+919876543210",
			DateOfBirth: "1990-04-01", Channel: "web", Preferences: customer.Preferences{Email: true}}
		env := envelope(t, id, reg)
		sealed, err := codec.SealEvent(ctx, db, env)
		if err != nil {
			t.Fatal(err)
		}
		m := fields(t, sealed)
		for _, f := range []string{"name", "email", "phone", "date_of_birth"} {
			s, _ := m[f].(string)
			if !keyring.IsSealed(s) {
				t.Errorf("%s stored as %q, want sealed", f, s)
			}
		}
		if m["customer_id"] != id || m["channel"] != "web" || m["preferences"].(map[string]any)["email"] != true {
			t.Errorf("fields that are not personal changed: %v", m)
		}
		for _, plain := range []string{"Asha", "asha@", "9876543210", "1990-04-01"} {
			if strings.Contains(string(sealed), plain) {
				t.Errorf("sealed data holds %q: %s", plain, sealed)
			}
		}

		stored := env
		stored.Data = sealed
		opened, err := codec.OpenEvent(ctx, db, stored)
		if err != nil {
			t.Fatal(err)
		}
		if got := fields(t, opened); got["name"] != "Asha Verma" || got["email"] != "asha@example.com" ||
			got["phone"] != "+919876543210" || got["date_of_birth"] != "1990-04-01" {
			t.Fatalf("opened = %v", got)
		}

		// A value moved to another field or another event does not open.
		moved := fields(t, sealed)
		moved["email"], moved["name"] = moved["name"], moved["email"]
		stored.Data, _ = json.Marshal(moved)
		if _, err := codec.OpenEvent(ctx, db, stored); !errors.Is(err, keyring.ErrTampered) {
			t.Errorf("swapped fields open with %v, want ErrTampered", err)
		}

		if err := keys.Destroy(ctx, db, id); err != nil {
			t.Fatal(err)
		}
		stored.Data = sealed
		opened, err = codec.OpenEvent(ctx, db, stored)
		if err != nil {
			t.Fatal(err)
		}
		got := fields(t, opened)
		for _, f := range []string{"name", "email", "phone", "date_of_birth"} {
			if got[f] != event.Erased {
				t.Errorf("%s after erasure = %v, want %q", f, got[f], event.Erased)
			}
		}
		r := event.NewRegistry()
		if err := r.Register(customer.Events()...); err != nil {
			t.Fatal(err)
		}
		stored.Data = opened
		if _, err := r.Decode(stored); err != nil {
			t.Errorf("an erased registration does not decode: %v", err)
		}
		// Nothing new is sealed for an erased subject.
		if _, err := codec.SealEvent(ctx, db, envelope(t, id, reg)); !errors.Is(err, keyring.ErrErased) {
			t.Errorf("sealing for an erased subject = %v, want ErrErased", err)
		}
	})
}

// TestCodecProfileChanges: the old and new values of personal changes are
// sealed, preference changes (booleans) are not, and absent paths are
// skipped.
func TestCodecProfileChanges(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		codec, _ := setup(t, db)
		id := event.NewID()
		upd := &customer.ProfileUpdated{CustomerID: id, Changes: map[string]customer.Change{
			customer.FieldPhone:            {Old: "+919876543210", New: "+919876543211"},
			customer.FieldDateOfBirth:      {Old: "", New: "1990-04-01"},
			customer.FieldPreferencesEmail: {Old: true, New: false},
		}}
		env := envelope(t, id, upd)
		sealed, err := codec.SealEvent(ctx, db, env)
		if err != nil {
			t.Fatal(err)
		}
		ch := fields(t, sealed)["changes"].(map[string]any)
		phone := ch["phone"].(map[string]any)
		if !keyring.IsSealed(phone["old"].(string)) || !keyring.IsSealed(phone["new"].(string)) {
			t.Errorf("phone change stored as %v", phone)
		}
		if dob := ch["date_of_birth"].(map[string]any); dob["old"] != "" || !keyring.IsSealed(dob["new"].(string)) {
			t.Errorf("date of birth change stored as %v (an empty old value stays empty)", dob)
		}
		if pref := ch["preferences.email"].(map[string]any); pref["old"] != true || pref["new"] != false {
			t.Errorf("preference change stored as %v", pref)
		}
		env.Data = sealed
		opened, err := codec.OpenEvent(ctx, db, env)
		if err != nil {
			t.Fatal(err)
		}
		if got := fields(t, opened)["changes"].(map[string]any)["phone"].(map[string]any); got["new"] != "+919876543211" {
			t.Errorf("opened phone change = %v", got)
		}
	})
}

// TestCodecRejectsBadData: data that is not an object, or a personal field
// that is not a string, is an error rather than stored half-sealed; events
// without personal fields pass through untouched, unparsed.
func TestCodecRejectsBadData(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.SQLite)
	ctx := context.Background()
	codec, _ := setup(t, db)
	id := event.NewID()
	base := event.Envelope{EventID: event.NewID(), EventName: customer.EventRegistered, AggregateID: id, SchemaVersion: 1}
	for _, data := range []string{`[1,2]`, `{"name": 5}`, `{"name":"a"} {}`, `not json`} {
		env := base
		env.Data = json.RawMessage(data)
		if _, err := codec.SealEvent(ctx, db, env); err == nil {
			t.Errorf("SealEvent(%s) succeeded", data)
		}
	}
	other := base
	other.EventName = customer.EventErased
	other.Data = json.RawMessage(`not even json`)
	if out, err := codec.SealEvent(ctx, db, other); err != nil || string(out) != "not even json" {
		t.Errorf("an event without personal fields = %s, %v; want it untouched", out, err)
	}
	// A value written before encryption opens as it is.
	plain := base
	plain.Data = json.RawMessage(`{"customer_id":"` + id + `","name":"Old Plain","email":"p@example.com","phone":"+911","channel":"web","preferences":{"email":true,"whatsapp":false}}`)
	out, err := codec.OpenEvent(ctx, db, plain)
	if err != nil || fields(t, out)["name"] != "Old Plain" {
		t.Errorf("a plain stored value opens as %s, %v", out, err)
	}
}

// TestVault: read-model values seal and open per subject and field, erased
// subjects read event.Erased, and the blind indexes are deterministic per
// kind and normalized value.
func TestVault(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		m, err := keyring.NewMasterKey()
		if err != nil {
			t.Fatal(err)
		}
		keys := keyring.New(db, m, nil)
		v := personal.NewVault(keys)
		id := event.NewID()
		if s, err := v.Seal(ctx, db, id, "customers.name", ""); err != nil || s != "" {
			t.Errorf("Seal of \"\" = %q, %v", s, err)
		}
		s, err := v.Seal(ctx, db, id, "customers.name", "Ana-María O'Neil")
		if err != nil || !keyring.IsSealed(s) {
			t.Fatalf("Seal = %q, %v", s, err)
		}
		if got, err := v.Open(ctx, db, id, "customers.name", s); err != nil || got != "Ana-María O'Neil" {
			t.Errorf("Open = %q, %v", got, err)
		}
		if _, err := v.Open(ctx, db, id, "customers.email", s); !errors.Is(err, keyring.ErrTampered) {
			t.Errorf("Open in another field = %v, want ErrTampered", err)
		}
		if a, b := v.Index(personal.KindEmail, "a@example.com"), v.Index(personal.KindEmail, "a@example.com"); a == "" || a != b {
			t.Errorf("email index not deterministic: %q %q", a, b)
		}
		if v.Index(personal.KindEmail, "x") == v.Index(personal.KindPhone, "x") {
			t.Error("email and phone indexes of the same string are equal")
		}
		if v.Index(personal.KindEmail, event.Erased) != "" || len(v.NameIndexes(event.Erased)) != 0 {
			t.Error("the erased marker has an index")
		}
		if got := v.NameIndexes("Ana-María O'Neil ana"); len(got) != 4 || got[0] != v.Index(personal.KindNameToken, "ana") {
			t.Errorf("NameIndexes = %v", got)
		}
		if err := keys.Destroy(ctx, db, id); err != nil {
			t.Fatal(err)
		}
		if got, err := v.Open(ctx, db, id, "customers.name", s); err != nil || got != event.Erased {
			t.Errorf("Open after erasure = %q, %v", got, err)
		}
	})
}

// FuzzOpenEvent: whatever a stored customer event holds, opening it returns
// data or an error, never a panic, and never the input's sealed values
// half-opened with an error.
func FuzzOpenEvent(f *testing.F) {
	db := dbtest.Open(f, database.SQLite)
	m, err := keyring.NewMasterKey()
	if err != nil {
		f.Fatal(err)
	}
	reg := event.NewRegistry()
	if err := reg.Register(customer.Events()...); err != nil {
		f.Fatal(err)
	}
	keys := keyring.New(db, m, nil)
	codec := personal.NewCodec(reg, keys)
	ctx := context.Background()
	id := "0190f5a4-8c4e-7d21-9a3b-5f1e2d3c4b5a"
	sealed, err := keys.Seal(ctx, db, id, "event:CustomerRegistered:name", "Asha")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(customer.EventRegistered, `{"name":"`+sealed+`","email":"a@example.com"}`)
	f.Add(customer.EventRegistered, `{"name":"enc:v1:AAAA"}`)
	f.Add(customer.EventProfileUpdated, `{"changes":{"name":{"old":"`+sealed+`","new":{"x":1}}}}`)
	f.Add(customer.EventEmailVerified, `{"email":null}`)
	f.Add(customer.EventRegistered, `{"name":"enc:v1:`+strings.Repeat("A", 40)+`"}`)
	f.Fuzz(func(t *testing.T, name, data string) {
		env := event.Envelope{EventID: event.NewID(), EventName: name, AggregateID: id, SchemaVersion: 1, Data: json.RawMessage(data)}
		out, err := codec.OpenEvent(ctx, db, env)
		if err == nil && out == nil && data != "" {
			t.Fatalf("OpenEvent(%s, %q) returned no data and no error", name, data)
		}
	})
}
