package cli

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/httpapi/contracttest"
	"insure/internal/notify/mailpittest"
	"insure/internal/notify/whatsapptest"
	"insure/internal/policy"
)

const (
	waPhoneID = "106540352242922"
	waToken   = "EAAG-test-token"
)

// TestRealDelivery is the end-to-end run over real SMTP (Mailpit) and the
// WhatsApp Cloud API (a fake that holds the client to the documented request
// shape): registration, quotation, renewal reminders, a WhatsApp outage that
// ends in a dead letter and its retry, and an SMTP outage that opens the
// breaker and ends with every email delivered exactly once.
func TestRealDelivery(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			realDelivery(t, d)
		})
	}
}

func realDelivery(t *testing.T, d database.Dialect) {
	ctx := context.Background()
	mp := mailpittest.Start(t)
	wa := whatsapptest.Start(t, waPhoneID, waToken)
	cfg := testConfig(t, d)
	cfg.SMTPURL = "smtp://" + mp.SMTPAddr + "?security=none&timeout=5s"
	cfg.WhatsAppAPIURL, cfg.WhatsAppPhoneNumberID, cfg.WhatsAppToken = wa.URL, waPhoneID, waToken
	cfg.WhatsAppAppSecret, cfg.WhatsAppWebhookVerifyToken = "app-secret", "verify-me"
	cfg.QueueMaxAttempts = 2
	cfg.BreakerFailures = 3
	cfg.BreakerOpenFor = 300 * time.Millisecond
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.EffectiveMailDriver() != "smtp" || cfg.EffectiveWhatsAppDriver() != "cloudapi" {
		t.Fatalf("drivers %s/%s", cfg.EffectiveMailDriver(), cfg.EffectiveWhatsAppDriver())
	}
	s := startSystem(t, cfg)
	srv := httptest.NewServer(contracttest.New(t).Wrap(t, s.Handler()))
	t.Cleanup(srv.Close)
	c := client{t: t, base: srv.URL}
	const wait = 30 * time.Second

	// 1. Registration: the welcome email and the admin notification.
	id := c.expect(201, "POST", "/api/v1/customers", map[string]any{"name": "Asha Verma", "email": "asha@example.com",
		"phone": "+91 98765 43210", "preferences": map[string]bool{"email": true, "whatsapp": true}}).json(t)["id"].(string)
	msgs := mp.WaitForCount(t, 2, wait)
	byTo := map[string]mailpittest.Summary{}
	for _, m := range msgs {
		byTo[m.To[0].Address] = m
	}
	if _, ok := byTo["asha@example.com"]; !ok {
		t.Fatalf("no welcome email among %+v", msgs)
	}
	welcome := mp.Message(t, byTo["asha@example.com"].ID)
	token, err := s.Customers.Secrets.VerificationToken(ctx, id, "asha@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(welcome.Text, token) || !strings.Contains(welcome.HTML, token) || welcome.From.Address != "no-reply@insure.local" {
		t.Fatalf("welcome email: from %v, text:\n%s", welcome.From, welcome.Text)
	}
	if _, ok := byTo[cfg.AdminEmail]; !ok {
		t.Fatalf("no admin notification among %+v", msgs)
	}

	// 2. Quotation: the email with the PDF, and the WhatsApp template with
	// the PDF as its document header.
	qid := c.expect(202, "POST", "/api/v1/quotations", map[string]any{"customer_id": id, "product": "motor", "sum_insured": 85_000_000,
		"details": map[string]any{"vehicle_make": "Maruti", "vehicle_model": "Swift", "vehicle_year": time.Now().Year() - 2}}).json(t)["id"].(string)
	msgs = mp.WaitForCount(t, 3, wait)
	var quoteMail mailpittest.Message
	for _, m := range msgs {
		if strings.Contains(strings.ToLower(m.Subject), "quotation") {
			quoteMail = mp.Message(t, m.ID)
		}
	}
	if len(quoteMail.Attachments) != 1 {
		t.Fatalf("quotation email %q attachments: %+v (all: %+v)", quoteMail.Subject, quoteMail.Attachments, msgs)
	}
	att := quoteMail.Attachments[0]
	q := c.expect(200, "GET", "/api/v1/quotations/"+qid, nil).json(t)
	pdf := c.expect(200, "GET", "/api/v1/documents/"+q["document_id"].(string), nil).body
	if att.FileName != "quotation-"+qid+".pdf" || att.ContentType != "application/pdf" || !bytes.Equal(mp.Attachment(t, quoteMail.ID, att.PartID), pdf) {
		t.Fatalf("attachment %+v does not carry the quotation PDF", att)
	}
	reqs := wa.WaitForRequests(t, 1, wait)
	if reqs[0].Template != "insure_quotation" || reqs[0].To != "919876543210" || reqs[0].DocumentID == "" {
		t.Fatalf("WhatsApp quotation request: %+v", reqs[0])
	}
	// The Cloud API's webhook reports it delivered (signed with the app secret).
	c.expect(200, "GET", "/api/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=ch4ll", nil)
	hook := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","statuses":[{"id":%q,"status":"delivered","timestamp":"%d","recipient_id":"919876543210"}]}}]}]}`,
		reqs[0].ProviderMessageID, time.Now().Unix())
	mac := hmac.New(sha256.New, []byte("app-secret"))
	mac.Write([]byte(hook))
	c.expect(401, "POST", "/api/v1/webhooks/whatsapp", hook, "X-Hub-Signature-256", "sha256=00", contracttest.SkipRequestHeader, "1")
	c.expect(200, "POST", "/api/v1/webhooks/whatsapp", hook, "X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	// The report may overtake the recording of the send; either way the
	// message ends up delivered, once.
	waitUntil(t, "the WhatsApp message to be delivered", func() bool {
		delivered := 0
		for _, m := range c.expect(200, "GET", "/api/v1/messages?customer_id="+id+"&channel=whatsapp", nil).json(t)["messages"].([]any) {
			if m.(map[string]any)["status"] == "delivered" {
				delivered++
			}
		}
		return delivered == 1
	})
	media := wa.Media()
	if len(media) != 1 || !bytes.Equal(media[0].Bytes, pdf) || media[0].ContentType != "application/pdf" {
		t.Fatalf("WhatsApp media: %d uploads", len(media))
	}

	// 3. A policy expiring in 10 days, the scan, and the reminder on both
	// channels (the policy confirmation arrives on both as well).
	today := policy.DateOf(time.Now())
	pid := c.expect(201, "POST", "/api/v1/policies", map[string]any{"customer_id": id, "quotation_id": qid, "insurer": "acme", "product": "motor",
		"premium": 2_500_000, "sum_insured": 85_000_000, "start_date": today.AddDays(-355).String(), "end_date": today.AddDays(10).String()}).json(t)["id"].(string)
	scan := c.expect(200, "POST", "/api/v1/policies/expiry-scan", nil).json(t)
	if w, _ := scan["warned"].([]any); len(w) != 1 {
		t.Fatalf("scan: %v", scan)
	}
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	msgs = mp.WaitForCount(t, 5, wait)
	subjects := ""
	for _, m := range msgs {
		subjects += m.Subject + "\n"
	}
	reqs = wa.WaitForRequests(t, 3, wait)
	templates := map[string]int{}
	for _, r := range reqs {
		templates[r.Template]++
	}
	if templates["insure_renewal_reminder"] != 1 || templates["insure_policy_confirmation"] != 1 {
		t.Fatalf("WhatsApp templates %v", templates)
	}
	for _, r := range reqs {
		if r.Template == "insure_renewal_reminder" && !strings.Contains(strings.Join(r.Params, "|"), "10") {
			t.Errorf("the reminder does not say 10 days: %v", r.Params)
		}
	}

	// 4. WhatsApp answers 500 until the attempts are used up: a dead letter.
	// After the server recovers, retrying it delivers exactly one message.
	wa.FailAlways(whatsapptest.Fail500)
	before := len(wa.Requests())
	c.expect(200, "POST", "/api/v1/policies/"+pid+"/renew", nil)
	var dlID float64
	waitUntil(t, "the WhatsApp dead letter", func() bool {
		dls := c.expect(200, "GET", "/api/v1/dead-letters", nil).json(t)["dead_letters"].([]any)
		for _, x := range dls {
			if dl := x.(map[string]any); dl["listener"] == "ProcessWhatsAppMessage" {
				dlID = dl["id"].(float64)
				return true
			}
		}
		return false
	})
	failedMsgs := 0
	for _, m := range c.expect(200, "GET", "/api/v1/messages?customer_id="+id+"&channel=whatsapp", nil).json(t)["messages"].([]any) {
		if m.(map[string]any)["status"] == "failed" {
			failedMsgs++
		}
	}
	if failedMsgs != 1 {
		t.Fatalf("%d failed WhatsApp messages after the give-up, want 1", failedMsgs)
	}
	wa.Recover()
	waitUntil(t, "the dead letter's retry", func() bool {
		r := c.do("POST", fmt.Sprintf("/api/v1/dead-letters/%d/retry", int64(dlID)), nil)
		return r.status == 200
	})
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(wa.Requests()) - before; got != 1 {
		t.Fatalf("%d WhatsApp messages delivered after the retry, want exactly 1", got)
	}

	// 5. Mailpit goes away: the email breaker opens, jobs wait without
	// using attempts; when it is back every email arrives exactly once.
	mailsBefore := len(mp.Messages(t))
	mp.Stop()
	c.expect(201, "POST", "/api/v1/customers", map[string]any{"name": "Rohan Mehta", "email": "rohan@example.com", "phone": "9820012345"})
	c.expect(201, "POST", "/api/v1/customers", map[string]any{"name": "Meera Iyer", "email": "meera@example.com", "phone": "9900011223"})
	waitUntil(t, "the email breaker to open", func() bool {
		for _, p := range c.expect(200, "GET", "/api/v1/providers", nil).json(t)["providers"].([]any) {
			if pm := p.(map[string]any); pm["name"] == "email" && pm["state"] == "open" {
				return true
			}
		}
		return false
	})
	if r := c.expect(200, "GET", "/readyz", nil).json(t); r["status"] != "degraded" {
		t.Fatalf("readiness while the SMTP breaker is open: %v", r)
	}
	mp.Restart(t)
	mp.WaitForCount(t, mailsBefore+4, wait)
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	all := mp.Messages(t)
	seen := map[string]int{}
	for _, m := range all {
		seen[m.MessageID]++
		if seen[m.MessageID] > 1 {
			t.Errorf("Message-ID %s arrived twice", m.MessageID)
		}
	}
	if len(all) != mailsBefore+4 {
		t.Fatalf("%d emails after the outage, want %d", len(all), mailsBefore+4)
	}
	if n := count(t, s.DB, `SELECT COUNT(*) FROM dead_letters WHERE listener = 'ProcessEmailMessage'`); n != 0 {
		t.Fatalf("%d email dead letters: the outage used up attempts", n)
	}
	if v := wa.Violations(); len(v) != 0 {
		t.Fatalf("requests that break the Cloud API's documented shape: %v", v)
	}
}
