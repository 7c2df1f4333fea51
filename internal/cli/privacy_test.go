package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/queue"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers (the logger).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoPersonalDataInLogsOrJobs runs every workflow with debug logging and
// checks that no name, email address or phone number reaches the logs or
// the queue's job payloads.
func TestNoPersonalDataInLogsOrJobs(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cfg := testConfig(t, d)
			logs := &syncBuffer{}
			logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			s, err := Open(ctx, cfg, logger, Options{Workers: true, Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Queue.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = s.Queue.Stop(sctx)
				_ = s.Close()
			})
			srv := httptest.NewServer(s.Handler())
			t.Cleanup(srv.Close)
			c := client{t: t, base: srv.URL}
			if err := runWorkflows(ctx, s, false, &printer{w: &bytes.Buffer{}}); err != nil {
				t.Fatal(err)
			}
			body := map[string]any{"name": "Kavya Raghunathan", "email": "kavya.r@example.org", "phone": "+91 90000 12345"}
			c.expect(201, "POST", "/api/v1/customers", body)
			c.expect(409, "POST", "/api/v1/customers", body)
			c.expect(422, "POST", "/api/v1/customers", map[string]any{"name": "Kavya Raghunathan", "email": "kavya.r@", "phone": "+91 90000 12345"})
			if err := s.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}
			// Whole numbers as sent and as stored: a five-digit fragment also
			// occurs in log timestamps and would fail the test by chance.
			secrets := []string{"Asha", "Verma", "Rohan", "Mehta", "Kavya", "Raghunathan", "@example.com", "example.org",
				"9876543210", "98765 43210", "9820012345", "98200 12345", "9000012345", "90000 12345"}
			out := logs.String()
			if !strings.Contains(out, "listener") || !strings.Contains(out, `"status"`) {
				t.Fatalf("the logs do not show listener and request lines; the check would prove nothing:\n%s", out[:min(len(out), 2000)])
			}
			checkLogFields(t, out, "CustomerRegistered", "POST /api/v1/customers")
			for _, p := range secrets {
				if strings.Contains(out, p) {
					i := strings.Index(out, p)
					t.Errorf("log output contains personal data %q: …%s…", p, out[max(0, i-200):min(len(out), i+100)])
				}
			}
			rows, err := s.DB.Query(ctx, jobArgsQuery(d))
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var kind, args, meta string
				if err := rows.Scan(&kind, &args, &meta); err != nil {
					t.Fatal(err)
				}
				n++
				checkJobArgs(t, s, kind, args)
				for _, p := range secrets {
					if strings.Contains(args+" "+meta, p) {
						t.Errorf("job payload contains personal data %q: %s %s", p, args, meta)
					}
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if n < 20 {
				t.Fatalf("only %d jobs checked", n)
			}
		})
	}
}

func jobArgsQuery(d database.Dialect) string {
	return `SELECT kind, ` + queue.JSONText(d, "args") + `, ` + queue.JSONText(d, "metadata") + ` FROM river_job`
}

// checkJobArgs holds every job kind to its payload of ids: a listener job
// carries exactly a known listener's name and an event id, a periodic job
// exactly a task name. Any other kind, or any other field, fails.
func checkJobArgs(t *testing.T, s *System, kind, args string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(args))
	dec.DisallowUnknownFields()
	switch kind {
	case queue.ListenerArgs{}.Kind():
		var a queue.ListenerArgs
		if err := dec.Decode(&a); err != nil {
			t.Errorf("%s job args %s: %v", kind, args, err)
			return
		}
		if _, known := s.Listeners.Settings(a.Listener); !event.ValidID(a.EventID) || !known {
			t.Errorf("%s job args %s: want a known listener and an event id", kind, args)
		}
	case queue.PeriodicArgs{}.Kind():
		var a queue.PeriodicArgs
		if err := dec.Decode(&a); err != nil || (a.Task != "policy-expiry-scan" && a.Task != idempotencyCleanupTask) {
			t.Errorf("%s job args %s: want the task name alone (%v)", kind, args, err)
		}
	default:
		t.Errorf("job of unknown kind %s with args %s: add it to checkJobArgs with the ids it may carry", kind, args)
	}
}
