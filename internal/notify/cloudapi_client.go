package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"insure/internal/database"
)

// ErrRateLimited is wrapped (together with a *ProviderError) by the errors
// CloudAPI returns when the Cloud API refuses a request for a rate limit:
// HTTP 429 or one of the throttling error codes. Nothing was sent. The
// caller snoozes the job with backoff (at least ProviderError.RetryAfter
// when it is set) without using up an attempt.
var ErrRateLimited = errors.New("message provider rate limit hit")

// Defaults of CloudAPIConfig.
const (
	DefaultCloudAPIBaseURL = "https://graph.facebook.com"
	DefaultCloudAPITimeout = 15 * time.Second
)

// Limits of what CloudAPI reads and sends.
const (
	maxCloudAPIReply = 1 << 20 // bytes of a reply body read
	// finishTimeout bounds the database write that records a request's
	// outcome; it runs even when the caller's context has ended, because
	// the provider's answer must not be lost.
	finishTimeout = 10 * time.Second
	// documentContentType is the content type of every uploaded document:
	// insure's documents are PDFs.
	documentContentType = "application/pdf"
)

// CloudAPIConfig configures CloudAPI.
type CloudAPIConfig struct {
	// BaseURL is the Graph API's scheme and host (and optional path
	// prefix); default DefaultCloudAPIBaseURL. Tests point it at
	// whatsapptest.
	BaseURL string
	// Version is the Graph API version, e.g. "v21.0".
	Version string
	// PhoneNumberID is the id Meta gives the business phone number (digits;
	// not the phone number itself).
	PhoneNumberID string
	// Token is the access token (a system user token). It is sent only in
	// the Authorization header and never shown in errors or logs.
	Token string
	// Timeout bounds each HTTP request, reply included; default
	// DefaultCloudAPITimeout.
	Timeout time.Duration
	// HTTPClient makes the requests; default a client on
	// http.DefaultTransport that does not follow redirects. Its transport
	// must report httptrace.ClientTrace.WroteRequest (net/http's does): that
	// is how Send tells a request that never left from one whose reply was
	// lost.
	HTTPClient *http.Client
	// Logger receives what Send cannot return (an outcome it failed to
	// record); default discard. Nothing personal is logged.
	Logger *slog.Logger
}

// String describes c without the token.
func (c CloudAPIConfig) String() string {
	token := ""
	if c.Token != "" {
		token = "[redacted]"
	}
	return fmt.Sprintf("CloudAPIConfig{BaseURL:%q Version:%q PhoneNumberID:%q Token:%s Timeout:%s}",
		c.BaseURL, c.Version, c.PhoneNumberID, token, c.Timeout)
}

// GoString is String, so %#v does not print the token either.
func (c CloudAPIConfig) GoString() string { return c.String() }

// LogValue keeps the token out of slog output.
func (c CloudAPIConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c CloudAPIConfig) withDefaults() CloudAPIConfig {
	if c.BaseURL == "" {
		c.BaseURL = DefaultCloudAPIBaseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Timeout == 0 {
		c.Timeout = DefaultCloudAPITimeout
	}
	return c
}

var graphVersion = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,3}$`)

// Validate checks c after applying the defaults and returns nil or an error
// that lists every problem: Version like v21.0, PhoneNumberID digits, Token
// set and free of whitespace, BaseURL an absolute http(s) URL without a
// query, and Timeout not negative. The token's value is never part of the
// error.
func (c CloudAPIConfig) Validate() error {
	c = c.withDefaults()
	var p []string
	if u, err := url.Parse(c.BaseURL); err != nil {
		p = append(p, fmt.Sprintf("base URL %q does not parse: %v", c.BaseURL, err))
	} else if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		p = append(p, fmt.Sprintf("base URL %q: give an absolute http(s) URL such as %s", c.BaseURL, DefaultCloudAPIBaseURL))
	} else if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(c.BaseURL, "?") {
		p = append(p, fmt.Sprintf("base URL %q: remove the user info, query or fragment", u.Redacted()))
	}
	switch {
	case c.Version == "":
		p = append(p, "version is empty: give the Graph API version, e.g. v21.0")
	case !graphVersion.MatchString(c.Version):
		p = append(p, fmt.Sprintf("version %q: give the Graph API version as vNN.N, e.g. v21.0", c.Version))
	}
	switch {
	case c.PhoneNumberID == "":
		p = append(p, "phone number id is empty: give the id Meta shows for the business phone number")
	case !allIn(c.PhoneNumberID, '0', '9'):
		p = append(p, fmt.Sprintf("phone number id %q: use the numeric id Meta shows for the business phone number, not the number", c.PhoneNumberID))
	}
	switch {
	case c.Token == "":
		p = append(p, "token is empty: give the access token")
	case strings.IndexFunc(c.Token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		p = append(p, "token has whitespace or control characters: give the bare access token, without \"Bearer\"")
	}
	if c.Timeout < 0 {
		p = append(p, fmt.Sprintf("timeout %s is negative", c.Timeout))
	}
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("notify: whatsapp cloud api config: %s", strings.Join(p, "; "))
}

// CloudAPI is the WhatsAppSender that sends template messages through the
// WhatsApp Business Cloud API. A message's document is uploaded as media
// first and sent as the template's header.
//
// The Cloud API has no idempotency key, so CloudAPI keeps one row per
// message id in the whatsapp_deliveries table and makes the messages
// request only after committing state 'requesting'. A message whose request
// went out but whose reply never came is therefore never sent again
// automatically: a later Send reports it as a duplicate that may or may not
// have been delivered and marks it 'uncertain'. It is safe for concurrent
// use.
type CloudAPI struct {
	cfg         CloudAPIConfig
	client      *http.Client
	messagesURL string
	mediaURL    string
	db          database.DB
	now         func() time.Time
	log         *slog.Logger
}

var _ WhatsAppSender = (*CloudAPI)(nil)

// NewCloudAPI returns a CloudAPI that records its deliveries in db and
// stamps them with now (time.Now when nil). It returns an error when cfg
// fails Validate or db is nil.
func NewCloudAPI(cfg CloudAPIConfig, db database.DB, now func() time.Time) (*CloudAPI, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if db == nil {
		return nil, errors.New("notify: new whatsapp cloud api sender: no database")
	}
	cfg = cfg.withDefaults()
	if now == nil {
		now = time.Now
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	base := cfg.BaseURL + "/" + cfg.Version + "/" + cfg.PhoneNumberID
	return &CloudAPI{
		cfg:         cfg,
		client:      client,
		messagesURL: base + "/messages",
		mediaURL:    base + "/media",
		db:          db,
		now:         now,
		log:         logger,
	}, nil
}

// ProviderError is an error reply of the Graph API. Message and Details are
// the provider's, with anything that looks like a phone number removed.
type ProviderError struct {
	HTTPStatus int
	Code       int // error.code, e.g. 131026; 0 when the body was not a Graph error
	Subcode    int // error.error_subcode (absent since Graph v16)
	Type       string
	Message    string
	Details    string // error.error_data.details
	TraceID    string // error.fbtrace_id, for Meta support
	// RetryAfter is the Retry-After header of the reply, 0 when absent.
	RetryAfter time.Duration
}

// Error describes the reply: status, code, the provider's message and
// details, and the trace id. It holds no token, phone number or message
// content.
func (e *ProviderError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "whatsapp cloud api: HTTP %d", e.HTTPStatus)
	if e.Code != 0 {
		fmt.Fprintf(&b, ", error %d", e.Code)
		if e.Subcode != 0 {
			fmt.Fprintf(&b, "/%d", e.Subcode)
		}
	}
	if e.Type != "" {
		fmt.Fprintf(&b, " (%s)", e.Type)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Details != "" {
		b.WriteString(": " + e.Details)
	}
	if e.TraceID != "" {
		b.WriteString(" [fbtrace_id " + e.TraceID + "]")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// isRateLimitCode reports the Graph API's rate limit codes: app (4),
// business use case (80008), WhatsApp Business Account (80007), throughput
// (130429) and pair (131056) limits.
func isRateLimitCode(code int) bool {
	switch code {
	case 4, 80007, 80008, 130429, 131056:
		return true
	}
	return false
}

// isAuthCode reports the codes that blame the token or its permissions, not
// the message: 10 permission denied, 190 token expired, 200-299 API
// permission. (0, AuthException, comes with HTTP 401.)
func isAuthCode(code int) bool {
	return code == 10 || code == 190 || 200 <= code && code <= 299
}

// problem says what the caller should do about a ProviderError.
type problem int

const (
	problemRetry       problem = iota // retryable; the attempt counts
	problemRateLimited                // snooze; the attempt does not count
	problemRejected                   // permanent
)

func (e *ProviderError) problem() problem {
	switch {
	case e.HTTPStatus == http.StatusTooManyRequests || isRateLimitCode(e.Code):
		return problemRateLimited
	case e.HTTPStatus >= 500:
		return problemRetry
	case e.HTTPStatus == http.StatusUnauthorized || e.HTTPStatus == http.StatusForbidden ||
		(e.HTTPStatus >= 400 && isAuthCode(e.Code)):
		// A bad or expired token fails every message: retry (and end in
		// a dead letter an operator can retry after fixing it) rather
		// than fail the message for good.
		return problemRetry
	case e.HTTPStatus >= 400:
		return problemRejected
	default: // a redirect or another unexpected status: configuration
		return problemRetry
	}
}

// wrap returns err (about perr) wrapped for the caller: with ErrRateLimited
// or ErrRejected, or plain (retryable).
func (e *ProviderError) wrap(what string) error {
	switch e.problem() {
	case problemRateLimited:
		return fmt.Errorf("%s: %w: %w", what, ErrRateLimited, e)
	case problemRejected:
		return fmt.Errorf("%s: %w: %w", what, ErrRejected, e)
	default:
		return fmt.Errorf("%s: %w", what, e)
	}
}

// Delivery states of the whatsapp_deliveries table.
const (
	stateRequesting = "requesting"
	stateSent       = "sent"
	stateFailed     = "failed"
	stateUncertain  = "uncertain"
)

// The SQL of CloudAPI, valid on SQLite and PostgreSQL alike.
const (
	qSelectDelivery = `SELECT state, COALESCE(media_id, ''), COALESCE(provider_message_id, '')
	FROM whatsapp_deliveries WHERE message_id = $1`

	// qClaimDelivery moves a message to 'requesting' when it is new or
	// failed. It affects no row when another Send holds or finished it.
	qClaimDelivery = `INSERT INTO whatsapp_deliveries (message_id, state, attempts, media_id, started_at, requested_at)
	VALUES ($1, 'requesting', 1, NULLIF($2, ''), $3, $3)
	ON CONFLICT (message_id) DO UPDATE SET state = 'requesting', attempts = whatsapp_deliveries.attempts + 1,
		media_id = excluded.media_id, requested_at = excluded.requested_at, finished_at = NULL, error = NULL
	WHERE whatsapp_deliveries.state = 'failed'`

	// qRecordUploadFailure notes a failed upload; the message was not
	// requested, so attempts stays.
	qRecordUploadFailure = `INSERT INTO whatsapp_deliveries (message_id, state, attempts, started_at, finished_at, error)
	VALUES ($1, 'failed', 0, $2, $2, $3)
	ON CONFLICT (message_id) DO UPDATE SET finished_at = excluded.finished_at, error = excluded.error
	WHERE whatsapp_deliveries.state = 'failed'`

	qFinishSent = `UPDATE whatsapp_deliveries SET state = 'sent', provider_message_id = $2, finished_at = $3, error = NULL
	WHERE message_id = $1`

	qFinishFailed = `UPDATE whatsapp_deliveries SET state = 'failed', finished_at = $2, error = $3
	WHERE message_id = $1 AND state IN ('requesting', 'uncertain')`

	qNoteNoReply = `UPDATE whatsapp_deliveries SET error = $2 WHERE message_id = $1 AND state = 'requesting'`

	qMarkUncertain = `UPDATE whatsapp_deliveries SET state = 'uncertain', finished_at = $2,
		error = COALESCE(error, 'no reply to the messages request')
	WHERE message_id = $1 AND state = 'requesting'`
)

type delivery struct {
	state, mediaID, providerID string
}

// Send sends w as a template message, after uploading w.Document when w has
// a DocumentID. It is idempotent on w.MessageID:
//
//   - already sent: Receipt{ProviderID, Duplicate: true}, no request;
//   - requested before without a reply (state 'requesting' or
//     'uncertain'): the provider may have it, so nothing is sent;
//     Receipt{Duplicate: true, Uncertain: true} without a ProviderID, and
//     the row becomes 'uncertain';
//   - failed before: sent again, reusing the uploaded media.
//
// Errors:
//   - ErrRejected and ErrInvalid: w fails Validate, or has a DocumentID but
//     no Document bytes;
//   - ErrRateLimited and *ProviderError: HTTP 429 or a throttling code;
//   - ErrRejected and *ProviderError: any other 4xx, except an
//     authentication or permission error, which is retryable (the token,
//     not the message, is at fault);
//   - a plain error wrapping *ProviderError: HTTP 5xx or another status;
//   - a plain error wrapping the net/http error: the request never left
//     (refused connection, DNS, TLS); the message was not sent;
//   - ErrUnavailable: the request went out but no reply came (timeout,
//     reset), or the reply to an accepted request was unreadable. The
//     message stays 'requesting' and is not sent again; or the database
//     (wrapping database.ErrUnavailable too) could not be read or written
//     before the request.
func (a *CloudAPI) Send(ctx context.Context, w WhatsApp) (Receipt, error) {
	if err := w.Validate(); err != nil {
		return Receipt{}, fmt.Errorf("notify: send whatsapp message: %w: %w", ErrRejected, err)
	}
	if w.DocumentID != "" && len(w.Document) == 0 {
		return Receipt{}, fmt.Errorf("notify: send whatsapp message: %w: %w: whatsapp message %s: document %s has no bytes: load the document before sending",
			ErrRejected, ErrInvalid, w.MessageID, w.DocumentID)
	}
	d, err := a.load(ctx, w.MessageID)
	if err != nil {
		return Receipt{}, err
	}
	if r, done, err := a.settled(ctx, w.MessageID, d); done {
		return r, err
	}
	mediaID := ""
	if w.DocumentID != "" {
		mediaID = d.mediaID
		if mediaID == "" {
			if mediaID, err = a.upload(ctx, w); err != nil {
				return Receipt{}, err
			}
		}
	}
	body, err := cloudAPIRequestBody(w, mediaID)
	if err != nil {
		return Receipt{}, fmt.Errorf("notify: send whatsapp message: %w: %w", ErrRejected, err)
	}
	n, err := a.db.Exec(ctx, qClaimDelivery, w.MessageID, mediaID, a.stamp())
	if err != nil {
		return Receipt{}, storeError("whatsapp delivery", w.MessageID, err)
	}
	if n == 0 { // another Send got there first
		if d, err = a.load(ctx, w.MessageID); err != nil {
			return Receipt{}, err
		}
		if r, done, err := a.settled(ctx, w.MessageID, d); done {
			return r, err
		}
		return Receipt{}, fmt.Errorf("notify: send whatsapp message %s: a concurrent send failed; try again", w.MessageID)
	}
	return a.request(ctx, w.MessageID, body)
}

// load reads the delivery row of id; state is "" when there is none.
func (a *CloudAPI) load(ctx context.Context, id string) (delivery, error) {
	var d delivery
	err := a.db.QueryRow(ctx, qSelectDelivery, id).Scan(&d.state, &d.mediaID, &d.providerID)
	switch {
	case errors.Is(err, database.ErrNoRows):
		return delivery{}, nil
	case err != nil:
		return delivery{}, storeError("whatsapp delivery", id, err)
	}
	return d, nil
}

// settled answers for a message whose delivery needs no request (done is
// true), or reports that a request is due.
func (a *CloudAPI) settled(ctx context.Context, id string, d delivery) (r Receipt, done bool, err error) {
	switch d.state {
	case stateSent:
		return Receipt{ProviderID: d.providerID, Duplicate: true}, true, nil
	case stateRequesting:
		if _, err := a.db.Exec(ctx, qMarkUncertain, id, a.stamp()); err != nil {
			return Receipt{}, true, storeError("whatsapp delivery", id, err)
		}
		return uncertainReceipt(), true, nil
	case stateUncertain:
		return uncertainReceipt(), true, nil
	}
	return Receipt{}, false, nil
}

// uncertainReceipt is the answer for a message that was requested but whose
// reply never came: it is not sent again, and whether the provider has it
// is unknown.
func uncertainReceipt() Receipt {
	return Receipt{Duplicate: true, Uncertain: true}
}

// request makes the messages request for a claimed delivery and records the
// outcome.
func (a *CloudAPI) request(ctx context.Context, id string, body []byte) (Receipt, error) {
	what := "notify: send whatsapp message " + id
	resp, data, sent, err := a.do(ctx, a.messagesURL, "application/json", body)
	if err != nil {
		if !sent {
			a.finish(ctx, id, qFinishFailed, a.stamp(), "request not sent: "+err.Error())
			return Receipt{}, fmt.Errorf("%s: the request was not sent; try again: %w", what, err)
		}
		a.finish(ctx, id, qNoteNoReply, "no reply: "+err.Error())
		return Receipt{}, fmt.Errorf("%s: no reply from the Cloud API, so the message may have been sent; it will not be sent again: %w: %w",
			what, ErrUnavailable, err)
	}
	if resp.StatusCode/100 != 2 {
		perr := providerError(resp, data, a.now())
		a.finish(ctx, id, qFinishFailed, a.stamp(), perr.Error())
		return Receipt{}, perr.wrap(what)
	}
	var reply struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(data, &reply); err != nil || len(reply.Messages) == 0 || reply.Messages[0].ID == "" {
		a.finish(ctx, id, qNoteNoReply, "accepted (HTTP "+strconv.Itoa(resp.StatusCode)+") without a message id")
		return Receipt{}, fmt.Errorf("%s: the Cloud API accepted the request (HTTP %d) but its reply has no message id; it will not be sent again: %w",
			what, resp.StatusCode, ErrUnavailable)
	}
	wamid := reply.Messages[0].ID
	a.finish(ctx, id, qFinishSent, wamid, a.stamp())
	return Receipt{ProviderID: wamid}, nil
}

// upload sends w.Document to the media endpoint and returns the media id.
func (a *CloudAPI) upload(ctx context.Context, w WhatsApp) (string, error) {
	what := "notify: upload document " + w.DocumentID + " for whatsapp message " + w.MessageID
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("messaging_product", "whatsapp")
	_ = mw.WriteField("type", documentContentType)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", multipart.FileContentDisposition("file", w.DocumentName))
	h.Set("Content-Type", documentContentType)
	part, err := mw.CreatePart(h)
	if err == nil {
		_, err = part.Write(w.Document)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return "", fmt.Errorf("%s: build request: %w", what, err)
	}
	resp, data, _, err := a.do(ctx, a.mediaURL, mw.FormDataContentType(), buf.Bytes())
	if err != nil {
		// Uploading twice is harmless: an unused media id expires.
		a.recordUploadFailure(ctx, w.MessageID, "upload: "+err.Error())
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if resp.StatusCode/100 != 2 {
		perr := providerError(resp, data, a.now())
		a.recordUploadFailure(ctx, w.MessageID, "upload: "+perr.Error())
		return "", perr.wrap(what)
	}
	var reply struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &reply); err != nil || reply.ID == "" {
		a.recordUploadFailure(ctx, w.MessageID, "upload: reply without a media id")
		return "", fmt.Errorf("%s: the Cloud API answered HTTP %d without a media id", what, resp.StatusCode)
	}
	return reply.ID, nil
}

// do POSTs body to u and reads the reply. sent reports whether the whole
// request was written, which is what makes a missing reply ambiguous.
func (a *CloudAPI) do(ctx context.Context, u, contentType string, body []byte) (resp *http.Response, data []byte, sent bool, err error) {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, false, err
	}
	req.Header.Set("Authorization", "Bearer "+a.cfg.Token)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	resp, err = a.client.Do(req)
	if err != nil {
		return nil, nil, wrote.Load(), err
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, maxCloudAPIReply))
	if err != nil && resp.StatusCode/100 == 2 {
		// Accepted, but the reply broke off: as ambiguous as no reply.
		return nil, nil, true, fmt.Errorf("read reply: %w", err)
	}
	return resp, data, true, nil
}

// finish runs an outcome-recording statement even when ctx has ended, and
// logs (without personal data) when it fails: Send's result already says
// what happened.
func (a *CloudAPI) finish(ctx context.Context, id, query string, args ...any) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if _, err := a.db.Exec(ctx, query, append([]any{id}, args...)...); err != nil {
		a.log.ErrorContext(ctx, "notify: record whatsapp delivery outcome", "message_id", id, "error", err)
	}
}

func (a *CloudAPI) recordUploadFailure(ctx context.Context, id, reason string) {
	a.finish(ctx, id, qRecordUploadFailure, a.stamp(), reason)
}

func (a *CloudAPI) stamp() time.Time { return recordedAt(a.now) }

// cloudAPIRequestBody is CloudAPIBody with "to" as the Cloud API shows it:
// the E.164 number without the leading +.
func cloudAPIRequestBody(w WhatsApp, mediaID string) ([]byte, error) {
	body, err := CloudAPIBody(w, mediaID)
	if err != nil {
		return nil, err
	}
	var msg cloudMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, fmt.Errorf("notify: whatsapp message %s: re-read body: %w", w.MessageID, err)
	}
	msg.To = strings.TrimPrefix(msg.To, "+")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		return nil, fmt.Errorf("notify: encode whatsapp message %s: %w", w.MessageID, err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// providerError reads a Graph API error reply. A body that is not one (an
// HTML error page of a proxy) is not quoted: only its status is kept.
func providerError(resp *http.Response, data []byte, now time.Time) *ProviderError {
	perr := &ProviderError{HTTPStatus: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), now)}
	var reply struct {
		Error *struct {
			Message   string `json:"message"`
			Type      string `json:"type"`
			Code      int    `json:"code"`
			Subcode   int    `json:"error_subcode"`
			TraceID   string `json:"fbtrace_id"`
			ErrorData struct {
				Details string `json:"details"`
			} `json:"error_data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &reply); err != nil || reply.Error == nil {
		perr.Message = http.StatusText(resp.StatusCode)
		return perr
	}
	e := reply.Error
	perr.Code, perr.Subcode = e.Code, e.Subcode
	perr.Type = scrub(e.Type, 100)
	perr.Message = scrub(e.Message, 500)
	perr.Details = scrub(e.ErrorData.Details, 1000)
	perr.TraceID = scrub(e.TraceID, 100)
	return perr
}

// phoneLike matches what could be a phone number: 8 or more digits, with
// an optional + and separators. Error codes have at most 7 digits.
var phoneLike = regexp.MustCompile(`\+?[0-9](?:[ \-.]?[0-9]){7,}`)

// scrub keeps s printable, short, and free of phone numbers.
func scrub(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, " "))
	s = phoneLike.ReplaceAllString(s, "[number]")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return strings.TrimSpace(s)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}
