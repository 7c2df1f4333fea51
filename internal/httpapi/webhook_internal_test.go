package httpapi

import "testing"

// TestWhatsAppWebhookSkipsUnknownStatuses: a status value this build does not
// know (Meta adds some over time) is skipped, not an error that would make
// Meta resend the whole batch forever.
func TestWhatsAppWebhookSkipsUnknownStatuses(t *testing.T) {
	t.Parallel()
	statuses, err := decodeWhatsAppStatuses([]byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"statuses":[
		{"id":"wamid.1","status":"READ","timestamp":"1700000000"},
		{"id":"wamid.2","status":"deleted","timestamp":"1700000000"},
		{"id":"wamid.3","status":"delivered","timestamp":"1700000000"}]}}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 1 || statuses[0].ProviderMessageID != "wamid.3" {
		t.Fatalf("statuses: %+v", statuses)
	}
}

func TestKeysAreCaseSensitive(t *testing.T) {
	t.Parallel()
	type prefs struct {
		Email *bool `json:"email"`
	}
	type req struct {
		Name  string `json:"name"`
		Prefs *prefs `json:"preferences"`
	}
	for body, bad := range map[string]bool{
		`{"name":"A"}`: false,
		`{"NAME":"A"}`: true,
		`{"name":"A","preferences":{"email":true}}`: false,
		`{"name":"A","preferences":{"Email":true}}`: true,
		`{"name":"A","Preferences":{"email":true}}`: true,
	} {
		var r req
		err := unmarshalStrict([]byte(body), &r)
		if (err != nil) != bad {
			t.Errorf("%s: error %v, want error %t", body, err, bad)
		}
	}
}
