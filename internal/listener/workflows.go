package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"insure/internal/app"
	"insure/internal/apperr"
	"insure/internal/audit"
	"insure/internal/communication"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/document"
	"insure/internal/event"
	"insure/internal/policy"
	"insure/internal/projection"
	"insure/internal/queue"
	"insure/internal/quotation"
	"insure/internal/recorder"
)

// The listener names, as in the system insure replaces.
const (
	SendWelcomeEmail          = "SendWelcomeEmail"
	CreateCustomerAuditLog    = "CreateCustomerAuditLog"
	NotifyAdminOfRegistration = "NotifyAdminOfRegistration"
	GenerateQuotation         = "GenerateQuotation"
	GenerateQuotationPDF      = "GenerateQuotationPDF"
	SendQuotationWhatsApp     = "SendQuotationWhatsApp"
	SendQuotationEmail        = "SendQuotationEmail"
	GeneratePolicySchedulePDF = "GeneratePolicySchedulePDF"
	SendPolicyConfirmation    = "SendPolicyConfirmation"
	SendPolicyRenewalReminder = "SendPolicyRenewalReminder"
	RenderDocument            = "RenderDocument"
	ProcessEmailMessage       = "ProcessEmailMessage"
	ProcessWhatsAppMessage    = "ProcessWhatsAppMessage"
)

// Deps are what the listeners use.
type Deps struct {
	Recorder   *recorder.Recorder
	Reader     *projection.Reader
	Customers  *app.CustomerService
	Quotations *app.QuotationService
	Policies   *app.PolicyService
	Webhooks   *app.WebhookService
	Delivery   *Delivery
	Documents  *Documents
	// HighValueThreshold (minor units): quotations at or above it go to
	// the priority PDF and WhatsApp queues.
	HighValueThreshold int64
	Logger             *slog.Logger
	Now                func() time.Time
}

// ErrNotReady means something the listener needs (a document) is not there
// yet; the job is released and tried again later.
var ErrNotReady = errors.New("not ready yet")

func fixed(q string, prio int) func(event.Payload) (string, int) {
	return func(event.Payload) (string, int) { return q, prio }
}

func (d Deps) byValue(priorityQ, normalQ string) func(event.Payload) (string, int) {
	return func(p event.Payload) (string, int) {
		if g, ok := event.As[quotation.Generated](p); ok && g.SumInsured >= d.HighValueThreshold {
			return priorityQ, 1
		}
		return normalQ, 2
	}
}

// Definitions returns every listener.
func Definitions(d Deps) []Definition {
	auditEvents := []string{customer.EventRegistered, customer.EventEmailVerified, customer.EventProfileUpdated, customer.EventErased,
		quotation.EventRequested, quotation.EventGenerated, quotation.EventGenerationFailed,
		"PolicyCreated", "PolicyRenewed", "PolicyExpiringWarning"}
	return []Definition{
		{Name: SendWelcomeEmail, Events: []string{customer.EventRegistered}, Route: fixed(queue.EmailPriority, 1), Handle: d.sendWelcomeEmail},
		{Name: CreateCustomerAuditLog, Events: auditEvents, Route: fixed(queue.AuditNormal, 3), Handle: d.createAuditLog},
		{Name: NotifyAdminOfRegistration, Events: []string{customer.EventRegistered}, Route: fixed(queue.EmailNormal, 3), Handle: d.notifyAdmin},
		{Name: GenerateQuotation, Events: []string{quotation.EventRequested}, Route: fixed(queue.HighPriority, 1),
			Handle: d.generateQuotation, Failed: d.quotationFailed},
		{Name: GenerateQuotationPDF, Events: []string{quotation.EventGenerated}, Route: d.byValue(queue.PDFPriority, queue.PDFNormal), Handle: d.requestQuotationPDF},
		{Name: SendQuotationWhatsApp, Events: []string{quotation.EventGenerated}, Route: d.byValue(queue.WhatsAppPriority, queue.WhatsAppNormal), Handle: d.sendQuotationWhatsApp},
		{Name: SendQuotationEmail, Events: []string{quotation.EventGenerated}, Route: d.byValue(queue.EmailPriority, queue.EmailNormal), Handle: d.sendQuotationEmail},
		{Name: GeneratePolicySchedulePDF, Events: []string{"PolicyCreated", "PolicyRenewed"}, Route: fixed(queue.PDFNormal, 2), Handle: d.requestPolicySchedulePDF},
		{Name: SendPolicyConfirmation, Events: []string{"PolicyCreated", "PolicyRenewed"}, Route: fixed(queue.Normal, 2), Handle: d.sendPolicyConfirmation},
		{Name: SendPolicyRenewalReminder, Events: []string{"PolicyExpiringWarning"}, Route: reminderRoute, Handle: d.sendRenewalReminder},
		{Name: RenderDocument, Events: []string{"PDFGenerationRequested"}, Route: documentRoute, Handle: d.renderDocument},
		{Name: ProcessEmailMessage, Events: []string{"EmailQueued"}, Route: messageRoute(queue.EmailPriority, queue.EmailNormal),
			Handle: d.processEmail, Failed: d.messageFailed},
		{Name: ProcessWhatsAppMessage, Events: []string{"WhatsAppMessageQueued"}, Route: messageRoute(queue.WhatsAppPriority, queue.WhatsAppNormal),
			Handle: d.processWhatsApp, Failed: d.messageFailed},
	}
}

func reminderRoute(p event.Payload) (string, int) {
	if w, ok := event.As[policy.ExpiringWarning](p); ok && (w.Urgency == "high" || w.Urgency == "critical") {
		return queue.HighPriority, 1
	}
	return queue.Normal, 2
}

func documentRoute(p event.Payload) (string, int) {
	if r, ok := event.As[document.GenerationRequested](p); ok && r.Priority == "high" {
		return queue.PDFPriority, 1
	}
	return queue.PDFNormal, 2
}

func messageRoute(priorityQ, normalQ string) func(event.Payload) (string, int) {
	return func(p event.Payload) (string, int) {
		prio := ""
		if e, ok := event.As[communication.EmailQueued](p); ok {
			prio = e.Priority
		}
		if w, ok := event.As[communication.WhatsAppMessageQueued](p); ok {
			prio = w.Priority
		}
		if prio == "high" {
			return priorityQ, 1
		}
		return normalQ, 2
	}
}

// ec is the metadata context of work a listener does for env.
func ec(env event.Envelope, listener string) event.Context {
	return event.Context{}.Child(env, "listener:"+listener)
}

// recordOnce appends events to a new aggregate whose id is derived from the
// starting event; if a previous attempt already did, it does nothing.
func (d Deps) recordOnce(ctx context.Context, ectx event.Context, aggregateType, id string, evs ...event.Payload) error {
	_, err := d.Recorder.Record(ctx, ectx, nil, recorder.Change{AggregateType: aggregateType, AggregateID: id, Events: evs})
	if apperr.IsCode(err, apperr.Conflict) {
		return nil
	}
	return err
}

func (d Deps) sendWelcomeEmail(ctx context.Context, env event.Envelope, p event.Payload) error {
	e, _ := event.As[customer.Registered](p)
	return d.queueEmail(ctx, env, SendWelcomeEmail, e.CustomerID, "customer", "welcome", "high", nil)
}

func (d Deps) notifyAdmin(ctx context.Context, env event.Envelope, p event.Payload) error {
	e, _ := event.As[customer.Registered](p)
	return d.queueEmail(ctx, env, NotifyAdminOfRegistration, e.CustomerID, "admin", "admin_registration", "normal", nil)
}

func (d Deps) queueEmail(ctx context.Context, env event.Envelope, listener, customerID, role, template, priority string, attachments []communication.Attachment) error {
	id := event.DerivedID(env.EventID, listener+"/email")
	q := &communication.EmailQueued{MessageID: id, RecipientRole: role, Template: template, Priority: priority,
		Attachments: attachments, SourceEventID: env.EventID}
	if role == "customer" {
		q.CustomerID = customerID
	}
	if q.Attachments == nil {
		q.Attachments = []communication.Attachment{}
	}
	return d.recordOnce(ctx, ec(env, listener), communication.AggregateType, id, q)
}

func (d Deps) queueWhatsApp(ctx context.Context, env event.Envelope, listener, customerID, template, priority, documentID string) error {
	id := event.DerivedID(env.EventID, listener+"/whatsapp")
	q := &communication.WhatsAppMessageQueued{MessageID: id, CustomerID: customerID, Template: template, Priority: priority,
		DocumentID: documentID, SourceEventID: env.EventID}
	return d.recordOnce(ctx, ec(env, listener), communication.AggregateType, id, q)
}

func (d Deps) createAuditLog(ctx context.Context, env event.Envelope, p event.Payload) error {
	action, ok := audit.ActionFor(env.EventName)
	if !ok {
		return queue.Permanent(fmt.Errorf("no audit action for %s", env.EventName))
	}
	customerID, summary := auditSubject(p)
	if r, ok := event.As[policy.Renewed](p); ok {
		pol, err := d.Policies.Aggregate(ctx, nil, r.PolicyID)
		if err != nil {
			return err
		}
		customerID, summary = pol.CustomerID, fmt.Sprintf("Policy %s renewed until %s", pol.Number, r.EndDate)
	}
	if f, ok := event.As[quotation.GenerationFailed](p); ok {
		qt, err := d.Quotations.Aggregate(ctx, nil, f.QuotationID)
		if err != nil {
			return err
		}
		customerID, summary = qt.CustomerID, "Quotation could not be generated"
	}
	if customerID == "" {
		return queue.Permanent(fmt.Errorf("%s %s names no customer", env.EventName, env.EventID))
	}
	evs, err := audit.LogAction(customerID, action, env.EventID, env.EventName, env.Metadata.Actor, summary)
	if err != nil {
		return queue.Permanent(err)
	}
	return d.recordOnce(ctx, ec(env, CreateCustomerAuditLog), audit.AggregateType, event.DerivedID(env.EventID, "audit"), evs...)
}

// auditSubject names the customer an event is about and a summary without
// personal data.
func auditSubject(p event.Payload) (customerID, summary string) {
	switch {
	case is[customer.Registered](p):
		e, _ := event.As[customer.Registered](p)
		return e.CustomerID, "Customer registered via " + e.Channel
	case is[customer.EmailVerified](p):
		e, _ := event.As[customer.EmailVerified](p)
		return e.CustomerID, "Email address verified"
	case is[customer.ProfileUpdated](p):
		e, _ := event.As[customer.ProfileUpdated](p)
		fields := make([]string, 0, len(e.Changes))
		for f := range e.Changes {
			fields = append(fields, f)
		}
		sortStrings(fields)
		return e.CustomerID, "Profile updated: " + strings.Join(fields, ", ")
	case is[customer.PersonalDataErased](p):
		e, _ := event.As[customer.PersonalDataErased](p)
		return e.CustomerID, "Personal data erased at the customer's request"
	case is[quotation.Requested](p):
		e, _ := event.As[quotation.Requested](p)
		return e.CustomerID, "Quotation requested for " + e.Product
	case is[quotation.Generated](p):
		e, _ := event.As[quotation.Generated](p)
		return e.CustomerID, fmt.Sprintf("Quotation generated with %d quotes", len(e.Quotes))
	case is[quotation.GenerationFailed](p):
		// The failure event carries no customer; the quotation does.
		return "", ""
	case is[policy.Created](p):
		e, _ := event.As[policy.Created](p)
		return e.CustomerID, "Policy " + e.PolicyNumber + " created"
	case is[policy.ExpiringWarning](p):
		e, _ := event.As[policy.ExpiringWarning](p)
		return e.CustomerID, fmt.Sprintf("Policy %s expiry warning (%d days, %s)", e.PolicyNumber, e.DaysLeft, e.Urgency)
	}
	return "", ""
}

func is[T any](p event.Payload) bool {
	_, ok := event.As[T](p)
	return ok
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (d Deps) generateQuotation(ctx context.Context, env event.Envelope, p event.Payload) error {
	e, _ := event.As[quotation.Requested](p)
	_, err := d.Quotations.Generate(ctx, ec(env, GenerateQuotation), e.QuotationID)
	if apperr.IsCode(err, apperr.Conflict) {
		return nil // someone else moved it on; Generate is a no-op then
	}
	return err
}

func (d Deps) quotationFailed(ctx context.Context, tx database.Tx, env event.Envelope, p event.Payload, cause error) error {
	e, _ := event.As[quotation.Requested](p)
	reason := "quotation could not be generated: " + firstLine(cause)
	return d.Quotations.FailTx(ctx, tx, ec(env, GenerateQuotation), e.QuotationID, reason)
}

func priorityOf(sumInsured, threshold int64) string {
	if sumInsured >= threshold {
		return "high"
	}
	return "normal"
}

// quotationDocumentID is the id of the comparison PDF of a QuotationGenerated event.
func quotationDocumentID(generatedEventID string) string {
	return event.DerivedID(generatedEventID, "quotation-pdf")
}

func policyDocumentID(eventID string) string {
	return event.DerivedID(eventID, "policy-schedule-pdf")
}

func (d Deps) requestQuotationPDF(ctx context.Context, env event.Envelope, p event.Payload) error {
	e, _ := event.As[quotation.Generated](p)
	id := quotationDocumentID(env.EventID)
	return d.recordOnce(ctx, ec(env, GenerateQuotationPDF), document.AggregateType, id, &document.GenerationRequested{
		DocumentID: id, Kind: document.KindQuotation, SubjectType: quotation.AggregateType, SubjectID: e.QuotationID,
		SourceEventID: env.EventID, Priority: priorityOf(e.SumInsured, d.HighValueThreshold)})
}

func (d Deps) requestPolicySchedulePDF(ctx context.Context, env event.Envelope, p event.Payload) error {
	policyID := policySubject(p)
	id := policyDocumentID(env.EventID)
	return d.recordOnce(ctx, ec(env, GeneratePolicySchedulePDF), document.AggregateType, id, &document.GenerationRequested{
		DocumentID: id, Kind: document.KindPolicySchedule, SubjectType: policy.AggregateType, SubjectID: policyID,
		SourceEventID: env.EventID, Priority: "normal"})
}

func policySubject(p event.Payload) string {
	if e, ok := event.As[policy.Created](p); ok {
		return e.PolicyID
	}
	if e, ok := event.As[policy.Renewed](p); ok {
		return e.PolicyID
	}
	return ""
}

func (d Deps) customerPrefs(ctx context.Context, customerID string) (*customer.Customer, error) {
	c, err := d.Customers.Aggregate(ctx, nil, customerID)
	if apperr.IsCode(err, apperr.NotFound) {
		return nil, queue.Permanent(err)
	}
	return c, err
}

func (d Deps) sendQuotationWhatsApp(ctx context.Context, env event.Envelope, p event.Payload) error {
	e, _ := event.As[quotation.Generated](p)
	c, err := d.customerPrefs(ctx, e.CustomerID)
	if err != nil || !c.Preferences.WhatsApp {
		return err
	}
	return d.queueWhatsApp(ctx, env, SendQuotationWhatsApp, e.CustomerID, "quotation",
		priorityOf(e.SumInsured, d.HighValueThreshold), quotationDocumentID(env.EventID))
}

func (d Deps) sendQuotationEmail(ctx context.Context, env event.Envelope, p event.Payload) error {
	e, _ := event.As[quotation.Generated](p)
	c, err := d.customerPrefs(ctx, e.CustomerID)
	if err != nil || !c.Preferences.Email {
		return err
	}
	att := []communication.Attachment{{DocumentID: quotationDocumentID(env.EventID), Name: "quotation-" + e.QuotationID + ".pdf", ContentType: "application/pdf"}}
	return d.queueEmail(ctx, env, SendQuotationEmail, e.CustomerID, "customer", "quotation", priorityOf(e.SumInsured, d.HighValueThreshold), att)
}

func (d Deps) sendPolicyConfirmation(ctx context.Context, env event.Envelope, p event.Payload) error {
	pol, err := d.Policies.Aggregate(ctx, nil, policySubject(p))
	if err != nil {
		return err
	}
	c, err := d.customerPrefs(ctx, pol.CustomerID)
	if err != nil {
		return err
	}
	doc := policyDocumentID(env.EventID)
	if c.Preferences.Email {
		att := []communication.Attachment{{DocumentID: doc, Name: "policy-" + pol.Number + ".pdf", ContentType: "application/pdf"}}
		if err := d.queueEmail(ctx, env, SendPolicyConfirmation, c.ID, "customer", "policy_confirmation", "normal", att); err != nil {
			return err
		}
	}
	if c.Preferences.WhatsApp {
		return d.queueWhatsApp(ctx, env, SendPolicyConfirmation, c.ID, "policy_confirmation", "normal", doc)
	}
	return nil
}

func (d Deps) sendRenewalReminder(ctx context.Context, env event.Envelope, p event.Payload) error {
	w, _ := event.As[policy.ExpiringWarning](p)
	c, err := d.customerPrefs(ctx, w.CustomerID)
	if err != nil {
		return err
	}
	prio := "normal"
	if w.Urgency == "high" || w.Urgency == "critical" {
		prio = "high"
	}
	if c.Preferences.Email {
		if err := d.queueEmail(ctx, env, SendPolicyRenewalReminder, c.ID, "customer", "renewal_reminder", prio, nil); err != nil {
			return err
		}
	}
	if c.Preferences.WhatsApp && w.DaysLeft <= 15 {
		return d.queueWhatsApp(ctx, env, SendPolicyRenewalReminder, c.ID, "renewal_reminder", prio, "")
	}
	return nil
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}
