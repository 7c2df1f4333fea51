package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/queue"
)

func TestListDeadLetters(t *testing.T) {
	t.Parallel()
	h := setup(t)
	type call struct {
		After int64
		Limit int
	}
	var got []call
	h.f.deadLetters.ListFn = func(_ context.Context, after int64, limit int) ([]queue.DeadLetter, error) {
		got = append(got, call{after, limit})
		return []queue.DeadLetter{testDeadLetter()}, nil
	}
	wantStatus(t, h.do("GET", "/api/v1/dead-letters", ""), http.StatusOK)
	w := h.do("GET", "/api/v1/dead-letters?after=6&limit=10", "")
	wantStatus(t, w, http.StatusOK)
	if diff := cmp.Diff([]call{{0, 100}, {6, 10}}, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	type list struct {
		DeadLetters []queue.DeadLetter `json:"dead_letters"`
	}
	if diff := cmp.Diff(list{[]queue.DeadLetter{testDeadLetter()}}, decodeJSON[list](t, w)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}

	for _, q := range []string{"after=-3", "limit=0", "limit=1001"} {
		field, _, _ := strings.Cut(q, "=")
		wantError(t, h.do("GET", "/api/v1/dead-letters?"+q, "", wrong()), http.StatusUnprocessableEntity, "invalid", field)
	}
}

func TestDiscardDeadLetter(t *testing.T) {
	t.Parallel()
	h := setup(t)
	var gotID int64
	h.f.deadLetters.DiscardFn = func(_ context.Context, id int64) (queue.DeadLetter, error) {
		gotID = id
		d := testDeadLetter()
		d.Status, d.ResolvedAt = "discarded", ptr(testNow)
		return d, nil
	}
	w := h.do("POST", "/api/v1/dead-letters/9/discard", "")
	wantStatus(t, w, http.StatusOK)
	if got := decodeJSON[queue.DeadLetter](t, w); gotID != 9 || got.Status != "discarded" {
		t.Errorf("id %d, status %q", gotID, got.Status)
	}
	for _, tt := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("dead letter 9: %w", queue.ErrDeadLetterNotFound), http.StatusNotFound, "not_found"},
		{fmt.Errorf("dead letter 9 is retried: %w", queue.ErrAlreadyResolved), http.StatusConflict, "conflict"},
	} {
		h := setup(t)
		h.f.deadLetters.DiscardFn = func(context.Context, int64) (queue.DeadLetter, error) { return queue.DeadLetter{}, tt.err }
		wantError(t, h.do("POST", "/api/v1/dead-letters/9/discard", ""), tt.status, tt.code, "")
	}
	wantError(t, h.do("POST", "/api/v1/dead-letters/0/discard", "", wrong()), http.StatusNotFound, "not_found", "")
}

func TestRetryDeadLetter(t *testing.T) {
	t.Parallel()
	h := setup(t)
	var gotID int64
	h.f.deadLetters.RetryFn = func(_ context.Context, id int64) (queue.DeadLetter, error) {
		gotID = id
		d := testDeadLetter()
		d.Status, d.ResolvedAt = "retried", ptr(testNow)
		return d, nil
	}
	w := h.do("POST", "/api/v1/dead-letters/7/retry", "")
	wantStatus(t, w, http.StatusOK)
	if gotID != 7 {
		t.Errorf("id = %d", gotID)
	}
	if got := decodeJSON[queue.DeadLetter](t, w); got.Status != "retried" {
		t.Errorf("status = %q", got.Status)
	}

	errs := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"not found", fmt.Errorf("dead letter 7: %w", queue.ErrDeadLetterNotFound), http.StatusNotFound, "not_found"},
		{"already resolved", fmt.Errorf("dead letter 7 is retried: %w", queue.ErrAlreadyResolved), http.StatusConflict, "conflict"},
		{"job busy", fmt.Errorf("retry dead letter 7 (job 42 is running): %w", queue.ErrJobBusy), http.StatusConflict, "conflict"},
		{"apperr from a wrapper", apperr.Wrap(apperr.NotFound, queue.ErrDeadLetterNotFound, "there is no dead letter 7"), http.StatusNotFound, "not_found"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			h := setup(t)
			h.f.deadLetters.RetryFn = func(context.Context, int64) (queue.DeadLetter, error) {
				return queue.DeadLetter{}, tt.err
			}
			msg := wantError(t, h.do("POST", "/api/v1/dead-letters/7/retry", ""), tt.status, tt.code, "")
			if strings.Contains(msg, "job 42") {
				t.Errorf("message %q shows the wrapped detail", msg)
			}
			if tt.name == "job busy" && !strings.Contains(msg, "try again") {
				t.Errorf("message %q does not say to try again", msg)
			}
		})
	}

	for _, id := range []string{"0", "-1", "abc", "07", "99999999999999999999"} {
		t.Run("id "+id, func(t *testing.T) {
			h := setup(t)
			wantError(t, h.do("POST", "/api/v1/dead-letters/"+id+"/retry", "", wrong()), http.StatusNotFound, "not_found", "")
		})
	}
}
