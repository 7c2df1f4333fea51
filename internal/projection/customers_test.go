package projection_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"insure/internal/apperr"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/keyring"
	"insure/internal/personal"
	"insure/internal/projection"
)

// testMaster is the master key of the tests' keyrings. Every database has
// its own data keys; one master key lets a projector and a reader built
// apart share them.
var testMaster = sync.OnceValues(keyring.NewMasterKey)

// keysOf returns a keyring on db under the tests' master key.
func keysOf(t testing.TB, db database.DB) *keyring.Keyring {
	t.Helper()
	m, err := testMaster()
	if err != nil {
		t.Fatal(err)
	}
	return keyring.New(db, m, nil)
}

func vaultOf(t testing.TB, db database.DB) *personal.Vault {
	t.Helper()
	return personal.NewVault(keysOf(t, db))
}

func projector(t testing.TB, db database.DB) projection.Projector {
	t.Helper()
	return projection.Projector{Vault: vaultOf(t, db)}
}

func newReader(t testing.TB, db database.DB) *projection.Reader {
	t.Helper()
	return projection.NewReader(db, vaultOf(t, db))
}

// rawCustomer is a customers row as stored.
type rawCustomer struct {
	Name, Email, Phone, EmailIndex, PhoneIndex string
	DateOfBirth                                *string
	Erased                                     bool
}

func rawCustomerOf(t testing.TB, db database.DB, id string) rawCustomer {
	t.Helper()
	var r rawCustomer
	err := db.QueryRow(t.Context(), `SELECT name, email, phone, date_of_birth, email_index, phone_index,
		erased_at IS NOT NULL FROM customers WHERE id = $1`, id).Scan(
		&r.Name, &r.Email, &r.Phone, &r.DateOfBirth, &r.EmailIndex, &r.PhoneIndex, &r.Erased)
	if err != nil {
		t.Fatalf("customer %s: %v", id, err)
	}
	return r
}

// nameTokensOf returns the customer's name token rows.
func nameTokensOf(t testing.TB, db database.DB, id string) []string {
	t.Helper()
	rows, err := db.Query(t.Context(), `SELECT token FROM customer_name_tokens WHERE customer_id = $1 ORDER BY token`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var tok string
		if err := rows.Scan(&tok); err != nil {
			t.Fatal(err)
		}
		out = append(out, tok)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func idsOf(cs []projection.Customer) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// search returns the ids of every customer that matches f, page by page.
func search(t testing.TB, r *projection.Reader, f projection.CustomerFilter, limit int) ([]string, error) {
	t.Helper()
	var out []string
	after := ""
	for range 100 {
		page, next, err := r.Customers(t.Context(), f, after, limit)
		if err != nil {
			return nil, err
		}
		out = append(out, idsOf(page)...)
		if next == "" {
			return out, nil
		}
		after = next
	}
	t.Fatal("search did not end")
	return nil, nil
}

func person(id, name, email, phone, dob string) customer.Registered {
	return customer.Registered{CustomerID: id, Name: name, Email: email, Phone: phone, DateOfBirth: dob,
		Channel: "web", Preferences: customer.DefaultPreferences()}
}

func TestCustomersSealedAtRest(t *testing.T) {
	t.Parallel()
	eachForm(t, func(t *testing.T, db database.DB, as as) {
		r := newReader(t, db)
		id := event.NewID()
		project(t, db, step{1, t0, as(person(id, "Asha Rao", "asha@example.com", "+919800000001", "1990-04-01"))})

		plain := []string{"Asha Rao", "asha@example", "example.com", "9800000001", "1990-04-01"}
		check := func(when string, wantTokens int) {
			t.Helper()
			raw := rawCustomerOf(t, db, id)
			for col, v := range map[string]string{"name": raw.Name, "email": raw.Email, "phone": raw.Phone, "date_of_birth": *raw.DateOfBirth} {
				if !strings.HasPrefix(v, keyring.SealedPrefix) {
					t.Errorf("%s: customers.%s = %q, want a sealed value", when, col, v)
				}
			}
			// Whole values, case as written: a short needle such as "rao"
			// turns up in random base64 by chance now and then.
			stored := fmt.Sprint(raw)
			for _, p := range plain {
				if strings.Contains(stored, p) {
					t.Errorf("%s: the stored customer holds %q in clear: %s", when, p, stored)
				}
			}
			// Name tokens are hex hashes, which no name token can hide in.
			for _, tok := range nameTokensOf(t, db, id) {
				if len(tok) != 64 || strings.Trim(tok, "0123456789abcdef") != "" {
					t.Errorf("%s: name token %q is not a blind index", when, tok)
				}
			}
			if raw.EmailIndex == "" || raw.PhoneIndex == "" {
				t.Errorf("%s: email_index %q, phone_index %q; want both set", when, raw.EmailIndex, raw.PhoneIndex)
			}
			if n := len(nameTokensOf(t, db, id)); n != wantTokens {
				t.Errorf("%s: %d name tokens, want %d", when, n, wantTokens)
			}
		}
		check("registered", 2)
		got, err := r.Customer(t.Context(), nil, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Asha Rao" || got.Email != "asha@example.com" || got.Phone != "+919800000001" || got.DateOfBirth == nil ||
			*got.DateOfBirth != "1990-04-01" || got.Erased || got.ErasedAt != nil {
			t.Errorf("the reader returned %+v, want the registered values opened", got)
		}

		plain = append(plain, "mehta", "1991")
		project(t, db, step{2, t0.Add(time.Minute), as(customer.ProfileUpdated{CustomerID: id, Changes: map[string]customer.Change{
			customer.FieldName:        {Old: "Asha Rao", New: "Asha Rao-Mehta"},
			customer.FieldEmail:       {Old: "asha@example.com", New: "asha.mehta@example.com"},
			customer.FieldPhone:       {Old: "+919800000001", New: "+919800000009"},
			customer.FieldDateOfBirth: {Old: "1990-04-01", New: "1991-04-01"},
		}})})
		check("updated", 3)
		got, err = r.Customer(t.Context(), nil, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Asha Rao-Mehta" || got.Email != "asha.mehta@example.com" || got.Phone != "+919800000009" || *got.DateOfBirth != "1991-04-01" {
			t.Errorf("after the update the reader returned %+v", got)
		}

		// A value sealed for one customer does not open as another's.
		other := event.NewID()
		project(t, db, step{1, t0, as(person(other, "Ravi Kumar", "ravi@example.com", "+919800000002", ""))})
		if _, err := db.Exec(t.Context(), `UPDATE customers SET name = (SELECT name FROM customers WHERE id = $1) WHERE id = $2`, id, other); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Customer(t.Context(), nil, other); err == nil || !strings.Contains(err.Error(), "authenticate") {
			t.Errorf("a name moved from another customer: err = %v, want it refused", err)
		}
	})
}

func TestCustomerSearch(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		r := newReader(t, db)
		asha, ana, kumar, ravi := event.NewID(), event.NewID(), event.NewID(), event.NewID()
		project(t, db,
			step{1, t0, person(asha, "Asha Rao", "asha@example.com", "+919800000001", "1990-04-01")},
			step{1, t0, asPointer(person(ana, "Ana-María O'Neil", "ana@example.com", "+919800000002", ""))},
			step{1, t0, person(kumar, "Asha Kumar", "kumar@example.com", "+919800000001", "")},
			step{1, t0, person(ravi, "Ravi Rao", "ravi@example.org", "+447911123456", "")},
		)

		tests := []struct {
			name   string
			filter projection.CustomerFilter
			want   []string
		}{
			{"no filter", projection.CustomerFilter{}, []string{asha, ana, kumar, ravi}},
			{"email", projection.CustomerFilter{Email: "asha@example.com"}, []string{asha}},
			{"email in another case, with spaces", projection.CustomerFilter{Email: "  ASHA@Example.COM "}, []string{asha}},
			{"email of nobody", projection.CustomerFilter{Email: "nobody@example.com"}, nil},
			{"email prefix", projection.CustomerFilter{Email: "asha@"}, nil},
			{"email that reads erased", projection.CustomerFilter{Email: event.Erased}, nil},
			{"phone in E.164", projection.CustomerFilter{Phone: "+919800000001"}, []string{asha, kumar}},
			{"phone with spaces", projection.CustomerFilter{Phone: "+91 98000 00001"}, []string{asha, kumar}},
			{"phone without country code", projection.CustomerFilter{Phone: "(980) 000-0001"}, []string{asha, kumar}},
			{"phone with trunk prefix", projection.CustomerFilter{Phone: "09800000001"}, []string{asha, kumar}},
			{"foreign phone", projection.CustomerFilter{Phone: "+44 7911 123456"}, []string{ravi}},
			{"phone of nobody", projection.CustomerFilter{Phone: "+919800000099"}, nil},
			{"one name word", projection.CustomerFilter{Name: "asha"}, []string{asha, kumar}},
			{"name word in capitals", projection.CustomerFilter{Name: "RAO"}, []string{asha, ravi}},
			{"name words in any order", projection.CustomerFilter{Name: "rao  Asha"}, []string{asha}},
			{"hyphenated name, one part", projection.CustomerFilter{Name: "maría"}, []string{ana}},
			{"hyphenated name, whole", projection.CustomerFilter{Name: "ana-MARÍA o'neil"}, []string{ana}},
			{"apostrophe part", projection.CustomerFilter{Name: "Neil"}, []string{ana}},
			{"a word nobody has", projection.CustomerFilter{Name: "asha mehta"}, nil},
			{"name prefix", projection.CustomerFilter{Name: "ash"}, nil},
			{"name and phone", projection.CustomerFilter{Name: "asha", Phone: "9800000001"}, []string{asha, kumar}},
			{"name and email", projection.CustomerFilter{Name: "asha", Email: "kumar@example.com"}, []string{kumar}},
			{"all three", projection.CustomerFilter{Name: "rao", Email: "asha@example.com", Phone: "+919800000001"}, []string{asha}},
			{"filters that exclude each other", projection.CustomerFilter{Name: "rao", Phone: "+919800000002"}, nil},
			{"blank filters are absent", projection.CustomerFilter{Email: " ", Phone: " ", Name: " "}, []string{asha, ana, kumar, ravi}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				for _, limit := range []int{1, 50} {
					got, err := search(t, r, tc.filter, limit)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("limit %d: ids (-want +got):\n%s", limit, diff)
					}
				}
			})
		}

		t.Run("a page of a search", func(t *testing.T) {
			t.Parallel()
			page, next, err := r.Customers(t.Context(), projection.CustomerFilter{Name: "asha"}, "", 1)
			if err != nil || len(page) != 1 || page[0].ID != asha || next != asha {
				t.Fatalf("first page = %v, %q, %v; want [%s] and a cursor", idsOf(page), next, err, asha)
			}
			if page[0].Name != "Asha Rao" || page[0].Email != "asha@example.com" || *page[0].DateOfBirth != "1990-04-01" {
				t.Errorf("found customer %+v, want their values opened", page[0])
			}
			page, next, err = r.Customers(t.Context(), projection.CustomerFilter{Name: "asha"}, next, 1)
			if err != nil || len(page) != 1 || page[0].ID != kumar || next != "" {
				t.Fatalf("second page = %v, %q, %v; want [%s] and no cursor", idsOf(page), next, err, kumar)
			}
		})

		invalid := []struct {
			name   string
			filter projection.CustomerFilter
			after  string
			field  string
		}{
			{"phone with letters", projection.CustomerFilter{Phone: "call me"}, "", "phone"},
			{"phone too short", projection.CustomerFilter{Phone: "12345"}, "", "phone"},
			{"name without letters", projection.CustomerFilter{Name: "-- ' --"}, "", "name"},
			{"name with too many words", projection.CustomerFilter{Name: "a b c d e f g h i"}, "", "name"},
			{"bad cursor", projection.CustomerFilter{Name: "asha"}, "not-a-cursor", "after"},
		}
		for _, tc := range invalid {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				_, _, err := r.Customers(t.Context(), tc.filter, tc.after, 10)
				if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != tc.field {
					t.Errorf("err = %v, want an %s error naming %q", err, apperr.Invalid, tc.field)
				}
			})
		}
	})
}

// TestCustomerSearchFollowsChanges proves a profile change moves the
// customer's indexes: the old values no longer find them.
func TestCustomerSearchFollowsChanges(t *testing.T) {
	t.Parallel()
	eachForm(t, func(t *testing.T, db database.DB, as as) {
		r := newReader(t, db)
		id := event.NewID()
		project(t, db,
			step{1, t0, as(person(id, "Asha Rao", "asha@example.com", "+919800000001", ""))},
			step{2, t0.Add(time.Minute), as(customer.ProfileUpdated{CustomerID: id, Changes: map[string]customer.Change{
				customer.FieldName:  {Old: "Asha Rao", New: "Asha Mehta"},
				customer.FieldEmail: {Old: "asha@example.com", New: "asha@example.org"},
				customer.FieldPhone: {Old: "+919800000001", New: "+919800000002"},
			}})},
		)
		for _, tc := range []struct {
			filter projection.CustomerFilter
			found  bool
		}{
			{projection.CustomerFilter{Email: "asha@example.com"}, false},
			{projection.CustomerFilter{Email: "asha@example.org"}, true},
			{projection.CustomerFilter{Phone: "+919800000001"}, false},
			{projection.CustomerFilter{Phone: "+919800000002"}, true},
			{projection.CustomerFilter{Name: "rao"}, false},
			{projection.CustomerFilter{Name: "mehta asha"}, true},
		} {
			got, err := search(t, r, tc.filter, 10)
			if err != nil {
				t.Fatal(err)
			}
			if found := len(got) == 1; found != tc.found {
				t.Errorf("%+v found %v, want found %v", tc.filter, got, tc.found)
			}
		}
	})
}

func TestCustomerErased(t *testing.T) {
	t.Parallel()
	eachForm(t, func(t *testing.T, db database.DB, as as) {
		ctx := t.Context()
		r := newReader(t, db)
		id, other := event.NewID(), event.NewID()
		project(t, db,
			step{1, t0, as(person(id, "Asha Rao", "asha@example.com", "+919800000001", "1990-04-01"))},
			step{1, t0, as(person(other, "Ravi Rao", "ravi@example.com", "+919800000002", ""))},
		)
		erasedAt := t0.Add(time.Hour)
		// As the erasure service does: destroy the key and record the
		// erasure in one transaction.
		err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
			if err := keysOf(t, db).Destroy(ctx, tx, id); err != nil {
				return err
			}
			env := event.Envelope{EventID: event.NewID(), EventName: customer.EventErased, AggregateVersion: 2, OccurredAt: erasedAt.In(ist)}
			return projector(t, db).Project(ctx, tx, env, as(customer.PersonalDataErased{CustomerID: id, ErasedAt: erasedAt}))
		})
		if err != nil {
			t.Fatal(err)
		}

		want := projection.Customer{
			ID: id, Name: event.Erased, Email: event.Erased, Phone: event.Erased, Channel: "web",
			Preferences: projection.Preferences{Email: true}, Erased: true, ErasedAt: &erasedAt,
			Version: 2, CreatedAt: t0, UpdatedAt: erasedAt,
		}
		got, err := r.Customer(ctx, nil, id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("erased customer (-want +got):\n%s", diff)
		}
		if raw := rawCustomerOf(t, db, id); raw != (rawCustomer{Erased: true}) {
			t.Errorf("erased row = %+v, want no personal value and no index", raw)
		}
		if toks := nameTokensOf(t, db, id); len(toks) != 0 {
			t.Errorf("erased customer has %d name tokens, want none", len(toks))
		}

		all, _, err := r.Customers(ctx, projection.CustomerFilter{}, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 {
			t.Fatalf("the list has %d customers, want 2", len(all))
		}
		if diff := cmp.Diff(want, all[0]); diff != "" {
			t.Errorf("the erased customer in the list (-want +got):\n%s", diff)
		}
		for _, f := range []projection.CustomerFilter{
			{Email: "asha@example.com"}, {Phone: "+919800000001"}, {Name: "asha"}, {Name: "erased"}, {Email: event.Erased},
		} {
			if got, err := search(t, r, f, 10); err != nil || len(got) != 0 {
				t.Errorf("%+v found %v, %v; want nothing", f, got, err)
			}
		}
		if got, err := search(t, r, projection.CustomerFilter{Name: "rao"}, 10); err != nil || !cmp.Equal(got, []string{other}) {
			t.Errorf("rao found %v, %v; want only the other customer", got, err)
		}
	})
}

// TestCustomerErasedReplayed projects an erased customer's events as the
// event store returns them after the erasure: every personal value reads
// event.Erased, and the subject's key is gone.
func TestCustomerErasedReplayed(t *testing.T) {
	t.Parallel()
	eachForm(t, func(t *testing.T, db database.DB, as as) {
		id := event.NewID()
		if err := keysOf(t, db).Destroy(t.Context(), db, id); err != nil {
			t.Fatal(err)
		}
		e := event.Erased
		project(t, db,
			step{1, t0, as(person(id, e, e, e, e))},
			step{2, t0.Add(time.Minute), as(customer.ProfileUpdated{CustomerID: id, Changes: map[string]customer.Change{
				customer.FieldName:        {Old: e, New: e},
				customer.FieldEmail:       {Old: e, New: e},
				customer.FieldPhone:       {Old: e, New: e},
				customer.FieldDateOfBirth: {Old: e, New: e},
			}})},
			step{3, t0.Add(time.Hour), as(customer.PersonalDataErased{CustomerID: id, ErasedAt: t0.Add(time.Hour)})},
		)
		got, err := newReader(t, db).Customer(t.Context(), nil, id)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Erased || got.Name != e || got.Email != e || got.DateOfBirth != nil || got.Version != 3 {
			t.Errorf("replayed erased customer = %+v", got)
		}
		if raw := rawCustomerOf(t, db, id); raw != (rawCustomer{Erased: true}) {
			t.Errorf("replayed erased row = %+v, want no personal value and no index", raw)
		}
	})
}

func TestProjectorWithoutVault(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.SQLite)
	err := db.InTx(t.Context(), func(ctx context.Context, tx database.Tx) error {
		env := event.Envelope{EventID: event.NewID(), EventName: customer.EventRegistered, AggregateVersion: 1, OccurredAt: t0}
		return projection.Projector{}.Project(ctx, tx, env, person(event.NewID(), "Asha Rao", "asha@example.com", "+919800000001", ""))
	})
	if err == nil || !strings.Contains(err.Error(), "Vault") {
		t.Errorf("Project without a vault = %v, want an error naming the missing Vault", err)
	}
}

func TestReindexAfterRotation(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		oldMaster, err := keyring.NewMasterKey()
		if err != nil {
			t.Fatal(err)
		}
		oldKeys := keyring.New(db, oldMaster, nil)
		oldVault := personal.NewVault(oldKeys)
		pr := projection.Projector{Vault: oldVault}

		// More customers than one Reindex transaction takes, every one
		// with an email claim as the customer service makes it; one erased.
		const n = 205
		ids := make([]string, n)
		email := func(i int) string { return fmt.Sprintf("customer%03d@example.com", i) }
		err = db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
			for i := range ids {
				ids[i] = event.NewID()
				p := person(ids[i], fmt.Sprintf("Person%03d Rao", i), email(i), fmt.Sprintf("+9198%08d", i), "")
				env := event.Envelope{EventID: event.NewID(), EventName: p.EventName(), AggregateVersion: 1, OccurredAt: t0}
				if err := pr.Project(ctx, tx, env, p); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO customer_emails (email_index, customer_id) VALUES ($1, $2)`,
					oldVault.Index(personal.KindEmail, email(i)), ids[i]); err != nil {
					return err
				}
			}
			erased := ids[7]
			if err := oldKeys.Destroy(ctx, tx, erased); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM customer_emails WHERE customer_id = $1`, erased); err != nil {
				return err
			}
			env := event.Envelope{EventID: event.NewID(), EventName: customer.EventErased, AggregateVersion: 2, OccurredAt: t0}
			return pr.Project(ctx, tx, env, customer.PersonalDataErased{CustomerID: erased, ErasedAt: t0})
		})
		if err != nil {
			t.Fatal(err)
		}
		probes := []struct {
			filter projection.CustomerFilter
			want   []string
		}{
			{projection.CustomerFilter{Email: email(3)}, ids[3:4]},
			{projection.CustomerFilter{Phone: "+91 98 0000 0204"}, ids[204:205]},
			{projection.CustomerFilter{Name: "rao person150"}, ids[150:151]},
			{projection.CustomerFilter{Email: email(7)}, nil},
		}
		check := func(when string, r *projection.Reader, found bool) {
			t.Helper()
			for _, p := range probes {
				got, err := search(t, r, p.filter, 50)
				if err != nil {
					t.Fatalf("%s: %v", when, err)
				}
				want := p.want
				if !found {
					want = nil
				}
				if len(got) != len(want) || len(want) == 1 && got[0] != want[0] {
					t.Errorf("%s: %+v found %v, want %v", when, p.filter, got, want)
				}
			}
		}
		check("before the rotation", projection.NewReader(db, oldVault), true)

		newMaster, err := keyring.NewMasterKey()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := oldKeys.Rotate(ctx, db, newMaster); err != nil {
			t.Fatal(err)
		}
		newVault := personal.NewVault(keyring.New(db, newMaster, nil))
		r := projection.NewReader(db, newVault)
		c, err := r.Customer(ctx, nil, ids[3])
		if err != nil || c.Email != email(3) {
			t.Fatalf("after the rotation the customer reads %+v, %v; want it opened with the new master key", c, err)
		}
		check("after the rotation, before reindexing", r, false)

		got, err := projection.Reindex(ctx, db, newVault)
		if err != nil || got != n-1 {
			t.Fatalf("Reindex = %d, %v; want %d customers (all but the erased one)", got, err, n-1)
		}
		check("after reindexing", r, true)
		for _, i := range []int{0, 3, 204} {
			var claimant string
			if err := db.QueryRow(ctx, `SELECT customer_id FROM customer_emails WHERE email_index = $1`,
				newVault.Index(personal.KindEmail, email(i))).Scan(&claimant); err != nil || claimant != ids[i] {
				t.Errorf("the claim of %s is held by %q, %v; want %s under the new key", email(i), claimant, err, ids[i])
			}
		}
		var claims int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM customer_emails`).Scan(&claims); err != nil || claims != n-1 {
			t.Errorf("%d email claims, %v; want %d", claims, err, n-1)
		}
		if raw := rawCustomerOf(t, db, ids[7]); raw != (rawCustomer{Erased: true}) {
			t.Errorf("Reindex touched the erased customer: %+v", raw)
		}

		// Running it again changes nothing.
		if got, err := projection.Reindex(ctx, db, newVault); err != nil || got != n-1 {
			t.Fatalf("Reindex again = %d, %v", got, err)
		}
		check("after reindexing twice", r, true)
	})
}
