package listener

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"insure/internal/apperr"
	"insure/internal/communication"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/document"
	"insure/internal/event"
	"insure/internal/keyring"
	"insure/internal/notify"
	"insure/internal/policy"
	"insure/internal/quotation"
	"insure/internal/recorder"
)

// Delivery sends queued messages through the configured drivers.
type Delivery struct {
	Mailer          notify.Mailer
	WhatsApp        notify.WhatsAppSender
	Templates       *notify.Templates
	Files           *document.FileStore
	From            string
	AdminEmail      string
	PublicURL       string // base URL of the API, for the verification link
	WhatsAppEnabled bool
	// NotReadyDelay is how long a message waits for its document.
	NotReadyDelay time.Duration
	// RateLimitDelay is how long a rate-limited send waits when the
	// provider gives no Retry-After.
	RateLimitDelay time.Duration
}

func (d Deps) message(ctx context.Context, id string) (*communication.Message, error) {
	envs, err := d.Recorder.Store().Load(ctx, d.Recorder.DB(), communication.AggregateType, id)
	if err != nil {
		return nil, err
	}
	return communication.Rebuild(envs, d.Recorder.Registry())
}

// requeued loads a message; one that gave up after temporary failures is put
// back in the queue first (its dead letter was retried, which is the only way
// this listener runs again after giving up).
func (d Deps) requeued(ctx context.Context, env event.Envelope, listener, id string) (*communication.Message, error) {
	m, err := d.message(ctx, id)
	if err != nil || m.Status != communication.StatusFailed || !m.FailureRetryable {
		return m, err
	}
	evs, err := m.Requeue("the dead letter was retried", d.Now())
	if err != nil {
		return nil, err
	}
	if err := d.settle(ctx, nil, env, listener, m, evs); err != nil {
		return nil, err
	}
	return d.message(ctx, id)
}

// settle records a message's outcome at the version it was loaded at; a
// conflict means another attempt already settled it.
func (d Deps) settle(ctx context.Context, q database.Tx, env event.Envelope, listener string, m *communication.Message, evs []event.Payload) error {
	if len(evs) == 0 {
		return nil
	}
	change := recorder.Change{AggregateType: communication.AggregateType, AggregateID: m.ID, ExpectedVersion: m.Version, Events: evs}
	var err error
	if q != nil {
		_, err = d.Recorder.RecordTx(ctx, q, ec(env, listener), change)
		err = recorder.MapError(err)
	} else {
		_, err = d.Recorder.Record(ctx, ec(env, listener), nil, change)
	}
	if apperr.IsCode(err, apperr.Conflict) {
		return nil
	}
	return err
}

func (d Deps) processEmail(ctx context.Context, env event.Envelope, p event.Payload) error {
	q, _ := event.As[communication.EmailQueued](p)
	m, err := d.requeued(ctx, env, ProcessEmailMessage, q.MessageID)
	if err != nil || m.Status != "queued" {
		return err
	}
	mail, err := d.composeEmail(ctx, q, m.QueuedAt)
	if err != nil {
		return d.composeFailed(ctx, env, ProcessEmailMessage, m, mail.To, err)
	}
	receipt, err := d.Delivery.Mailer.Send(ctx, mail)
	_, err = d.sendOutcome(ctx, env, ProcessEmailMessage, m, mail.To, receipt, err)
	return err
}

// composeFailed records what a message that could not be built becomes:
// skipped (the recipient does not want it), failed (it can never be
// built), or nothing yet (a document is not ready, or the error is
// temporary: the job is retried). to, the recipient's address or number
// when known, is blanked in whatever error text is kept.
func (d Deps) composeFailed(ctx context.Context, env event.Envelope, listener string, m *communication.Message, to string, err error) error {
	err = redact(err, to)
	if errors.Is(err, ErrNotReady) {
		return err
	}
	var skipped *skip
	if errors.As(err, &skipped) {
		evs, serr := m.MarkSkipped(skipped.reason, d.Now())
		if serr != nil {
			return serr
		}
		return d.settle(ctx, nil, env, listener, m, evs)
	}
	var rejected *rejection
	if errors.As(err, &rejected) {
		evs, ferr := m.MarkFailed(redactRecipient(rejected.Error(), to), d.Now())
		if ferr != nil {
			return ferr
		}
		return d.settle(ctx, nil, env, listener, m, evs)
	}
	return err
}

// sendOutcome maps a driver's answer to an action: a rate limit or an
// outage releases the job for later, a rejection fails the message (or
// skips it, when the customer's personal data was erased meanwhile), any
// other error retries the job, and success records MessageSent. sent
// reports that MessageSent was recorded. to, the recipient's address or
// number, is blanked in the error text that is kept (providers echo it).
func (d Deps) sendOutcome(ctx context.Context, env event.Envelope, listener string, m *communication.Message, to string, receipt notify.Receipt, err error) (sent bool, _ error) {
	err = redact(err, to)
	switch {
	case errors.Is(err, keyring.ErrErased):
		evs, serr := m.MarkSkipped(erasedReason, d.Now())
		if serr != nil {
			return false, serr
		}
		return false, d.settle(ctx, nil, env, listener, m, evs)
	case errors.Is(err, notify.ErrRateLimited):
		return false, retryAfter(err, rateLimitDelay(err, d.Delivery.RateLimitDelay))
	case errors.Is(err, notify.ErrUnavailable):
		return false, retryLater(err)
	case errors.Is(err, notify.ErrRejected):
		evs, ferr := m.MarkFailed(firstLine(err), d.Now())
		if ferr != nil {
			return false, ferr
		}
		return false, d.settle(ctx, nil, env, listener, m, evs)
	case err != nil:
		return false, err
	}
	evs, err := d.sent(m, receipt)
	if err != nil {
		return false, err
	}
	return true, d.settle(ctx, nil, env, listener, m, evs)
}

// sent decides MessageSent for a receipt, flagging an uncertain one.
func (d Deps) sent(m *communication.Message, r notify.Receipt) ([]event.Payload, error) {
	id := r.ProviderID
	if id == "" && r.Uncertain {
		id = "uncertain:" + m.ID
	}
	evs, err := m.MarkSent(id, d.Now())
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		if s, ok := e.(*communication.MessageSent); ok && r.Uncertain {
			s.Uncertain = true
		}
	}
	return evs, nil
}

// skip is a message the recipient no longer wants: it is recorded as
// skipped, never sent.
type skip struct{ reason string }

func (s *skip) Error() string { return "skipped: " + s.reason }

// erasedReason is why a message about an erased customer is skipped.
const erasedReason = "the customer's personal data was erased"

// redactedRecipient replaces the recipient's address or number in error
// text that is stored (MessageFailed.Reason, the job's error in
// dead_letters): providers echo it in their replies.
const redactedRecipient = "<recipient>"

// redactRecipient replaces in s every occurrence of the recipient to: an
// email address (as given and bare, without its display name; any case) or
// a phone number (with and without its leading +).
func redactRecipient(s, to string) string {
	to = strings.TrimSpace(to)
	if to == "" {
		return s
	}
	forms := []string{to}
	if a, err := mail.ParseAddress(to); err == nil {
		forms = append(forms, a.Address)
	}
	if digits, ok := strings.CutPrefix(to, "+"); ok {
		forms = append(forms, digits)
	}
	// Longest first, so "+91…" is replaced whole before "91…" is looked for;
	// very short forms (an invalid number) would blank unrelated text.
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	var alts []string
	for _, f := range slices.Compact(forms) {
		if len(f) >= 4 {
			alts = append(alts, regexp.QuoteMeta(f))
		}
	}
	if len(alts) == 0 {
		return s
	}
	return regexp.MustCompile("(?i)"+strings.Join(alts, "|")).ReplaceAllLiteralString(s, redactedRecipient)
}

// redacted is an error whose text has the recipient blanked; errors.Is and
// errors.As still see the error it came from.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// redact returns err with the recipient to blanked in its text (err itself
// when the text does not name them).
func redact(err error, to string) error {
	if err == nil {
		return nil
	}
	msg := redactRecipient(err.Error(), to)
	if msg == err.Error() {
		return err
	}
	return &redacted{msg: msg, err: err}
}

// rateLimitDelay is the provider's Retry-After when it gave one, else def.
func rateLimitDelay(err error, def time.Duration) time.Duration {
	var pe *notify.ProviderError
	if errors.As(err, &pe) && pe.RetryAfter > 0 {
		return pe.RetryAfter
	}
	return def
}

func (d Deps) processWhatsApp(ctx context.Context, env event.Envelope, p event.Payload) error {
	q, _ := event.As[communication.WhatsAppMessageQueued](p)
	m, err := d.requeued(ctx, env, ProcessWhatsAppMessage, q.MessageID)
	if err != nil {
		return err
	}
	if m.Status == communication.StatusSent && m.ProviderMessageID != "" && d.Webhooks != nil {
		// Sent by an earlier attempt that may have stopped before applying
		// the delivery reports that overtook it.
		return d.Webhooks.ApplyPending(ctx, ec(env, ProcessWhatsAppMessage), m.ProviderMessageID)
	}
	if m.Status != "queued" {
		return nil
	}
	if !d.Delivery.WhatsAppEnabled {
		evs, err := m.MarkSkipped("WhatsApp is disabled (WHATSAPP_API_ENABLED=false)", d.Now())
		if err != nil {
			return err
		}
		return d.settle(ctx, nil, env, ProcessWhatsAppMessage, m, evs)
	}
	msg, err := d.composeWhatsApp(ctx, q, m.QueuedAt)
	if err != nil {
		return d.composeFailed(ctx, env, ProcessWhatsAppMessage, m, msg.To, err)
	}
	receipt, err := d.Delivery.WhatsApp.Send(ctx, msg)
	sent, err := d.sendOutcome(ctx, env, ProcessWhatsAppMessage, m, msg.To, receipt, err)
	if err != nil || !sent {
		return err
	}
	if d.Webhooks != nil && receipt.ProviderID != "" {
		// Delivery reports that overtook this record are applied now.
		return d.Webhooks.ApplyPending(ctx, ec(env, ProcessWhatsAppMessage), receipt.ProviderID)
	}
	return nil
}

// messageFailed is the Failed hook of both delivery listeners: the message
// is marked failed in the dead letter's transaction.
func (d Deps) messageFailed(ctx context.Context, tx database.Tx, env event.Envelope, p event.Payload, cause error) error {
	id := ""
	if q, ok := event.As[communication.EmailQueued](p); ok {
		id = q.MessageID
	}
	if q, ok := event.As[communication.WhatsAppMessageQueued](p); ok {
		id = q.MessageID
	}
	envs, err := d.Recorder.Store().Load(ctx, tx, communication.AggregateType, id)
	if err != nil {
		return err
	}
	m, err := communication.Rebuild(envs, d.Recorder.Registry())
	if err != nil {
		return err
	}
	if m.Status != "queued" {
		return nil
	}
	evs, err := m.MarkGaveUp("gave up: "+firstLine(cause), d.Now())
	if err != nil {
		return err
	}
	listener := ProcessEmailMessage
	if m.Channel == communication.ChannelWhatsApp {
		listener = ProcessWhatsAppMessage
	}
	return d.settle(ctx, tx, env, listener, m, evs)
}

// rejection is a message that can never be built (its customer is gone,
// its address is invalid): it is recorded as failed, not retried.
type rejection struct{ msg string }

func (r *rejection) Error() string { return r.msg }

func (d Deps) retryLaterFor(what string) error {
	return retryAfter(fmt.Errorf("%s: %w", what, ErrNotReady), d.Delivery.NotReadyDelay)
}

// documentWait is how long a message waits for its document before it
// fails: a document that is not there by then was given up on.
const documentWait = time.Hour

func (d Deps) attachment(ctx context.Context, a communication.Attachment, queuedAt time.Time) (notify.Attachment, error) {
	doc, err := d.Reader.Document(ctx, nil, a.DocumentID)
	if apperr.IsCode(err, apperr.NotFound) || (err == nil && doc.Status != "generated") {
		if !queuedAt.IsZero() && d.Now().Sub(queuedAt) > documentWait {
			return notify.Attachment{}, &rejection{fmt.Sprintf("document %s was not generated within %s of queueing the message", a.DocumentID, documentWait)}
		}
		return notify.Attachment{}, d.retryLaterFor("document " + a.DocumentID)
	}
	if err != nil {
		return notify.Attachment{}, err
	}
	rc, _, err := d.Delivery.Files.Open(ctx, a.DocumentID)
	if err != nil {
		return notify.Attachment{}, fmt.Errorf("open document %s: %w", a.DocumentID, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return notify.Attachment{}, fmt.Errorf("read document %s: %w", a.DocumentID, err)
	}
	return notify.Attachment{Name: a.Name, ContentType: a.ContentType, DocumentID: a.DocumentID, Data: data}, nil
}

func (d Deps) source(ctx context.Context, eventID string) (event.Payload, error) {
	env, err := d.Recorder.Store().Get(ctx, d.Recorder.DB(), eventID)
	if err != nil {
		return nil, err
	}
	return d.Recorder.Registry().Decode(env)
}

func (d Deps) composeEmail(ctx context.Context, q communication.EmailQueued, queuedAt time.Time) (notify.Email, error) {
	mail := notify.Email{MessageID: q.MessageID, CustomerID: q.CustomerID, From: d.Delivery.From}
	var (
		c   *customer.Customer
		err error
	)
	if q.CustomerID != "" {
		c, err = d.Customers.Aggregate(ctx, nil, q.CustomerID)
		if apperr.IsCode(err, apperr.NotFound) {
			return mail, &rejection{"customer " + q.CustomerID + " does not exist"}
		}
		if err != nil {
			return mail, err
		}
		if c.Erased {
			return mail, &skip{erasedReason}
		}
		mail.To = c.Email
		// The welcome email carries the verification token: it is part of
		// registering, not marketing, so it goes out whatever the preference.
		if q.Template != "welcome" && !c.Preferences.Email {
			return mail, &skip{"the customer does not accept email"}
		}
	}
	if q.RecipientRole == "admin" {
		mail.To = d.Delivery.AdminEmail
	}
	src, err := d.source(ctx, q.SourceEventID)
	if err != nil {
		return mail, err
	}
	var data any
	switch q.Template {
	case "welcome":
		token, err := d.Customers.Secrets.VerificationToken(ctx, c.ID, c.Email)
		if err != nil {
			return mail, err
		}
		data = notify.WelcomeData{CustomerName: c.Name, Token: token,
			VerifyURL: d.Delivery.PublicURL + "/api/v1/customers/" + c.ID + "/verify-email"}
	case "admin_registration":
		r, ok := event.As[customer.Registered](src)
		if !ok {
			return mail, &rejection{"admin_registration needs a CustomerRegistered source"}
		}
		cust, err := d.Customers.Aggregate(ctx, nil, r.CustomerID)
		if err != nil {
			return mail, err
		}
		// The notice is about the customer: its stored copy is theirs.
		mail.CustomerID = cust.ID
		if cust.Erased {
			return mail, &skip{erasedReason}
		}
		data = notify.AdminRegistrationData{CustomerID: cust.ID, CustomerName: cust.Name, CustomerEmail: cust.Email,
			Channel: cust.Channel, RegisteredAt: cust.RegisteredAt}
	case "quotation":
		g, ok := event.As[quotation.Generated](src)
		if !ok {
			return mail, &rejection{"quotation email needs a QuotationGenerated source"}
		}
		data = quotationData(c.Name, g)
	case "renewal_reminder":
		w, ok := event.As[policy.ExpiringWarning](src)
		if !ok {
			return mail, &rejection{"renewal_reminder needs a PolicyExpiringWarning source"}
		}
		pol, err := d.Policies.Aggregate(ctx, nil, w.PolicyID)
		if err != nil {
			return mail, err
		}
		data = notify.RenewalReminderData{CustomerName: c.Name, PolicyNumber: w.PolicyNumber, Insurer: pol.Insurer,
			EndDate: w.EndDate.String(), DaysLeft: w.DaysLeft, Urgency: w.Urgency}
	case "policy_confirmation":
		pol, err := d.Policies.Aggregate(ctx, nil, policySubject(src))
		if err != nil {
			return mail, err
		}
		data = policyData(c.Name, pol)
	default:
		return mail, &rejection{"unknown email template " + q.Template}
	}
	mail.Subject, mail.Text, mail.HTML, err = d.Delivery.Templates.RenderEmail(q.Template, data)
	if err != nil {
		return mail, fmt.Errorf("render %s: %w", q.Template, err)
	}
	for _, a := range q.Attachments {
		att, err := d.attachment(ctx, a, queuedAt)
		if err != nil {
			return mail, err
		}
		mail.Attachments = append(mail.Attachments, att)
	}
	if err := mail.Validate(); err != nil {
		return mail, &rejection{"invalid email: " + err.Error()}
	}
	return mail, nil
}

func quotationData(name string, g quotation.Generated) notify.QuotationData {
	data := notify.QuotationData{CustomerName: name, QuotationID: g.QuotationID, Product: g.Product,
		SumInsured: document.FormatMoney(g.SumInsured, g.Currency)}
	var best *notify.QuoteLine
	for _, q := range g.Quotes {
		line := notify.QuoteLine{InsurerName: q.InsurerName, Declined: q.Declined, DeclineReason: q.DeclineReason}
		if !q.Declined {
			line.Premium = document.FormatMoney(q.Premium, q.Currency)
		}
		data.Quotes = append(data.Quotes, line)
	}
	cheapest := int64(-1)
	for i, q := range g.Quotes {
		if !q.Declined && (cheapest < 0 || q.Premium < cheapest) {
			cheapest = q.Premium
			best = &data.Quotes[i]
		}
	}
	if best != nil {
		data.Cheapest = best.InsurerName + " — " + best.Premium
	}
	return data
}

func policyData(name string, pol *policy.Policy) notify.PolicyConfirmationData {
	return notify.PolicyConfirmationData{CustomerName: name, PolicyNumber: pol.Number, Insurer: pol.Insurer, Product: pol.Product,
		Premium: document.FormatMoney(pol.Premium, pol.Currency), SumInsured: document.FormatMoney(pol.SumInsured, pol.Currency),
		StartDate: pol.StartDate.String(), EndDate: pol.EndDate.String()}
}

func (d Deps) composeWhatsApp(ctx context.Context, q communication.WhatsAppMessageQueued, queuedAt time.Time) (notify.WhatsApp, error) {
	msg := notify.WhatsApp{MessageID: q.MessageID, CustomerID: q.CustomerID}
	c, err := d.Customers.Aggregate(ctx, nil, q.CustomerID)
	if apperr.IsCode(err, apperr.NotFound) {
		return msg, &rejection{"customer " + q.CustomerID + " does not exist"}
	}
	if err != nil {
		return msg, err
	}
	if c.Erased {
		return msg, &skip{erasedReason}
	}
	if !c.Preferences.WhatsApp {
		return msg, &skip{"the customer has not opted in to WhatsApp"}
	}
	msg.To = c.Phone
	src, err := d.source(ctx, q.SourceEventID)
	if err != nil {
		return msg, err
	}
	var data any
	switch q.Template {
	case "quotation":
		g, ok := event.As[quotation.Generated](src)
		if !ok {
			return msg, &rejection{"quotation message needs a QuotationGenerated source"}
		}
		data = quotationData(c.Name, g)
	case "renewal_reminder":
		w, ok := event.As[policy.ExpiringWarning](src)
		if !ok {
			return msg, &rejection{"renewal_reminder needs a PolicyExpiringWarning source"}
		}
		data = notify.RenewalReminderData{CustomerName: c.Name, PolicyNumber: w.PolicyNumber, EndDate: w.EndDate.String(),
			DaysLeft: w.DaysLeft, Urgency: w.Urgency}
	case "policy_confirmation":
		pol, err := d.Policies.Aggregate(ctx, nil, policySubject(src))
		if err != nil {
			return msg, err
		}
		data = policyData(c.Name, pol)
	default:
		return msg, &rejection{"unknown WhatsApp template " + q.Template}
	}
	msg.Template, msg.Language, msg.Params, err = d.Delivery.Templates.WhatsAppParams(q.Template, data)
	if err != nil {
		return msg, fmt.Errorf("whatsapp %s: %w", q.Template, err)
	}
	if q.DocumentID != "" {
		name := "document-" + q.DocumentID + ".pdf"
		if doc, err := d.Reader.Document(ctx, nil, q.DocumentID); err == nil {
			name = doc.Kind + "-" + doc.SubjectID + ".pdf"
		}
		att, err := d.attachment(ctx, communication.Attachment{DocumentID: q.DocumentID, Name: name, ContentType: "application/pdf"}, queuedAt)
		if err != nil {
			return msg, err
		}
		msg.DocumentID = q.DocumentID
		msg.DocumentName = att.Name
		msg.Document = att.Data
	}
	if err := msg.Validate(); err != nil {
		return msg, &rejection{"invalid WhatsApp message: " + err.Error()}
	}
	return msg, nil
}
