package httpapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"insure/internal/app"
	"insure/internal/apperr"
)

// The WhatsApp Cloud API webhook, in Meta's format:
// https://developers.facebook.com/docs/graph-api/webhooks/getting-started
// and https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks.
//
// Meta first subscribes the webhook with a GET that must echo hub.challenge
// when hub.verify_token is ours, then POSTs each batch of notifications
// signed with the app secret. The signature is the only authentication, so
// it is checked over the exact raw body before anything in it is read.
//
// Neither the body, the verify token nor the app secret is ever logged: the
// request log has the route pattern, not the URL with its query; writeError
// logs only the causes of 500s; and no error made here quotes the token, the
// secret, a signature or more of the body than a short bad value.

// Names in Meta's requests.
const (
	headerHubSignature      = "X-Hub-Signature-256"
	hubSignaturePrefix      = "sha256="
	whatsAppObject          = "whatsapp_business_account"
	whatsAppFieldMessages   = "messages"
	whatsAppSubscribeMode   = "subscribe"
	queryHubMode            = "hub.mode"
	queryHubVerifyToken     = "hub.verify_token"
	queryHubChallenge       = "hub.challenge"
	contentTypeTextUTF8     = "text/plain; charset=utf-8"
	maxWhatsAppTimestamp    = 253402300799 // 9999-12-31T23:59:59Z
	maxWhatsAppTimestampLen = 12           // digits
)

// whatsAppConfigured fails with apperr.NotFound unless the webhook has its
// secrets and a service to report to.
func (s *Server) whatsAppConfigured() error {
	if !s.svc.WhatsAppWebhook.configured() || s.svc.Webhooks == nil {
		return apperr.New(apperr.NotFound, "the WhatsApp webhook is not configured")
	}
	return nil
}

// verifyWhatsAppWebhook answers Meta's subscription check, GET
// /api/v1/webhooks/whatsapp, with hub.challenge as text when hub.mode is
// subscribe and hub.verify_token is the configured token.
func (s *Server) verifyWhatsAppWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.whatsAppConfigured(); err != nil {
		return err
	}
	q := r.URL.Query()
	tokenOK := equalSecret(q.Get(queryHubVerifyToken), s.svc.WhatsAppWebhook.VerifyToken)
	if q.Get(queryHubMode) != whatsAppSubscribeMode || !tokenOK {
		return apperr.New(apperr.Forbidden, "hub.mode must be subscribe and hub.verify_token the webhook's verify token; check the token set in the Meta app")
	}
	challenge := q.Get(queryHubChallenge)
	if challenge == "" {
		return apperr.Field(queryHubChallenge, "is required; it is echoed back to confirm the subscription")
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeTextUTF8)
	h.Set("Content-Length", strconv.Itoa(len(challenge)))
	w.WriteHeader(http.StatusOK)
	// A write error means the client went away; there is no one to tell.
	_, _ = w.Write([]byte(challenge))
	return nil
}

// equalSecret reports whether got is want, in time that depends on neither
// (hashing first hides want's length too).
func equalSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return hmac.Equal(g[:], w[:])
}

// whatsAppReceipt is the body of a POST /api/v1/webhooks/whatsapp answer.
type whatsAppReceipt struct {
	Received int `json:"received"`
}

// receiveWhatsAppWebhook takes a batch of notifications from Meta, POST
// /api/v1/webhooks/whatsapp: it checks the signature, reads the delivery
// statuses and hands them to the Webhooks service.
func (s *Server) receiveWhatsAppWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.whatsAppConfigured(); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	if err := checkHubSignature(r.Header.Get(headerHubSignature), body, s.svc.WhatsAppWebhook.AppSecret); err != nil {
		return err
	}
	statuses, err := decodeWhatsAppStatuses(body)
	if err != nil {
		return err
	}
	if len(statuses) > 0 {
		ec := eventContext(r)
		ec.Actor, ec.Channel = "provider:whatsapp", "webhook" // the sender proved itself with the app secret's signature
		if err := s.svc.Webhooks.WhatsAppStatuses(r.Context(), ec, statuses); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, whatsAppReceipt{Received: len(statuses)})
}

// checkHubSignature fails with apperr.Unauthorized unless header is
// "sha256=" and the hex HMAC-SHA256 of body under secret.
func checkHubSignature(header string, body []byte, secret string) error {
	if header == "" {
		return apperr.New(apperr.Unauthorized, "the %s header is missing; Meta signs every delivery with the app secret", headerHubSignature)
	}
	hexSum, ok := strings.CutPrefix(header, hubSignaturePrefix)
	got, err := hex.DecodeString(hexSum)
	if !ok || err != nil || len(got) != sha256.Size {
		return apperr.New(apperr.Unauthorized, "the %s header must be sha256= and 64 hex digits", headerHubSignature)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return apperr.New(apperr.Unauthorized, "the %s signature does not match the body; sign the exact body with the app secret", headerHubSignature)
	}
	return nil
}

// The parts of a Meta webhook body that are read. Meta adds fields freely,
// so unknown fields are ignored and null stands for absent. Each array item
// is decoded on its own so that an error can name its place, and a change's
// value is read only when its field is "messages" (other fields, such as
// template status updates, have values of other shapes).
type (
	whatsAppNotification struct {
		Object string            `json:"object"`
		Entry  []json.RawMessage `json:"entry"`
	}
	whatsAppEntry struct {
		Changes []json.RawMessage `json:"changes"`
	}
	whatsAppChange struct {
		Field string          `json:"field"`
		Value json.RawMessage `json:"value"`
	}
	// whatsAppValue is the value of a "messages" change. Its "messages"
	// array, inbound messages from customers, is not read: nothing handles
	// them yet, so they are acknowledged and dropped.
	whatsAppValue struct {
		Statuses []json.RawMessage `json:"statuses"`
	}
	whatsAppStatus struct {
		ID        string `json:"id"`
		Status    string `json:"status"`
		Timestamp string `json:"timestamp"`
		Errors    []struct {
			Code  int    `json:"code"`
			Title string `json:"title"`
		} `json:"errors"`
	}
)

// decodeWhatsAppStatuses returns every delivery status in a webhook body, in
// order. It fails with apperr.Malformed for a body that is not one JSON
// object or has a value of the wrong JSON type where it reads, and with
// apperr.Invalid for an object other than whatsapp_business_account, an
// empty status id, an unknown status or a timestamp that is not Unix seconds
// as a string of digits. Field names the place, such as
// entry[0].changes[1].value.statuses[2].timestamp.
func decodeWhatsAppStatuses(body []byte) ([]app.WhatsAppStatus, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, apperr.New(apperr.Malformed, "a JSON request body is required")
	}
	var n whatsAppNotification
	if err := unmarshalLenient(body, &n); err != nil {
		return nil, err
	}
	if n.Object != whatsAppObject {
		return nil, apperr.Field("object", "must be %s, got %q", whatsAppObject, truncate(n.Object, 64))
	}
	var out []app.WhatsAppStatus
	for i, rawEntry := range n.Entry {
		var e whatsAppEntry
		if err := decodeAt(rawEntry, &e, fmt.Sprintf("entry[%d]", i)); err != nil {
			return nil, err
		}
		for j, rawChange := range e.Changes {
			at := fmt.Sprintf("entry[%d].changes[%d]", i, j)
			var c whatsAppChange
			if err := decodeAt(rawChange, &c, at); err != nil {
				return nil, err
			}
			if c.Field != whatsAppFieldMessages || len(c.Value) == 0 {
				continue
			}
			at += ".value"
			var v whatsAppValue
			if err := decodeAt(c.Value, &v, at); err != nil {
				return nil, err
			}
			for k, rawStatus := range v.Statuses {
				at := fmt.Sprintf("%s.statuses[%d]", at, k)
				var st whatsAppStatus
				if err := decodeAt(rawStatus, &st, at); err != nil {
					return nil, err
				}
				ws, err := st.parse()
				if errors.Is(err, errUnknownStatus) {
					continue // a status value Meta added later: skip it rather than fail the batch (Meta would resend it forever)
				}
				if err != nil {
					return nil, prefixField(err, at)
				}
				out = append(out, ws)
			}
		}
	}
	return out, nil
}

// decodeAt decodes raw, one JSON value from an already decoded body, into
// the struct v, leniently. Its errors are apperr.Malformed with Field under
// path.
func decodeAt(raw json.RawMessage, v any, path string) error {
	err := json.Unmarshal(raw, v)
	if err == nil {
		return nil
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && typ.Field == "" {
		return &apperr.Error{Code: apperr.Malformed, Field: path, Message: "must be an object"}
	}
	return prefixField(jsonError(err), path)
}

// errUnknownStatus marks a delivery status this build does not know.
var errUnknownStatus = errors.New("unknown delivery status")

// parse validates the fields of a status that are used.
func (st whatsAppStatus) parse() (app.WhatsAppStatus, error) {
	if st.ID == "" {
		return app.WhatsAppStatus{}, apperr.Field("id", "is required: the wamid of the message")
	}
	switch st.Status {
	case "sent", "delivered", "read", "failed":
	case "":
		return app.WhatsAppStatus{}, apperr.Field("status", "is required")
	default:
		return app.WhatsAppStatus{}, errUnknownStatus
	}
	ts, ok := unixSeconds(st.Timestamp)
	if !ok {
		return app.WhatsAppStatus{}, apperr.Field("timestamp", "must be Unix seconds as a string of digits, got %q", truncate(st.Timestamp, 32))
	}
	ws := app.WhatsAppStatus{ProviderMessageID: st.ID, Status: st.Status, Timestamp: ts}
	if len(st.Errors) > 0 {
		ws.ErrorCode, ws.ErrorTitle = st.Errors[0].Code, st.Errors[0].Title
	}
	return ws, nil
}

// unixSeconds parses s, decimal digits only, as a time in UTC no later than
// the year 9999.
func unixSeconds(s string) (time.Time, bool) {
	if s == "" || len(s) > maxWhatsAppTimestampLen || strings.Trim(s, "0123456789") != "" {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxWhatsAppTimestamp {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// prefixField puts path in front of the Field of an *apperr.Error that has
// one, so that it names the place in the whole body.
func prefixField(err error, path string) error {
	e, ok := apperr.As(err)
	if !ok {
		return err
	}
	field := path
	if e.Field != "" {
		field += "." + e.Field
	}
	return &apperr.Error{Code: e.Code, Message: e.Message, Field: field, Err: e.Err}
}
