// Package whatsapptest runs a fake WhatsApp Business Cloud API (the Meta
// Graph API's messages and media endpoints of one business phone number)
// for tests.
//
// The fake holds its client to the vendor's documented request shape: it
// checks every request exactly (method, path, bearer token, content type and
// the body, unknown fields included). A request it does not accept is
// answered like the Graph API answers a bad request (HTTP 400, error code
// 100) and also fails the test through t.Errorf, so a client that drifts
// from the documented shape cannot pass by accident.
//
// Tests choose how the next requests fail (FailNext, FailAlways,
// FailNextUpload): server errors, rate limits, rejections, authentication
// errors, a reply that never comes (Hang) and a dropped connection (Drop).
package whatsapptest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mode is how the fake answers a well-formed request.
type Mode int

// The answers. Every failure body is a Graph API error
// ({"error":{"message","type","code","error_data":{"details"},"fbtrace_id"}}).
const (
	// Answer accepts the request: the messages endpoint returns a wamid,
	// the media endpoint a media id.
	Answer Mode = iota
	// Fail500 answers HTTP 500, code 131000 ("Something went wrong").
	Fail500
	// RateLimit429 answers HTTP 429, code 4 (application request limit),
	// with a Retry-After header of RetryAfter.
	RateLimit429
	// RateLimitCode130429 answers HTTP 400, code 130429 (throughput limit).
	RateLimitCode130429
	// RateLimitCode131056 answers HTTP 400, code 131056 (pair rate limit).
	RateLimitCode131056
	// Reject400 answers HTTP 400, code 131026 ("Message undeliverable").
	Reject400
	// Unauthorized401 answers HTTP 401, code 190 (access token expired).
	Unauthorized401
	// Hang accepts the request (a message is recorded in Requests, an
	// upload in Media) and never answers: the provider took it and the
	// reply was lost. The connection is closed when the client gives up or
	// the test ends.
	Hang
	// Drop reads the whole request and closes the connection without an
	// answer. Nothing is recorded.
	Drop
)

// RetryAfter is the Retry-After header RateLimit429 sends. The Graph API
// does not document one for its error codes, so the other rate limit modes
// send none.
const RetryAfter = 3 * time.Second

// maxMediaBytes is the Cloud API's size limit of an uploaded document.
const maxMediaBytes = 100 << 20

// String names m as in its constant.
func (m Mode) String() string {
	names := []string{"Answer", "Fail500", "RateLimit429", "RateLimitCode130429", "RateLimitCode131056",
		"Reject400", "Unauthorized401", "Hang", "Drop"}
	if m >= 0 && int(m) < len(names) {
		return names[m]
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Request is a template message the fake accepted.
type Request struct {
	To                string // as sent: digits, no +
	Template          string
	Language          string
	Params            []string // the body component's text parameters; nil when none
	DocumentID        string   // the header document's media id (or link); empty without a header
	DocumentFilename  string
	ProviderMessageID string // the wamid the fake answered (or would have, for Hang)
	Body              json.RawMessage
}

// Media is a document the fake accepted at the media endpoint.
type Media struct {
	ID          string
	Filename    string
	ContentType string
	Bytes       []byte
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to configure the client with (CloudAPIConfig.BaseURL).
	URL string

	t             testing.TB
	phoneNumberID string
	token         string
	done          chan struct{} // closed when the test ends: hanging requests give up

	mu           sync.Mutex
	requests     []Request
	media        []Media
	mediaIDs     map[string]bool
	messageCalls int
	mediaCalls   int
	violations   []string
	failMessages failures
	failUploads  failures
	seq          int
	changed      chan struct{} // closed and replaced when a request is recorded
}

type failures struct {
	next   []Mode
	always Mode // Answer: none
}

func (f *failures) take() Mode {
	if len(f.next) > 0 {
		m := f.next[0]
		f.next = f.next[1:]
		return m
	}
	return f.always
}

// Start runs a fake for the business phone number phoneNumberID that
// accepts the access token token. It is closed when t ends.
func Start(t testing.TB, phoneNumberID, token string) *Server {
	t.Helper()
	if phoneNumberID == "" || token == "" {
		t.Fatalf("whatsapptest.Start: phone number id and token are required")
	}
	s := &Server{
		t:             t,
		phoneNumberID: phoneNumberID,
		token:         token,
		done:          make(chan struct{}),
		mediaIDs:      make(map[string]bool),
		changed:       make(chan struct{}),
	}
	srv := httptest.NewServer(s)
	s.URL = srv.URL
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(s.done) }) // runs first: releases Hang handlers so Close can return
	return s
}

// Requests returns the template messages accepted so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneRequests(s.requests)
}

// Media returns the documents uploaded so far, in order.
func (s *Server) Media() []Media {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Media, len(s.media))
	for i, m := range s.media {
		m.Bytes = slices.Clone(m.Bytes)
		out[i] = m
	}
	return out
}

// MessageCalls is the number of requests the messages endpoint received,
// whatever their outcome.
func (s *Server) MessageCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messageCalls
}

// MediaCalls is the number of requests the media endpoint received,
// whatever their outcome.
func (s *Server) MediaCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mediaCalls
}

// Violations returns what the fake found wrong with the requests it refused
// (each also failed the test).
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// FailNext answers the next n well-formed messages requests with mode,
// after any failures queued before.
func (s *Server) FailNext(n int, mode Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failMessages.next = append(s.failMessages.next, mode)
	}
}

// FailNextUpload answers the next n well-formed media uploads with mode.
func (s *Server) FailNextUpload(n int, mode Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failUploads.next = append(s.failUploads.next, mode)
	}
}

// FailAlways answers every messages request with mode (after any queued by
// FailNext) until Recover.
func (s *Server) FailAlways(mode Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failMessages.always = mode
}

// Recover clears every queued and permanent failure, of messages and
// uploads.
func (s *Server) Recover() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failMessages, s.failUploads = failures{}, failures{}
}

// WaitForRequests waits until the fake has accepted at least n template
// messages and returns them; it fails the test when timeout passes first.
func (s *Server) WaitForRequests(t testing.TB, n int, timeout time.Duration) []Request {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.requests) >= n {
			out := cloneRequests(s.requests)
			s.mu.Unlock()
			return out
		}
		changed, got := s.changed, len(s.requests)
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("whatsapptest: waited %s for %d template messages, got %d", timeout, n, got)
			return nil
		}
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	endpoint, problems := s.checkEnvelope(r)
	switch endpoint {
	case "messages":
		s.mu.Lock()
		s.messageCalls++
		s.mu.Unlock()
	case "media":
		s.mu.Lock()
		s.mediaCalls++
		s.mu.Unlock()
	}
	if len(problems) > 0 {
		s.violation(w, r, http.StatusBadRequest, problems)
		return
	}
	if auth := r.Header.Get("Authorization"); auth != "Bearer "+s.token {
		problem := "the Authorization header is missing"
		if auth != "" {
			problem = "the Authorization header is not \"Bearer \" followed by the configured token"
		}
		s.violation(w, r, http.StatusUnauthorized, []string{problem})
		return
	}
	switch endpoint {
	case "messages":
		s.serveMessage(w, r)
	case "media":
		s.serveMedia(w, r)
	}
}

// checkEnvelope checks the method, path and query, and returns the
// endpoint ("messages" or "media", "" when the path is wrong).
func (s *Server) checkEnvelope(r *http.Request) (string, []string) {
	var p []string
	endpoint := ""
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case len(parts) != 3:
		p = append(p, fmt.Sprintf("path %q: want /{version}/{phone number id}/messages or /media", r.URL.Path))
	case !isVersion(parts[0]):
		p = append(p, fmt.Sprintf("path %q: version %q is not like v21.0", r.URL.Path, parts[0]))
	case parts[1] != s.phoneNumberID:
		p = append(p, fmt.Sprintf("path %q: phone number id %q is not the configured %q", r.URL.Path, parts[1], s.phoneNumberID))
	case parts[2] != "messages" && parts[2] != "media":
		p = append(p, fmt.Sprintf("path %q: endpoint %q is not messages or media", r.URL.Path, parts[2]))
	default:
		endpoint = parts[2]
	}
	if r.Method != http.MethodPost {
		p = append(p, fmt.Sprintf("method %s: want POST", r.Method))
	}
	if r.URL.RawQuery != "" {
		p = append(p, "the URL has a query: send the token in the Authorization header and the fields in the body")
	}
	return endpoint, p
}

func (s *Server) serveMessage(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		s.violation(w, r, http.StatusBadRequest, []string{"read body: " + err.Error()})
		return
	}
	req, problems := s.checkMessage(r.Header.Get("Content-Type"), body)
	if len(problems) > 0 {
		s.violation(w, r, http.StatusBadRequest, problems)
		return
	}
	s.mu.Lock()
	mode := s.failMessages.take()
	if mode == Answer || mode == Hang {
		s.seq++
		req.ProviderMessageID = wamid(s.seq)
		s.requests = append(s.requests, req)
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.mu.Unlock()
	switch mode {
	case Answer:
		writeJSON(w, http.StatusOK, map[string]any{
			"messaging_product": "whatsapp",
			"contacts":          []any{map[string]any{"input": req.To, "wa_id": req.To}},
			"messages":          []any{map[string]any{"id": req.ProviderMessageID, "message_status": "accepted"}},
		})
	case Hang:
		s.hang(r)
	case Drop:
		panic(http.ErrAbortHandler)
	default:
		writeFailure(w, mode)
	}
}

func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) {
	m, problems := checkMedia(r)
	if len(problems) > 0 {
		s.violation(w, r, http.StatusBadRequest, problems)
		return
	}
	s.mu.Lock()
	mode := s.failUploads.take()
	if mode == Answer || mode == Hang {
		s.seq++
		m.ID = strconv.FormatInt(1_000_000_000_000_000+int64(s.seq), 10)
		s.media = append(s.media, m)
		s.mediaIDs[m.ID] = true
	}
	s.mu.Unlock()
	switch mode {
	case Answer:
		writeJSON(w, http.StatusOK, map[string]any{"id": m.ID})
	case Hang:
		s.hang(r)
	case Drop:
		panic(http.ErrAbortHandler)
	default:
		writeFailure(w, mode)
	}
}

// hang waits for the client to give up (or the test to end) and closes the
// connection without an answer.
func (s *Server) hang(r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body) // at EOF the server watches for the client closing
	select {
	case <-r.Context().Done():
	case <-s.done:
	}
	panic(http.ErrAbortHandler)
}

// The request body of a template message, as the Cloud API documents it.
// Pointers tell a missing field from an empty one; decoding rejects unknown
// fields at every level.
type (
	wireMessage struct {
		MessagingProduct *string       `json:"messaging_product"`
		RecipientType    *string       `json:"recipient_type"`
		To               *string       `json:"to"`
		Type             *string       `json:"type"`
		Template         *wireTemplate `json:"template"`
	}
	wireTemplate struct {
		Name       *string         `json:"name"`
		Language   *wireLanguage   `json:"language"`
		Components []wireComponent `json:"components"`
	}
	wireLanguage struct {
		Code   *string `json:"code"`
		Policy *string `json:"policy"`
	}
	wireComponent struct {
		Type       *string         `json:"type"`
		Parameters []wireParameter `json:"parameters"`
	}
	wireParameter struct {
		Type     *string       `json:"type"`
		Text     *string       `json:"text"`
		Document *wireDocument `json:"document"`
	}
	wireDocument struct {
		ID       *string `json:"id"`
		Link     *string `json:"link"`
		Filename *string `json:"filename"`
	}
)

func (s *Server) checkMessage(contentType string, body []byte) (Request, []string) {
	var p problems
	if mt, params, err := mime.ParseMediaType(contentType); err != nil || mt != "application/json" {
		p.addf("Content-Type %q: want application/json", contentType)
	} else {
		for k, v := range params {
			if k != "charset" || !strings.EqualFold(v, "utf-8") {
				p.addf("Content-Type %q: unexpected parameter %s", contentType, k)
			}
		}
	}
	var msg wireMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&msg); err != nil {
		p.addf("body is not a template message: %v", err)
		return Request{}, p
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		p.addf("body has data after the JSON object")
	}
	req := Request{Body: json.RawMessage(slices.Clone(body))}
	p.equal("messaging_product", msg.MessagingProduct, "whatsapp")
	if msg.RecipientType != nil && *msg.RecipientType != "individual" {
		p.addf("recipient_type %q: want individual (or leave it out)", *msg.RecipientType)
	}
	switch {
	case msg.To == nil:
		p.addf("to is missing")
	case !isPhoneDigits(*msg.To):
		p.addf("to is not the recipient's number as 8 to 15 digits without + or separators")
	default:
		req.To = *msg.To
	}
	p.equal("type", msg.Type, "template")
	if msg.Template == nil {
		p.addf("template is missing")
		return req, p
	}
	t := msg.Template
	switch {
	case t.Name == nil:
		p.addf("template.name is missing")
	case !isTemplateName(*t.Name):
		p.addf("template.name %q: want 1 to 512 lowercase letters, digits and underscores", *t.Name)
	default:
		req.Template = *t.Name
	}
	switch {
	case t.Language == nil || t.Language.Code == nil:
		p.addf("template.language.code is missing")
	case !isLanguage(*t.Language.Code):
		p.addf("template.language.code %q: want a code such as en or en_US", *t.Language.Code)
	default:
		req.Language = *t.Language.Code
		if t.Language.Policy != nil && *t.Language.Policy != "deterministic" {
			p.addf("template.language.policy %q: want deterministic (or leave it out)", *t.Language.Policy)
		}
	}
	if t.Components != nil && len(t.Components) == 0 {
		p.addf("template.components is empty: leave it out when there are no parameters")
	}
	seen := map[string]bool{}
	for i, c := range t.Components {
		what := fmt.Sprintf("template.components[%d]", i)
		if c.Type == nil {
			p.addf("%s.type is missing", what)
			continue
		}
		if seen[*c.Type] {
			p.addf("%s: a second %s component", what, *c.Type)
			continue
		}
		seen[*c.Type] = true
		if len(c.Parameters) == 0 {
			p.addf("%s.parameters is missing or empty", what)
			continue
		}
		switch *c.Type {
		case "header":
			s.checkHeader(&p, what, c.Parameters, &req)
		case "body":
			checkBody(&p, what, c.Parameters, &req)
		default:
			p.addf("%s.type %q: this fake knows header and body components", what, *c.Type)
		}
	}
	return req, p
}

func (s *Server) checkHeader(p *problems, what string, params []wireParameter, req *Request) {
	if len(params) != 1 {
		p.addf("%s: a document header has exactly one parameter, got %d", what, len(params))
		return
	}
	prm := params[0]
	what += ".parameters[0]"
	if prm.Type == nil || *prm.Type != "document" {
		p.addf("%s.type: want document", what)
		return
	}
	if prm.Text != nil {
		p.addf("%s: a document parameter has no text", what)
	}
	d := prm.Document
	if d == nil {
		p.addf("%s.document is missing", what)
		return
	}
	switch {
	case d.ID != nil && d.Link != nil:
		p.addf("%s.document: give id or link, not both", what)
	case d.ID != nil:
		s.mu.Lock()
		issued := s.mediaIDs[*d.ID]
		s.mu.Unlock()
		if !issued {
			p.addf("%s.document.id %q is not a media id this server issued", what, *d.ID)
		}
		req.DocumentID = *d.ID
	case d.Link != nil:
		if u, err := url.Parse(*d.Link); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.addf("%s.document.link %q is not an http(s) URL", what, *d.Link)
		}
		req.DocumentID = *d.Link
	default:
		p.addf("%s.document: id (a media id) or link is required", what)
	}
	switch {
	case d.Filename == nil || strings.TrimSpace(*d.Filename) == "":
		p.addf("%s.document.filename is missing", what)
	case strings.ContainsAny(*d.Filename, "/\\"):
		p.addf("%s.document.filename %q has a path separator", what, *d.Filename)
	default:
		req.DocumentFilename = *d.Filename
	}
}

func checkBody(p *problems, what string, params []wireParameter, req *Request) {
	for i, prm := range params {
		what := fmt.Sprintf("%s.parameters[%d]", what, i)
		if prm.Type == nil || *prm.Type != "text" {
			p.addf("%s.type: want text", what)
			continue
		}
		if prm.Document != nil {
			p.addf("%s: a text parameter has no document", what)
		}
		switch {
		case prm.Text == nil || strings.TrimSpace(*prm.Text) == "":
			p.addf("%s.text is missing or empty", what)
		case strings.ContainsAny(*prm.Text, "\n\t"), strings.Contains(*prm.Text, "     "):
			p.addf("%s.text has a newline, a tab or more than four consecutive spaces", what)
		default:
			req.Params = append(req.Params, *prm.Text)
		}
	}
}

// documentType reports the document media types the Cloud API accepts.
func documentType(ct string) bool {
	switch ct {
	case "application/pdf", "text/plain", "application/msword", "application/vnd.ms-excel",
		"application/vnd.ms-powerpoint",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.openxmlformats-officedocument.presentationml.presentation":
		return true
	}
	return false
}

// checkMedia reads a multipart/form-data upload with exactly the fields
// messaging_product=whatsapp, type=<media type> and file.
func checkMedia(r *http.Request) (Media, []string) {
	var p problems
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		p.addf("Content-Type %q: want multipart/form-data with a boundary", r.Header.Get("Content-Type"))
		return Media{}, p
	}
	mr := multipart.NewReader(io.LimitReader(r.Body, maxMediaBytes+1<<20), params["boundary"])
	var (
		m           Media
		fields      = map[string]string{}
		fileType    string
		sawFile     bool
		fileTooLong bool
	)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.addf("multipart body: %v", err)
			return Media{}, p
		}
		name := part.FormName()
		switch name {
		case "messaging_product", "type":
			if part.FileName() != "" {
				p.addf("field %s is sent as a file", name)
			}
			v, err := io.ReadAll(io.LimitReader(part, 1024))
			if err != nil {
				p.addf("field %s: %v", name, err)
			}
			if _, dup := fields[name]; dup {
				p.addf("field %s appears twice", name)
			}
			fields[name] = string(v)
		case "file":
			if sawFile {
				p.addf("field file appears twice")
			}
			sawFile = true
			m.Filename = part.FileName()
			fileType = part.Header.Get("Content-Type")
			b, err := io.ReadAll(io.LimitReader(part, maxMediaBytes+1))
			if err != nil {
				p.addf("field file: %v", err)
			}
			fileTooLong = len(b) > maxMediaBytes
			m.Bytes = b
		default:
			p.addf("unknown field %q: want messaging_product, type and file", name)
		}
		_ = part.Close()
	}
	if v, ok := fields["messaging_product"]; !ok || v != "whatsapp" {
		p.addf("field messaging_product: want whatsapp")
	}
	typ, ok := fields["type"]
	switch {
	case !ok:
		p.addf("field type is missing: give the file's media type")
	case !documentType(typ):
		p.addf("field type %q is not a document type the Cloud API accepts", typ)
	}
	switch {
	case !sawFile:
		p.addf("field file is missing")
	case strings.TrimSpace(m.Filename) == "":
		p.addf("field file has no filename")
	case fileType == "":
		p.addf("field file has no Content-Type")
	case fileType != typ:
		p.addf("field file's Content-Type %q differs from field type %q", fileType, typ)
	case len(m.Bytes) == 0:
		p.addf("field file is empty")
	case fileTooLong:
		p.addf("field file is larger than %d bytes", maxMediaBytes)
	case typ == "application/pdf" && !strings.HasPrefix(string(m.Bytes), "%PDF-"):
		p.addf("field file is not a PDF (no %%PDF- header)")
	}
	m.ContentType = typ
	return m, p
}

// violation records a refused request, fails the test and answers like the
// Graph API answers an invalid request.
func (s *Server) violation(w http.ResponseWriter, r *http.Request, status int, problems []string) {
	msg := fmt.Sprintf("%s %s: %s", r.Method, r.URL.Path, strings.Join(problems, "; "))
	s.mu.Lock()
	s.violations = append(s.violations, msg)
	s.mu.Unlock()
	s.t.Errorf("whatsapptest: request refused: %s", msg)
	if status == http.StatusUnauthorized {
		writeGraphError(w, status, 190, "OAuthException", "Invalid OAuth access token - Cannot parse access token", "")
		return
	}
	writeGraphError(w, status, 100, "OAuthException", "(#100) Invalid parameter", strings.Join(problems, "; "))
}

func writeFailure(w http.ResponseWriter, mode Mode) {
	switch mode {
	case Fail500:
		writeGraphError(w, http.StatusInternalServerError, 131000, "OAuthException", "(#131000) Something went wrong",
			"Message failed to send due to an unknown error.")
	case RateLimit429:
		w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
		writeGraphError(w, http.StatusTooManyRequests, 4, "OAuthException", "(#4) Application request limit reached",
			"The app has reached its API call rate limit.")
	case RateLimitCode130429:
		writeGraphError(w, http.StatusBadRequest, 130429, "OAuthException", "(#130429) Rate limit hit",
			"Message failed to send because there were too many messages sent from this phone number in a short period of time")
	case RateLimitCode131056:
		writeGraphError(w, http.StatusBadRequest, 131056, "OAuthException", "(#131056) (Business Account, Consumer Account) pair rate limit hit",
			"Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time")
	case Reject400:
		writeGraphError(w, http.StatusBadRequest, 131026, "OAuthException", "(#131026) Message undeliverable",
			"Message Undeliverable.")
	case Unauthorized401:
		writeGraphError(w, http.StatusUnauthorized, 190, "OAuthException",
			"Error validating access token: Session has expired.", "")
	default:
		panic(fmt.Sprintf("whatsapptest: no failure for mode %s", mode))
	}
}

func writeGraphError(w http.ResponseWriter, status, code int, typ, message, details string) {
	e := map[string]any{
		"message":    message,
		"type":       typ,
		"code":       code,
		"fbtrace_id": traceID(),
	}
	if details != "" {
		e["error_data"] = map[string]any{"messaging_product": "whatsapp", "details": details}
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// wamid returns a provider message id shaped like Meta's ("wamid." and
// base64).
func wamid(seq int) string {
	var b [18]byte
	_, _ = rand.Read(b[:12])
	copy(b[12:], fmt.Sprintf("%06d", seq%1_000_000))
	return "wamid." + base64.StdEncoding.EncodeToString(b[:])
}

func traceID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "A" + base64.RawURLEncoding.EncodeToString(b[:])
}

func cloneRequests(in []Request) []Request {
	out := make([]Request, len(in))
	for i, r := range in {
		r.Params = slices.Clone(r.Params)
		r.Body = slices.Clone(r.Body)
		out[i] = r
	}
	return out
}

type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p *problems) equal(field string, got *string, want string) {
	switch {
	case got == nil:
		p.addf("%s is missing", field)
	case *got != want:
		p.addf("%s %q: want %q", field, *got, want)
	}
}

func isVersion(s string) bool {
	major, minor, ok := strings.Cut(strings.TrimPrefix(s, "v"), ".")
	return ok && strings.HasPrefix(s, "v") && digits(major, 1, 3) && digits(minor, 1, 3)
}

func isPhoneDigits(s string) bool { return digits(s, 8, 15) && s[0] != '0' }

func digits(s string, lo, hi int) bool { return len(s) >= lo && len(s) <= hi && allIn(s, '0', '9') }

func isTemplateName(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func isLanguage(s string) bool {
	lang, region, hasRegion := strings.Cut(s, "_")
	return len(lang) >= 2 && len(lang) <= 3 && allIn(lang, 'a', 'z') &&
		(!hasRegion || len(region) == 2 && allIn(region, 'A', 'Z'))
}

func allIn(s string, lo, hi byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < lo || s[i] > hi {
			return false
		}
	}
	return true
}
