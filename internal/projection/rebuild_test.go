package projection_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/projection"
)

// dumps are the queries that print each read model's tables for
// comparison, with their column counts: every column, except the
// customers' sealed ones, which a rebuild seals again (with new nonces);
// openedCustomers compares those.
var dumps = map[string][]struct {
	q    string
	cols int
}{
	projection.NameCustomers: {
		{`SELECT id, channel, pref_email, pref_whatsapp, email_verified, email_index, phone_index, version, created_at, updated_at, erased_at
			FROM customers ORDER BY id`, 11},
		{`SELECT customer_id, token FROM customer_name_tokens ORDER BY customer_id, token`, 2},
	},
	projection.NameQuotations: {{`SELECT * FROM quotations ORDER BY id`, 13}},
	projection.NamePolicies:   {{`SELECT * FROM policies ORDER BY id`, 18}},
	projection.NameMessages:   {{`SELECT * FROM messages ORDER BY id`, 15}},
	projection.NameDocuments:  {{`SELECT * FROM documents ORDER BY id`, 10}},
	projection.NameAuditLog:   {{`SELECT * FROM audit_log ORDER BY id`, 7}},
	projection.NameAccessLog:  {{`SELECT * FROM access_log ORDER BY id`, 10}},
	"seen":                    {{`SELECT * FROM seen ORDER BY position`, 3}},
}

// dump prints the rows of the read model called name.
func dump(t testing.TB, db database.DB, name string) []string {
	t.Helper()
	var out []string
	for _, d := range dumps[name] {
		rows, err := db.Query(context.Background(), d.q)
		if err != nil {
			t.Fatalf("%s: %v", d.q, err)
		}
		for rows.Next() {
			vals := make([]any, d.cols)
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("%s: %v", d.q, err)
			}
			var b strings.Builder
			for _, v := range vals {
				switch x := v.(type) {
				case time.Time:
					fmt.Fprintf(&b, "%s|", x.UTC().Format(time.RFC3339Nano))
				case []byte:
					fmt.Fprintf(&b, "%s|", x)
				default:
					fmt.Fprintf(&b, "%v|", x)
				}
			}
			out = append(out, b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// openedCustomers reads every customer through the reader, personal data
// opened.
func openedCustomers(t testing.TB, r *rig) []projection.Customer {
	t.Helper()
	var out []projection.Customer
	after := ""
	for {
		page, next, err := projection.NewReader(r.db, r.vault).Customers(context.Background(), projection.CustomerFilter{}, after, 200)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		after = next
	}
}

// indexes lists the names of the indexes of the read models' tables.
func indexes(t testing.TB, db database.DB) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN
		('customers', 'customer_name_tokens', 'quotations', 'policies', 'messages', 'documents', 'audit_log', 'access_log') ORDER BY name`
	if db.Dialect() == database.Postgres {
		q = `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename IN
			('customers', 'customer_name_tokens', 'quotations', 'policies', 'messages', 'documents', 'audit_log', 'access_log') ORDER BY indexname`
	}
	rows, err := db.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func readModelNames() []string {
	return []string{projection.NameCustomers, projection.NameQuotations, projection.NamePolicies, projection.NameMessages,
		projection.NameDocuments, projection.NameAuditLog, projection.NameAccessLog}
}

func TestRebuildEqualsLive(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		r := newRig(t, db)
		write(t, r, 3, 20)
		before := map[string][]string{}
		for _, name := range readModelNames() {
			before[name] = dump(t, db, name)
		}
		customersBefore := openedCustomers(t, r)
		indexesBefore := indexes(t, db)
		for _, name := range readModelNames() {
			var reports []projection.Progress
			got, err := r.subs.Rebuild(ctx, name, projection.RebuildOptions{BatchSize: 7, Progress: func(p projection.Progress) {
				reports = append(reports, p)
			}})
			if err != nil {
				t.Fatal(err)
			}
			if got.Phase != "done" || got.Position != head(t, db) || len(reports) < 2 || reports[len(reports)-2].Phase != "swap" {
				t.Errorf("rebuild %s: %+v after %d reports, want done at the head after a swap", name, got, len(reports))
			}
			if diff := cmp.Diff(before[name], dump(t, db, name)); diff != "" {
				t.Errorf("rebuilt %s differs from the one built inline (-inline +rebuilt):\n%s", name, diff)
			}
		}
		if diff := cmp.Diff(customersBefore, openedCustomers(t, r)); diff != "" {
			t.Errorf("rebuilt customers read differently (-inline +rebuilt):\n%s", diff)
		}
		if diff := cmp.Diff(indexesBefore, indexes(t, db)); diff != "" {
			t.Errorf("indexes after the rebuilds (-before +after):\n%s", diff)
		}
		waitCaughtUp(t, r.subs, time.Second)
		// The rebuilt tables take inline writes as before.
		write(t, r, 1, 10)
		waitCaughtUp(t, r.subs, time.Second)
		checkReadModels(t, db)
		if _, err := r.subs.Rebuild(ctx, "nope", projection.RebuildOptions{}); !errors.Is(err, projection.ErrUnknownProjection) {
			t.Errorf("Rebuild(nope) = %v, want ErrUnknownProjection", err)
		}
	})
}

// TestRebuildDuringLiveWrites rebuilds read models while writers run and
// readers read: readers never see a table empty or half built, nothing
// written meanwhile is lost, and the result equals a rebuild from scratch
// on a quiet database.
func TestRebuildDuringLiveWrites(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		exec(t, db, seenDDL)
		r := newRig(t, db, seen{})
		if err := r.subs.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		write(t, r, 4, 25)

		stop := make(chan struct{})
		var wg sync.WaitGroup
		var written atomic.Int64
		errs := make(chan error, 16)
		for range 4 { // writers
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := &writer{r: r}
				for i := 0; ; i++ {
					select {
					case <-stop:
						if i%5 == 0 {
							return
						}
					default:
					}
					if err := w.next(ctx, i); err != nil {
						errs <- fmt.Errorf("writer: command %d: %w", i, err)
						return
					}
					written.Add(1)
				}
			}()
		}
		wg.Add(1)
		go func() { // a reader: the tables only grow, so a count never falls
			defer wg.Done()
			last := map[string]int64{}
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, table := range []string{"customers", "customer_name_tokens", "policies", "access_log", "seen"} {
					var n int64
					if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
						errs <- fmt.Errorf("reader: %s: %w", table, err)
						return
					}
					if n < last[table] {
						errs <- fmt.Errorf("reader: %s had %d rows, then %d", table, last[table], n)
						return
					}
					last[table] = n
				}
			}
		}()

		for _, name := range []string{projection.NameCustomers, projection.NamePolicies, projection.NameAccessLog, "seen"} {
			if _, err := r.subs.Rebuild(ctx, name, projection.RebuildOptions{BatchSize: 50}); err != nil {
				t.Errorf("rebuild %s during writes: %v", name, err)
			}
		}
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if written.Load() == 0 {
			t.Fatal("no command ran during the rebuilds")
		}
		t.Logf("%d commands during the rebuilds", written.Load())
		waitCaughtUp(t, r.subs, 5*time.Second)
		checkReadModels(t, db)
		checkSeen(t, db, "seen")

		// The result equals a rebuild from scratch on a quiet database.
		names := []string{projection.NameCustomers, projection.NamePolicies, projection.NameAccessLog, "seen"}
		live := map[string][]string{}
		for _, name := range names {
			live[name] = dump(t, db, name)
		}
		liveCustomers := openedCustomers(t, r)
		for _, name := range names {
			if _, err := r.subs.Rebuild(ctx, name, projection.RebuildOptions{Restart: true}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(live[name], dump(t, db, name)); diff != "" {
				t.Errorf("%s rebuilt during writes differs from one rebuilt from scratch (-during +scratch):\n%s", name, diff)
			}
		}
		if diff := cmp.Diff(liveCustomers, openedCustomers(t, r)); diff != "" {
			t.Errorf("customers (-during +scratch):\n%s", diff)
		}
		if !slices.Equal(live["seen"], dump(t, db, "seen")) {
			t.Error("seen differs")
		}
	})
}
