package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/projection"
)

// registerCustomers registers n customers through the service.
func registerCustomers(t *testing.T, s *System, n int) {
	t.Helper()
	for i := range n {
		_, err := s.Customers.Register(t.Context(), event.Context{Actor: "test"}, customer.Register{Name: fmt.Sprintf("Asha Rao %d", i),
			Email: fmt.Sprintf("asha%d-%s@example.com", i, event.NewID()[24:]), Phone: fmt.Sprintf("98%08d", i)})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestProjectionsCommands(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, database.SQLite)
	s, err := Open(t.Context(), cfg, newLogger(cfg, io.Discard), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	registerCustomers(t, s, 3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	insure := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errs bytes.Buffer
		e := env{lookup: func(string) (string, bool) { return "", false }, stdout: &out, stderr: &errs}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		code := run(ctx, append(append([]string{}, args...), "--database-url", cfg.DatabaseURL), e)
		return code, out.String(), errs.String()
	}

	code, out, errs := insure("projections", "list")
	if code != 0 {
		t.Fatalf("list (exit %d):\n%s%s", code, out, errs)
	}
	for _, name := range []string{"customers", "quotations", "policies", "messages", "documents", "audit_log", "access_log"} {
		if !strings.Contains(out, "\n"+name+" ") {
			t.Errorf("list does not show %s:\n%s", name, out)
		}
	}
	if strings.Count(out, "caught up") != 7 {
		t.Errorf("list: want all 7 caught up:\n%s", out)
	}

	code, out, errs = insure("projections", "rebuild", "customers", "--batch", "2")
	if code != 0 || !strings.Contains(out, "customers rebuilt: 3 events") || !strings.Contains(out, "swapping in") {
		t.Fatalf("rebuild customers (exit %d):\n%s%s", code, out, errs)
	}

	code, out, errs = insure("projections", "rebuild", "nope")
	if code != 1 || !strings.Contains(errs, "unknown projection") {
		t.Errorf("rebuild nope: exit %d, want 1 naming the unknown projection:\n%s%s", code, out, errs)
	}
}

// TestProjectionsInASystem: the runner of a system with workers builds a
// read model that has no checkpoint from the first event (as it would a
// new one), the list shows the projections, and a rebuild swaps the
// customers in while the API keeps answering from them.
func TestProjectionsInASystem(t *testing.T) {
	t.Parallel()
	for _, d := range []database.Dialect{database.SQLite, database.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			s := startSystem(t, testConfig(t, d))
			ctx := t.Context()
			registerCustomers(t, s, 4)
			waitUntil(t, "the audit records", func() bool { return count(t, s.DB, `SELECT COUNT(*) FROM audit_log`) == 4 })

			// Forget the audit trail: the runner builds it again from zero.
			if err := s.DB.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				if _, err := tx.Exec(ctx, `DELETE FROM audit_log`); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `DELETE FROM projection_checkpoints WHERE name = 'audit_log'`)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "the runner to rebuild the audit trail", func() bool {
				sts, err := s.Projections.Status(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, st := range sts {
					if st.LastError != "" {
						t.Fatalf("%s: %s", st.Name, st.LastError)
					}
					if st.Position != st.Head {
						return false
					}
				}
				return count(t, s.DB, `SELECT COUNT(*) FROM audit_log`) == 4
			})

			var out bytes.Buffer
			if err := listProjections(ctx, &out, s.Projections); err != nil {
				t.Fatal(err)
			}
			if strings.Count(out.String(), "caught up") != 7 {
				t.Errorf("list:\n%s", out.String())
			}

			out.Reset()
			if err := rebuildProjection(ctx, &out, s.Projections, projection.NameCustomers, projection.RebuildOptions{}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "customers rebuilt: 4 events") {
				t.Errorf("rebuild:\n%s", out.String())
			}
			registerCustomers(t, s, 1)
			list, _, err := s.Reader.Customers(ctx, projection.CustomerFilter{}, "", 10)
			if err != nil || len(list) != 5 {
				t.Fatalf("after the rebuild: %d customers, %v; want 5", len(list), err)
			}
		})
	}
}
