package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/projection"
)

func TestListMessages(t *testing.T) {
	t.Parallel()

	type call struct {
		CustomerID, Channel, After string
		Limit                      int
	}
	tests := []struct {
		query string
		want  call
	}{
		{"", call{"", "", "", 50}},
		{"?customer_id=" + customerID, call{customerID, "", "", 50}},
		{"?channel=whatsapp&after=m1&limit=5", call{"", "whatsapp", "m1", 5}},
		{"?customer_id=" + customerID + "&channel=email", call{customerID, "email", "", 50}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			var got call
			h.f.messages.ListFn = func(_ context.Context, customerID, channel, after string, limit int) ([]projection.Message, string, error) {
				got = call{customerID, channel, after, limit}
				return []projection.Message{testMessage()}, "", nil
			}
			w := h.do("GET", "/api/v1/messages"+tt.query, "")
			wantStatus(t, w, http.StatusOK)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("call (-want +got):\n%s", diff)
			}
			type list struct {
				Messages []projection.Message `json:"messages"`
				Next     *string              `json:"next"`
			}
			want := list{Messages: []projection.Message{testMessage()}}
			if diff := cmp.Diff(want, decodeJSON[list](t, w)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("admin message without documents", func(t *testing.T) {
		t.Parallel()
		h := setup(t)
		h.f.messages.ListFn = func(context.Context, string, string, string, int) ([]projection.Message, string, error) {
			m := testMessage()
			m.CustomerID, m.RecipientRole, m.DocumentIDs, m.Status, m.SentAt, m.Error = nil, "admin", nil, "failed", nil, ptr("bounced")
			return []projection.Message{m}, "", nil
		}
		w := h.do("GET", "/api/v1/messages", "")
		wantStatus(t, w, http.StatusOK)
		got := decodeJSON[map[string][]map[string]any](t, w)["messages"][0]
		if ids, ok := got["document_ids"].([]any); !ok || len(ids) != 0 {
			t.Errorf("document_ids = %#v, want []", got["document_ids"])
		}
	})

	bad := []struct{ query, field string }{
		{"channel=sms", "channel"},
		{"channel=EMAIL", "channel"},
		{"customer_id=42", "customer_id"},
		{"customer_id=" + customerID + "&customer_id=" + unknownID, "customer_id"},
		{"limit=0", "limit"},
		{"after=" + strings.Repeat("c", 201), "after"},
	}
	for _, tt := range bad {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			w := h.do("GET", "/api/v1/messages?"+tt.query, "", wrong())
			wantError(t, w, http.StatusUnprocessableEntity, "invalid", tt.field)
		})
	}
}
