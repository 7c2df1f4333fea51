package notify_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/notify"
)

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func TestCloudAPIBody(t *testing.T) {
	t.Parallel()
	bodyComponent := map[string]any{
		"type": "body",
		"parameters": []any{
			map[string]any{"type": "text", "text": "Asha Rao"},
			map[string]any{"type": "text", "text": "POL-1"},
			map[string]any{"type": "text", "text": "1 Jan 2026"},
			map[string]any{"type": "text", "text": "31 Dec 2026"},
		},
	}
	header := func(doc map[string]any) map[string]any {
		return map[string]any{
			"type":       "header",
			"parameters": []any{map[string]any{"type": "document", "document": doc}},
		}
	}
	message := func(components ...any) map[string]any {
		tmpl := map[string]any{
			"name":     "insure_policy_confirmation",
			"language": map[string]any{"code": "en"},
		}
		if len(components) > 0 {
			tmpl["components"] = components
		}
		return map[string]any{
			"messaging_product": "whatsapp",
			"to":                "+919812345678",
			"type":              "template",
			"template":          tmpl,
		}
	}
	noDoc := validWhatsApp()
	noDoc.DocumentID, noDoc.DocumentName = "", ""
	noParams := noDoc
	noParams.Params = nil

	tests := []struct {
		name string
		w    notify.WhatsApp
		ref  string
		want map[string]any
	}{
		{"media id", validWhatsApp(), "1234567890",
			message(header(map[string]any{"id": "1234567890", "filename": "policy-POL-1.pdf"}), bodyComponent)},
		{"link", validWhatsApp(), "https://files.insure.example/d/abc.pdf",
			message(header(map[string]any{"link": "https://files.insure.example/d/abc.pdf", "filename": "policy-POL-1.pdf"}), bodyComponent)},
		{"no document", noDoc, "", message(bodyComponent)},
		{"no document and no params", noParams, "", message()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := notify.CloudAPIBody(tt.w, tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, decode(t, b)); diff != "" {
				t.Errorf("CloudAPIBody mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCloudAPIBodyDoesNotEscapeHTML(t *testing.T) {
	t.Parallel()
	w := validWhatsApp()
	w.Params[0] = "A & B <Ltd>"
	b, err := notify.CloudAPIBody(w, "1")
	if err != nil {
		t.Fatal(err)
	}
	if want := `"text":"A & B <Ltd>"`; !json.Valid(b) || !strings.Contains(string(b), want) {
		t.Errorf("CloudAPIBody = %s, want it to contain %s", b, want)
	}
}

func TestCloudAPIBodyErrors(t *testing.T) {
	t.Parallel()
	noDoc := validWhatsApp()
	noDoc.DocumentID, noDoc.DocumentName = "", ""
	bad := validWhatsApp()
	bad.To = "12"
	for name, tt := range map[string]struct {
		w   notify.WhatsApp
		ref string
	}{
		"document without reference": {validWhatsApp(), ""},
		"reference without document": {noDoc, "123"},
		"invalid message":            {bad, "123"},
	} {
		if _, err := notify.CloudAPIBody(tt.w, tt.ref); !errors.Is(err, notify.ErrInvalid) {
			t.Errorf("%s: CloudAPIBody error = %v, want ErrInvalid", name, err)
		}
	}
}
