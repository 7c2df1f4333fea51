package recorder_test

import (
	"context"
	"errors"
	"testing"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/recorder"
)

// hook writes a row in the transaction it is given, or fails.
type hook struct {
	fail  error
	calls int
	seen  []string
}

func (h *hook) Committing(ctx context.Context, tx database.Tx, recorded []recorder.Recorded) error {
	h.calls++
	for _, r := range recorded {
		h.seen = append(h.seen, r.AggregateType+":"+r.AggregateID)
	}
	if h.fail != nil {
		return h.fail
	}
	_, err := tx.Exec(ctx, `INSERT INTO app_secrets (name, value) VALUES ('hooked', 'x')`)
	return err
}

// TestCommitHook: a hook in the context runs inside the transaction that
// commits the events (its write commits with them), and its error rolls
// all of it back; recordings that append nothing do not call it.
func TestCommitHook(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		rec, _ := setup(t, db, "normal")
		ec := event.Context{Actor: "test", Channel: "test"}
		change := func(id string) recorder.Change {
			return recorder.Change{AggregateType: "note", AggregateID: id, Events: []event.Payload{noted{Text: "a"}}}
		}

		failing := &hook{fail: errors.New("taken over")}
		if _, err := rec.Record(recorder.WithCommitHook(ctx, failing), ec, nil, change("n1")); !errors.Is(err, failing.fail) {
			t.Fatalf("Record with a failing hook: err = %v, want its error", err)
		}
		if events, jobs, projected := counts(t, db); events+jobs+projected != 0 || failing.calls != 1 {
			t.Fatalf("after a failing hook (%d calls): %d events, %d jobs, %d projected; want none", failing.calls, events, jobs, projected)
		}

		ok := &hook{}
		hctx := recorder.WithCommitHook(ctx, ok)
		if _, err := rec.Record(hctx, ec, nil); err != nil {
			t.Fatal(err)
		}
		if ok.calls != 0 {
			t.Fatal("the hook ran for a recording that appended nothing")
		}
		if _, err := rec.Record(hctx, ec, nil, change("n2")); err != nil {
			t.Fatal(err)
		}
		var hooked int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM app_secrets WHERE name = 'hooked'`).Scan(&hooked); err != nil {
			t.Fatal(err)
		}
		if events, _, _ := counts(t, db); events != 1 || hooked != 1 || ok.calls != 1 || len(ok.seen) != 1 || ok.seen[0] != "note:n2" {
			t.Fatalf("after a good hook: %d events, %d hook rows, calls %d, seen %v; want 1, 1, 1, [note:n2]", events, hooked, ok.calls, ok.seen)
		}
	})
}
