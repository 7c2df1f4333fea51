package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/event"
)

func TestReadEvents(t *testing.T) {
	t.Parallel()

	type call struct {
		After int64
		Limit int
		Types []string
	}
	tests := []struct {
		query string
		want  call
	}{
		{"", call{0, 100, nil}},
		{"?after=41&limit=1000", call{41, 1000, nil}},
		{"?type=CustomerRegistered", call{0, 100, []string{"CustomerRegistered"}}},
		{"?type=CustomerRegistered,PolicyCreated&type=QuotationRequested", call{0, 100, []string{"CustomerRegistered", "PolicyCreated", "QuotationRequested"}}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			var got call
			h.f.events.ReadFn = func(_ context.Context, after int64, limit int, types []string) ([]event.Envelope, int64, error) {
				got = call{after, limit, types}
				return []event.Envelope{testEnvelope(after + 1), testEnvelope(after + 2)}, after + 2, nil
			}
			w := h.do("GET", "/api/v1/events"+tt.query, "")
			wantStatus(t, w, http.StatusOK)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("call (-want +got):\n%s", diff)
			}
			type page struct {
				Events []event.Envelope `json:"events"`
				Next   int64            `json:"next"`
			}
			want := page{Events: []event.Envelope{testEnvelope(tt.want.After + 1), testEnvelope(tt.want.After + 2)}, Next: tt.want.After + 2}
			if diff := cmp.Diff(want, decodeJSON[page](t, w)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("end of the log", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.events.ReadFn = func(context.Context, int64, int, []string) ([]event.Envelope, int64, error) {
			return nil, 0, nil
		}
		w := h.do("GET", "/api/v1/events?after=77", "")
		wantStatus(t, w, http.StatusOK)
		if got := w.Body.String(); got != `{"events":[],"next":77}`+"\n" {
			t.Errorf("body = %q", got)
		}
	})

	bad := []struct{ query, field string }{
		{"after=-1", "after"},
		{"after=x", "after"},
		{"after=1&after=2", "after"},
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"type=Customer+Registered", "type"},
		{"type=1Event", "type"},
		{"type=" + strings.Repeat("A,", 51), "type"},
	}
	for _, tt := range bad {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			w := h.do("GET", "/api/v1/events?"+tt.query, "", wrong())
			wantError(t, w, http.StatusUnprocessableEntity, "invalid", tt.field)
		})
	}
}
