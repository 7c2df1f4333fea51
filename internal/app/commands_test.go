package app_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/app"
	"insure/internal/apperr"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/keyring"
	"insure/internal/personal"
	"insure/internal/policy"
	"insure/internal/projection"
	"insure/internal/quotation"
	"insure/internal/rating"
	"insure/internal/recorder"
)

// commands is a hand-written app.CommandObserver: it notes each command
// with the code of its error, and marks the context it hands the command.
type commands struct {
	mu   sync.Mutex
	seen []string // "name outcome"
	// appends are the commands whose context reached the recorder.
	appends []string
}

var (
	_ app.CommandObserver = (*commands)(nil)
	_ recorder.Observer   = (*commands)(nil)
)

type commandKey struct{}

func (c *commands) StartCommand(ctx context.Context, name string) (context.Context, func(error)) {
	return context.WithValue(ctx, commandKey{}, name), func(err error) {
		outcome := "ok"
		if e, ok := apperr.As(err); ok {
			outcome = string(e.Code)
		} else if err != nil {
			outcome = "error"
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.seen = append(c.seen, name+" "+outcome)
	}
}

func (c *commands) StartAppend(ctx context.Context) (context.Context, func([]event.Envelope, error)) {
	name, _ := ctx.Value(commandKey{}).(string)
	c.mu.Lock()
	c.appends = append(c.appends, name)
	c.mu.Unlock()
	return ctx, func([]event.Envelope, error) {}
}

func (c *commands) TraceParent(context.Context) string { return "" }
func (c *commands) Committed([]event.Envelope)         {}

func (c *commands) take() (seen, appends []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen, appends = c.seen, c.appends
	c.seen, c.appends = nil, nil
	return seen, appends
}

// TestCommandsAreObserved: every command reports its name and outcome to
// Deps.Commands once, and runs with the context the observer gave it.
func TestCommandsAreObserved(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.SQLite)
	reg := event.NewRegistry()
	for _, defs := range [][]event.Definition{customer.Events(), policy.Events(), quotation.Events()} {
		if err := reg.Register(defs...); err != nil {
			t.Fatal(err)
		}
	}
	master, err := keyring.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC) }
	keys := keyring.New(db, master, now)
	vault := personal.NewVault(keys)
	store := eventstore.New(db, 100, now)
	store.SetCodec(personal.NewCodec(reg, keys))
	obs := &commands{}
	rec := recorder.New(store, reg, nil, inline{projection.Projector{Vault: vault}}, nil, now, recorder.WithObserver(obs))
	deps := app.Deps{Recorder: rec, Reader: projection.NewReader(db, vault), Secrets: app.NewSecrets(db), Vault: vault, Now: now, Commands: obs}
	rates, err := rating.DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	customers := app.NewCustomerService(deps)
	erasure := app.NewErasureService(deps, customers, keys)
	policies := app.NewPolicyService(deps, rates, "INR")
	ctx := context.Background()

	reg1 := customer.Register{Name: "Asha Verma", Email: "asha@example.com", Phone: "98765 43210", Channel: "web"}
	c, err := customers.Register(ctx, ec, reg1)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		run         func() error
		want        string
		wantAppends []string
	}{
		{func() error {
			_, err := customers.Register(ctx, ec, customer.Register{Name: "Asha Verma", Email: "not-an-address", Phone: "98765 43210"})
			return err
		}, "RegisterCustomer invalid", nil},
		// The taken address fails before anything is appended.
		{func() error { _, err := customers.Register(ctx, ec, reg1); return err }, "RegisterCustomer conflict", nil},
		{func() error {
			_, err := customers.Update(ctx, ec, event.NewID(), nil, customer.UpdateProfile{})
			return err
		}, "UpdateCustomerProfile not_found", nil},
		{func() error { _, err := customers.VerifyEmail(ctx, ec, c.ID, ""); return err }, "VerifyCustomerEmail invalid", nil},
		{func() error { _, err := policies.Renew(ctx, ec, event.NewID(), policy.Renew{}); return err }, "RenewPolicy not_found", nil},
		{func() error { _, err := policies.ScanExpiring(ctx, ec, nil); return err }, "ScanExpiringPolicies ok", nil},
		{func() error { _, err := erasure.Erase(ctx, ec, c.ID); return err }, "EraseCustomerPersonalData ok", []string{"EraseCustomerPersonalData"}},
	}
	seen, appends := obs.take()
	if diff := cmp.Diff([]string{"RegisterCustomer ok"}, seen); diff != "" {
		t.Fatalf("registration (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"RegisterCustomer"}, appends); diff != "" {
		t.Fatalf("the registration's append did not run in the command's context (-want +got):\n%s", diff)
	}
	for _, st := range steps {
		_ = st.run()
		seen, appends := obs.take()
		if diff := cmp.Diff([]string{st.want}, seen); diff != "" {
			t.Errorf("%s (-want +got):\n%s", st.want, diff)
		}
		if diff := cmp.Diff(st.wantAppends, appends); diff != "" {
			t.Errorf("%s: appends (-want +got):\n%s", st.want, diff)
		}
	}
}
