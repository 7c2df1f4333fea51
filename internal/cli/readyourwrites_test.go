package cli

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"insure/internal/database/dbtest"
	"insure/internal/httpapi/contracttest"
	"insure/internal/projection"
)

// TestReadYourWrites shows, on SQLite and PostgreSQL, that a write tells
// its position (X-Event-Position) and that a read given it as min_position
// sees the write: at once while the read model is caught up, after waiting
// while it catches up, and with 503 while it stays behind.
func TestReadYourWrites(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, c := serveWithoutWorkers(t, testConfig(t, d))

			position := func(r response) int64 {
				t.Helper()
				pos, err := strconv.ParseInt(r.header.Get("X-Event-Position"), 10, 64)
				if err != nil || pos < 1 {
					t.Fatalf("X-Event-Position = %q, want a position", r.header.Get("X-Event-Position"))
				}
				return pos
			}
			checkpoint := func() int64 {
				t.Helper()
				var at int64
				if err := s.DB.QueryRow(ctx, `SELECT position FROM projection_checkpoints WHERE name = $1`, projection.NameCustomers).Scan(&at); err != nil {
					t.Fatal(err)
				}
				return at
			}
			at := func(pos int64) string { return "?min_position=" + strconv.FormatInt(pos, 10) }

			// Caught up: the write is applied inline, the read does not wait.
			r := c.expect(201, "POST", "/api/v1/customers", map[string]any{
				"name": "Asha Verma", "email": "asha@example.com", "phone": "+91 98765 43210", "channel": "web"})
			id, _ := r.json(t)["id"].(string)
			pos1 := position(r)
			path := "/api/v1/customers/" + id
			r = c.expect(200, "GET", path+at(pos1), nil)
			if got := r.json(t)["id"]; got != id {
				t.Fatalf("read customer %v, want %s", got, id)
			}
			c.expect(422, "GET", "/api/v1/customers?min_position=-1", nil, contracttest.SkipRequestHeader, "1")

			// Put the customers read model behind: back to the
			// registration (what came after it, the read's access record,
			// is no customer event). Inline appends now skip it.
			if _, err := s.DB.Exec(ctx, `UPDATE projection_checkpoints SET position = $1 WHERE name = $2`, pos1, projection.NameCustomers); err != nil {
				t.Fatal(err)
			}
			r = c.expect(200, "PATCH", path, map[string]any{"name": "Asha Rao"})
			pos2 := position(r)
			// The write answers with what it committed, not the stale row.
			if got := r.json(t); got["name"] != "Asha Rao" || got["version"] != float64(2) {
				t.Errorf("PATCH while the read model is behind answered %v", got)
			}
			if cp := checkpoint(); cp >= pos2 {
				t.Fatalf("customers checkpoint %d: the change was applied inline to a read model that is behind", cp)
			}

			// Behind, and nothing catches up: 503 after the wait.
			r = c.expect(503, "GET", path+at(pos2), nil)
			if r.header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if msg := string(r.body); !strings.Contains(msg, projection.NameCustomers) || !strings.Contains(msg, "min_position") {
				t.Errorf("503 says %s; want the read model and min_position named", msg)
			}

			// Behind, and caught up while the read waits: 200 with the change.
			done := make(chan error, 1)
			go func() {
				time.Sleep(200 * time.Millisecond)
				_, err := s.Projections.CatchUp(ctx, projection.NameCustomers)
				done <- err
			}()
			r = c.expect(200, "GET", path+at(pos2), nil)
			if err := <-done; err != nil {
				t.Fatalf("catch up: %v", err)
			}
			if got := r.json(t); got["name"] != "Asha Rao" || got["version"] != float64(2) {
				t.Fatalf("read %v, want the changed customer at version 2", got)
			}

			// A write that changes nothing commits nothing, and says no position.
			r = c.expect(200, "PATCH", path, map[string]any{"name": "Asha Rao"})
			if got, ok := r.header["X-Event-Position"]; ok {
				t.Errorf("X-Event-Position = %q on a write that changed nothing", got)
			}
		})
	}
}
