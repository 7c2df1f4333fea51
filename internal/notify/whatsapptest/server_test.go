package whatsapptest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"insure/internal/notify/whatsapptest"
)

const (
	phoneNumberID = "106540352242922"
	token         = "test-token"
)

// recordingTB keeps the fake's violations instead of failing the test.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingTB) reported() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

func post(t *testing.T, url, auth, contentType string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("reply %s: %v", data, err)
	}
	return resp.StatusCode, m
}

func message(to, documentID string) []byte {
	header := ""
	if documentID != "" {
		header = `{"type":"header","parameters":[{"type":"document","document":{"id":"` + documentID + `","filename":"a.pdf"}}]},`
	}
	return []byte(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"` + to + `","type":"template",` +
		`"template":{"name":"insure_quotation","language":{"code":"en"},"components":[` + header +
		`{"type":"body","parameters":[{"type":"text","text":"Asha"}]}]}}`)
}

func upload(t *testing.T, fields map[string]string, fileType string, file []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if file != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", multipart.FileContentDisposition("file", "a.pdf"))
		h.Set("Content-Type", fileType)
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(file)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

func TestServerAcceptsTheDocumentedShape(t *testing.T) {
	t.Parallel()
	s := whatsapptest.Start(t, phoneNumberID, token)
	base := s.URL + "/v21.0/" + phoneNumberID
	ct, body := upload(t, map[string]string{"messaging_product": "whatsapp", "type": "application/pdf"}, "application/pdf", []byte("%PDF-1.7"))
	status, reply := post(t, base+"/media", "Bearer "+token, ct, body)
	mediaID, _ := reply["id"].(string)
	if status != http.StatusOK || mediaID == "" {
		t.Fatalf("upload: %d %v", status, reply)
	}

	done := make(chan []whatsapptest.Request)
	go func() { done <- s.WaitForRequests(t, 1, 10*time.Second) }()
	status, reply = post(t, base+"/messages", "Bearer "+token, "application/json", message("919812345678", mediaID))
	if status != http.StatusOK {
		t.Fatalf("message: %d %v", status, reply)
	}
	reqs := <-done
	if len(reqs) != 1 || reqs[0].DocumentID != mediaID || reqs[0].To != "919812345678" || reqs[0].Params[0] != "Asha" {
		t.Errorf("requests = %+v", reqs)
	}
	wamid := reply["messages"].([]any)[0].(map[string]any)["id"]
	if wamid != reqs[0].ProviderMessageID {
		t.Errorf("answered %v, recorded %s", wamid, reqs[0].ProviderMessageID)
	}
}

func TestServerRefusesMalformedRequests(t *testing.T) {
	t.Parallel()
	pdfType, pdfUpload := upload(t, map[string]string{"messaging_product": "whatsapp", "type": "application/pdf"}, "application/pdf", []byte("%PDF-1.7"))
	tests := []struct {
		name        string
		path        string
		auth        string
		contentType string
		body        []byte
		status      int
		want        string // part of the violation
	}{
		{"plus in to", "/v21.0/" + phoneNumberID + "/messages", "Bearer " + token, "application/json",
			message("+919812345678", ""), 400, "to is not"},
		{"unknown field", "/v21.0/" + phoneNumberID + "/messages", "Bearer " + token, "application/json",
			[]byte(`{"messaging_product":"whatsapp","to":"919812345678","type":"template","preview_url":true,"template":{"name":"x","language":{"code":"en"}}}`),
			400, "preview_url"},
		{"media id not issued", "/v21.0/" + phoneNumberID + "/messages", "Bearer " + token, "application/json",
			message("919812345678", "4242"), 400, "not a media id this server issued"},
		{"wrong token", "/v21.0/" + phoneNumberID + "/messages", "Bearer nope", "application/json",
			message("919812345678", ""), 401, "Authorization"},
		{"no token", "/v21.0/" + phoneNumberID + "/messages", "", "application/json",
			message("919812345678", ""), 401, "Authorization header is missing"},
		{"token in query", "/v21.0/" + phoneNumberID + "/messages?access_token=" + token, "Bearer " + token, "application/json",
			message("919812345678", ""), 400, "query"},
		{"wrong phone number id", "/v21.0/1/messages", "Bearer " + token, "application/json",
			message("919812345678", ""), 400, "phone number id"},
		{"no version", "/" + phoneNumberID + "/messages", "Bearer " + token, "application/json",
			message("919812345678", ""), 400, "path"},
		{"form body", "/v21.0/" + phoneNumberID + "/messages", "Bearer " + token, "application/x-www-form-urlencoded",
			[]byte("to=1"), 400, "Content-Type"},
		{"upload as json", "/v21.0/" + phoneNumberID + "/media", "Bearer " + token, "application/json",
			[]byte(`{}`), 400, "multipart/form-data"},
		{"upload type mismatch", "/v21.0/" + phoneNumberID + "/media", "Bearer " + token, pdfType,
			bytes.Replace(pdfUpload, []byte("Content-Type: application/pdf"), []byte("Content-Type: text/plain"), 1), 400, "differs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recordingTB{TB: t}
			s := whatsapptest.Start(rec, phoneNumberID, token)
			status, reply := post(t, s.URL+tt.path, tt.auth, tt.contentType, tt.body)
			if status != tt.status || reply["error"] == nil {
				t.Errorf("reply %d %v, want %d with a Graph error", status, reply, tt.status)
			}
			reported, violations := rec.reported(), s.Violations()
			if len(reported) != 1 || len(violations) != 1 || !strings.Contains(violations[0], tt.want) {
				t.Errorf("violations %q (reported %q), want one containing %q", violations, reported, tt.want)
			}
			if len(s.Requests()) != 0 || len(s.Media()) != 0 {
				t.Error("a refused request was recorded")
			}
		})
	}
}

func TestServerFailureModes(t *testing.T) {
	t.Parallel()
	s := whatsapptest.Start(t, phoneNumberID, token)
	url := s.URL + "/v21.0/" + phoneNumberID + "/messages"
	s.FailNext(1, whatsapptest.Reject400)
	s.FailAlways(whatsapptest.RateLimitCode130429)
	for _, want := range []float64{131026, 130429, 130429} {
		status, reply := post(t, url, "Bearer "+token, "application/json", message("919812345678", ""))
		code, _ := reply["error"].(map[string]any)["code"].(float64)
		if status != http.StatusBadRequest || code != want {
			t.Errorf("reply %d %v, want 400 with code %v", status, reply, want)
		}
	}
	s.Recover()
	if status, _ := post(t, url, "Bearer "+token, "application/json", message("919812345678", "")); status != http.StatusOK {
		t.Errorf("after Recover: %d, want 200", status)
	}
	if s.MessageCalls() != 4 || len(s.Requests()) != 1 {
		t.Errorf("calls %d, accepted %d; want 4 and 1", s.MessageCalls(), len(s.Requests()))
	}
}
