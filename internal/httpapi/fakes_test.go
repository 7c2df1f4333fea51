package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"

	"insure/internal/app"
	"insure/internal/apperr"
	"insure/internal/auth"
	"insure/internal/customer"
	"insure/internal/event"
	"insure/internal/httpapi"
	"insure/internal/policy"
	"insure/internal/projection"
	"insure/internal/queue"
	"insure/internal/quotation"
	"insure/internal/rating"
)

// The fakes follow wtf's mock package: one function field per method, set
// by each test. A method whose field is nil fails like a missing resource.

var (
	_ httpapi.Authenticator = (*fakeAuth)(nil)
	_ httpapi.Customers     = (*fakeCustomers)(nil)
	_ httpapi.Quotations    = (*fakeQuotations)(nil)
	_ httpapi.Policies      = (*fakePolicies)(nil)
	_ httpapi.Messages      = (*fakeMessages)(nil)
	_ httpapi.Documents     = (*fakeDocuments)(nil)
	_ httpapi.Events        = (*fakeEvents)(nil)
	_ httpapi.DeadLetters   = (*fakeDeadLetters)(nil)
	_ httpapi.Health        = (*fakeHealth)(nil)
	_ httpapi.Webhooks      = (*fakeWebhooks)(nil)
	_ httpapi.Access        = (*fakeAccess)(nil)
	_ httpapi.Consistency   = (*fakeConsistency)(nil)
)

var errNotSet = apperr.New(apperr.NotFound, "fake: method not set up")

type fakeAuth struct {
	AuthenticateFn func(ctx context.Context, raw string) (auth.Principal, error)
}

func (f *fakeAuth) Authenticate(ctx context.Context, raw string) (auth.Principal, error) {
	if f.AuthenticateFn == nil {
		return auth.Principal{}, errNotSet
	}
	return f.AuthenticateFn(ctx, raw)
}

type fakeErasure struct {
	EraseFn func(ctx context.Context, ec event.Context, id string) (projection.Customer, error)
}

func (f *fakeErasure) Erase(ctx context.Context, ec event.Context, id string) (projection.Customer, error) {
	if f.EraseFn == nil {
		return projection.Customer{}, errNotSet
	}
	return f.EraseFn(ctx, ec, id)
}

// erasedCustomer is testCustomer after an erasure.
func erasedCustomer() projection.Customer {
	c := testCustomer()
	at := testNow
	c.Name, c.Email, c.Phone, c.DateOfBirth = event.Erased, event.Erased, event.Erased, nil
	c.Erased, c.ErasedAt = true, &at
	c.Version++
	return c
}

type fakeCustomers struct {
	RegisterFn    func(ctx context.Context, ec event.Context, cmd customer.Register) (projection.Customer, error)
	GetFn         func(ctx context.Context, id string) (projection.Customer, error)
	GetAsOfFn     func(ctx context.Context, id string, asOf time.Time) (projection.Customer, error)
	ListFn        func(ctx context.Context, filter projection.CustomerFilter, after string, limit int) ([]projection.Customer, string, error)
	UpdateFn      func(ctx context.Context, ec event.Context, id string, ifMatch *int64, cmd customer.UpdateProfile) (projection.Customer, error)
	VerifyEmailFn func(ctx context.Context, ec event.Context, id, token string) (projection.Customer, error)
	EventsFn      func(ctx context.Context, id string) ([]event.Envelope, error)
}

func (f *fakeCustomers) Register(ctx context.Context, ec event.Context, cmd customer.Register) (projection.Customer, error) {
	if f.RegisterFn == nil {
		return projection.Customer{}, errNotSet
	}
	return f.RegisterFn(ctx, ec, cmd)
}

func (f *fakeCustomers) Get(ctx context.Context, id string) (projection.Customer, error) {
	if f.GetFn == nil {
		return projection.Customer{}, errNotSet
	}
	return f.GetFn(ctx, id)
}

func (f *fakeCustomers) GetAsOf(ctx context.Context, id string, asOf time.Time) (projection.Customer, error) {
	if f.GetAsOfFn == nil {
		return projection.Customer{}, errNotSet
	}
	return f.GetAsOfFn(ctx, id, asOf)
}

func (f *fakeCustomers) List(ctx context.Context, filter projection.CustomerFilter, after string, limit int) ([]projection.Customer, string, error) {
	if f.ListFn == nil {
		return nil, "", errNotSet
	}
	return f.ListFn(ctx, filter, after, limit)
}

func (f *fakeCustomers) Update(ctx context.Context, ec event.Context, id string, ifMatch *int64, cmd customer.UpdateProfile) (projection.Customer, error) {
	if f.UpdateFn == nil {
		return projection.Customer{}, errNotSet
	}
	return f.UpdateFn(ctx, ec, id, ifMatch, cmd)
}

func (f *fakeCustomers) VerifyEmail(ctx context.Context, ec event.Context, id, token string) (projection.Customer, error) {
	if f.VerifyEmailFn == nil {
		return projection.Customer{}, errNotSet
	}
	return f.VerifyEmailFn(ctx, ec, id, token)
}

func (f *fakeCustomers) Events(ctx context.Context, id string) ([]event.Envelope, error) {
	if f.EventsFn == nil {
		return nil, errNotSet
	}
	return f.EventsFn(ctx, id)
}

type fakeQuotations struct {
	RequestFn func(ctx context.Context, ec event.Context, cmd quotation.Request) (projection.Quotation, error)
	GetFn     func(ctx context.Context, id string) (projection.Quotation, error)
}

func (f *fakeQuotations) Request(ctx context.Context, ec event.Context, cmd quotation.Request) (projection.Quotation, error) {
	if f.RequestFn == nil {
		return projection.Quotation{}, errNotSet
	}
	return f.RequestFn(ctx, ec, cmd)
}

func (f *fakeQuotations) Get(ctx context.Context, id string) (projection.Quotation, error) {
	if f.GetFn == nil {
		return projection.Quotation{}, errNotSet
	}
	return f.GetFn(ctx, id)
}

type fakePolicies struct {
	CreateFn       func(ctx context.Context, ec event.Context, cmd policy.Create) (projection.Policy, error)
	RenewFn        func(ctx context.Context, ec event.Context, id string, cmd policy.Renew) (projection.Policy, error)
	GetFn          func(ctx context.Context, id string) (projection.Policy, error)
	GetAsOfFn      func(ctx context.Context, id string, asOf time.Time) (projection.Policy, error)
	ListFn         func(ctx context.Context, expiringWithinDays *int, after string, limit int) ([]projection.Policy, string, error)
	ScanExpiringFn func(ctx context.Context, ec event.Context, asOf *time.Time) (app.ScanReport, error)
}

func (f *fakePolicies) Create(ctx context.Context, ec event.Context, cmd policy.Create) (projection.Policy, error) {
	if f.CreateFn == nil {
		return projection.Policy{}, errNotSet
	}
	return f.CreateFn(ctx, ec, cmd)
}

func (f *fakePolicies) Renew(ctx context.Context, ec event.Context, id string, cmd policy.Renew) (projection.Policy, error) {
	if f.RenewFn == nil {
		return projection.Policy{}, errNotSet
	}
	return f.RenewFn(ctx, ec, id, cmd)
}

func (f *fakePolicies) Get(ctx context.Context, id string) (projection.Policy, error) {
	if f.GetFn == nil {
		return projection.Policy{}, errNotSet
	}
	return f.GetFn(ctx, id)
}

func (f *fakePolicies) GetAsOf(ctx context.Context, id string, asOf time.Time) (projection.Policy, error) {
	if f.GetAsOfFn == nil {
		return projection.Policy{}, errNotSet
	}
	return f.GetAsOfFn(ctx, id, asOf)
}

func (f *fakePolicies) List(ctx context.Context, expiringWithinDays *int, after string, limit int) ([]projection.Policy, string, error) {
	if f.ListFn == nil {
		return nil, "", errNotSet
	}
	return f.ListFn(ctx, expiringWithinDays, after, limit)
}

func (f *fakePolicies) ScanExpiring(ctx context.Context, ec event.Context, asOf *time.Time) (app.ScanReport, error) {
	if f.ScanExpiringFn == nil {
		return app.ScanReport{}, errNotSet
	}
	return f.ScanExpiringFn(ctx, ec, asOf)
}

type fakeMessages struct {
	ListFn func(ctx context.Context, customerID, channel, after string, limit int) ([]projection.Message, string, error)
}

func (f *fakeMessages) List(ctx context.Context, customerID, channel, after string, limit int) ([]projection.Message, string, error) {
	if f.ListFn == nil {
		return nil, "", errNotSet
	}
	return f.ListFn(ctx, customerID, channel, after, limit)
}

type fakeDocuments struct {
	OpenFn func(ctx context.Context, id string) (io.ReadCloser, projection.Document, error)
}

func (f *fakeDocuments) Open(ctx context.Context, id string) (io.ReadCloser, projection.Document, error) {
	if f.OpenFn == nil {
		return nil, projection.Document{}, errNotSet
	}
	return f.OpenFn(ctx, id)
}

type fakeEvents struct {
	ReadFn func(ctx context.Context, after int64, limit int, types []string) ([]event.Envelope, int64, error)
	// Batch is what BatchSize returns; 0 means 100.
	Batch int
}

func (f *fakeEvents) BatchSize() int {
	if f.Batch == 0 {
		return 100
	}
	return f.Batch
}

func (f *fakeEvents) Read(ctx context.Context, after int64, limit int, types []string) ([]event.Envelope, int64, error) {
	if f.ReadFn == nil {
		return nil, 0, errNotSet
	}
	return f.ReadFn(ctx, after, limit, types)
}

type fakeDeadLetters struct {
	ListFn    func(ctx context.Context, after int64, limit int) ([]queue.DeadLetter, error)
	RetryFn   func(ctx context.Context, id int64) (queue.DeadLetter, error)
	DiscardFn func(ctx context.Context, id int64) (queue.DeadLetter, error)
}

func (f *fakeDeadLetters) Discard(ctx context.Context, id int64) (queue.DeadLetter, error) {
	if f.DiscardFn == nil {
		return queue.DeadLetter{}, errNotSet
	}
	return f.DiscardFn(ctx, id)
}

func (f *fakeDeadLetters) List(ctx context.Context, after int64, limit int) ([]queue.DeadLetter, error) {
	if f.ListFn == nil {
		return nil, errNotSet
	}
	return f.ListFn(ctx, after, limit)
}

func (f *fakeDeadLetters) Retry(ctx context.Context, id int64) (queue.DeadLetter, error) {
	if f.RetryFn == nil {
		return queue.DeadLetter{}, errNotSet
	}
	return f.RetryFn(ctx, id)
}

// fakeHealth's Ready fails its one check when ReadyFn is not set; it has
// no error to return.
type fakeHealth struct {
	ReadyFn     func(ctx context.Context) app.Readiness
	ProvidersFn func(ctx context.Context) []app.ProviderStatus
}

func (f *fakeHealth) Ready(ctx context.Context) app.Readiness {
	if f.ReadyFn == nil {
		return app.Readiness{Status: "failing", Checks: []app.Check{
			{Name: "fake", Status: "failing", Critical: true, Detail: "fake: method not set up"},
		}}
	}
	return f.ReadyFn(ctx)
}

func (f *fakeHealth) Providers(ctx context.Context) []app.ProviderStatus {
	if f.ProvidersFn == nil {
		return nil
	}
	return f.ProvidersFn(ctx)
}

type fakeWebhooks struct {
	WhatsAppStatusesFn func(ctx context.Context, ec event.Context, statuses []app.WhatsAppStatus) error
}

func (f *fakeWebhooks) WhatsAppStatuses(ctx context.Context, ec event.Context, statuses []app.WhatsAppStatus) error {
	if f.WhatsAppStatusesFn == nil {
		return errNotSet
	}
	return f.WhatsAppStatusesFn(ctx, ec, statuses)
}

type fakeAccess struct {
	RecordFn func(ctx context.Context, ec event.Context, role, action, subjectType, subjectID string) error
	ListFn   func(ctx context.Context, subject, after string, limit int) ([]projection.Access, string, error)
}

func (f *fakeAccess) Record(ctx context.Context, ec event.Context, role, action, subjectType, subjectID string) error {
	if f.RecordFn == nil {
		return errNotSet
	}
	return f.RecordFn(ctx, ec, role, action, subjectType, subjectID)
}

func (f *fakeAccess) List(ctx context.Context, subject, after string, limit int) ([]projection.Access, string, error) {
	if f.ListFn == nil {
		return nil, "", errNotSet
	}
	return f.ListFn(ctx, subject, after, limit)
}

// recordedAccess is one call of Access.Record.
type recordedAccess struct {
	EC                                   event.Context
	Role, Action, SubjectType, SubjectID string
}

// accessLog keeps the reads happyServices' fake Access records.
type accessLog struct {
	mu    sync.Mutex
	items []recordedAccess
}

func (l *accessLog) record(a recordedAccess) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, a)
}

// all returns the reads recorded so far, in order.
func (l *accessLog) all() []recordedAccess {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]recordedAccess(nil), l.items...)
}

type fakeConsistency struct {
	WaitForFn func(ctx context.Context, projections []string, position int64) error
}

func (f *fakeConsistency) WaitFor(ctx context.Context, projections []string, position int64) error {
	if f.WaitForFn == nil {
		return errNotSet
	}
	return f.WaitForFn(ctx, projections, position)
}

// Fixtures: views as the real services would return them.

var (
	testNow       = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	customerID    = "01956a3e-7c2b-7d4e-8f00-000000000001"
	quotationID   = "01956a3e-7c2b-7d4e-8f00-000000000002"
	policyID      = "01956a3e-7c2b-7d4e-8f00-000000000003"
	documentID    = "01956a3e-7c2b-7d4e-8f00-000000000004"
	messageID     = "01956a3e-7c2b-7d4e-8f00-000000000005"
	eventID       = "01956a3e-7c2b-7d4e-8f00-000000000006"
	correlationID = "01956a3e-7c2b-7d4e-8f00-000000000007"
	unknownID     = "01956a3e-7c2b-7d4e-8f00-0000000000ff"

	// The tokens happyServices' authenticator accepts, one per role. The
	// harness sends adminToken unless a request says otherwise.
	adminToken   = "admin-token"
	agentToken   = "agent-token"
	auditorToken = "auditor-token"
	serviceToken = "service-token"

	// The WhatsApp webhook's secrets in happyServices.
	testVerifyToken = "verify-7f3a9c"
	testAppSecret   = "app-secret-51d2e8"
)

func ptr[T any](v T) *T { return &v }

// testPrincipals are the principals of the test tokens. Their names differ
// from the tokens, so that a log can be checked for one and not the other.
func testPrincipals() map[string]auth.Principal {
	return map[string]auth.Principal{
		adminToken:   {TokenID: "tok-1", Name: "test-admin", Role: auth.RoleAdmin},
		agentToken:   {TokenID: "tok-2", Name: "test-agent", Role: auth.RoleAgent},
		auditorToken: {TokenID: "tok-3", Name: "test-auditor", Role: auth.RoleAuditor},
		serviceToken: {TokenID: "tok-4", Name: "test-service", Role: auth.RoleService},
	}
}

// tokenFor returns the test token of role.
func tokenFor(role auth.Role) string {
	for token, p := range testPrincipals() {
		if p.Role == role {
			return token
		}
	}
	panic("no test token for role " + role)
}

func testCustomer() projection.Customer {
	return projection.Customer{
		ID:          customerID,
		Name:        "Asha Rao",
		Email:       "asha@example.com",
		Phone:       "+919876543210",
		DateOfBirth: ptr("1990-05-17"),
		Channel:     "api",
		Preferences: projection.Preferences{Email: true, WhatsApp: true},
		Version:     3,
		CreatedAt:   testNow,
		UpdatedAt:   testNow,
	}
}

func testQuotation() projection.Quotation {
	return projection.Quotation{
		ID:         quotationID,
		CustomerID: customerID,
		Product:    "motor",
		SumInsured: 50_000_000,
		Currency:   "INR",
		Details:    json.RawMessage(`{"vehicle_make":"Maruti","vehicle_model":"Swift","vehicle_year":2021,"ncb_percent":20}`),
		Status:     "generated",
		Quotes: []rating.Quote{
			{
				Insurer: "acme", InsurerName: "Acme General", Premium: 1_234_500, SumInsured: 50_000_000,
				Currency: "INR", Coverage: "comprehensive",
				AddOns:    []rating.AddOn{{Code: "zero_dep", Name: "Zero depreciation", Premium: 100_000}},
				Breakdown: &rating.Breakdown{Base: 1_000_000, Loading: 50_000, Discount: 104_500, AddOns: 100_000, Tax: 189_000},
			},
			{
				Insurer: "zenith", InsurerName: "Zenith", SumInsured: 50_000_000, Currency: "INR",
				Coverage: "comprehensive", Declined: true, DeclineReason: "vehicle make not covered",
			},
		},
		DocumentID: ptr(documentID),
		Version:    2,
		CreatedAt:  testNow,
		UpdatedAt:  testNow,
	}
}

func testPolicy() projection.Policy {
	return projection.Policy{
		ID:           policyID,
		CustomerID:   customerID,
		QuotationID:  ptr(quotationID),
		PolicyNumber: "MOT-2025-0001",
		Insurer:      "acme",
		Product:      "motor",
		Premium:      1_234_500,
		SumInsured:   50_000_000,
		Currency:     "INR",
		StartDate:    "2025-03-14",
		EndDate:      "2026-03-13",
		Status:       "active",
		DaysToExpiry: 364,
		DocumentID:   ptr(documentID),
		Version:      1,
		CreatedAt:    testNow,
		UpdatedAt:    testNow,
	}
}

func testMessage() projection.Message {
	return projection.Message{
		ID:            messageID,
		CustomerID:    ptr(customerID),
		Channel:       "email",
		Template:      "welcome",
		RecipientRole: "customer",
		Priority:      "normal",
		Status:        "sent",
		DocumentIDs:   []string{documentID},
		SourceEventID: eventID,
		QueuedAt:      testNow,
		SentAt:        ptr(testNow),
		UpdatedAt:     testNow,
	}
}

func testEnvelope(position int64) event.Envelope {
	return event.Envelope{
		Position:         position,
		EventID:          eventID,
		EventName:        "CustomerRegistered",
		AggregateType:    "customer",
		AggregateID:      customerID,
		AggregateVersion: 1,
		SchemaVersion:    1,
		Data:             json.RawMessage(`{"customer_id":"` + customerID + `","name":"Asha Rao"}`),
		Metadata: event.Metadata{
			EventID: eventID, CorrelationID: correlationID, Actor: "api", Channel: "api",
			IP: "192.0.2.1", UserAgent: "test", OccurredAt: testNow,
		},
		OccurredAt: testNow,
	}
}

func testAccess(id string) projection.Access {
	return projection.Access{
		ID: id, Actor: "token:test-auditor", Role: "auditor", Action: "customer.profile",
		SubjectType: "customer", SubjectID: customerID, IP: "192.0.2.1", UserAgent: "insure-test/1.0",
		RequestID: correlationID, AccessedAt: testNow,
	}
}

func testReadiness() app.Readiness {
	return app.Readiness{Status: "ok", Checks: []app.Check{
		{Name: "database", Status: "ok", Critical: true},
		{Name: "smtp", Status: "ok", Critical: false},
	}}
}

func testProviders() []app.ProviderStatus {
	return []app.ProviderStatus{
		{Name: "email", Driver: "smtp", State: "closed"},
		{Name: "whatsapp", Driver: "cloudapi", State: "open", ConsecutiveFailures: 5},
	}
}

func testDeadLetter() queue.DeadLetter {
	return queue.DeadLetter{
		ID: 7, JobID: 42, Listener: "send_welcome_email", Queue: "email", EventID: eventID,
		Attempts: 25, Error: "smtp: connection refused", Status: "dead", FailedAt: testNow,
	}
}

// happyServices returns fakes that succeed with the fixtures above.
func happyServices() (httpapi.Services, *fakes) {
	f := &fakes{
		auth: &fakeAuth{
			AuthenticateFn: func(_ context.Context, raw string) (auth.Principal, error) {
				p, ok := testPrincipals()[raw]
				if !ok {
					return auth.Principal{}, apperr.New(apperr.Unauthorized, "fake: the token is not valid; ask an admin for one")
				}
				return p, nil
			},
		},
		customers: &fakeCustomers{
			RegisterFn: func(context.Context, event.Context, customer.Register) (projection.Customer, error) {
				c := testCustomer()
				c.Version = 1
				return c, nil
			},
			GetFn: func(_ context.Context, id string) (projection.Customer, error) {
				if id != customerID {
					return projection.Customer{}, apperr.New(apperr.NotFound, "customer %s not found", id)
				}
				return testCustomer(), nil
			},
			ListFn: func(context.Context, projection.CustomerFilter, string, int) ([]projection.Customer, string, error) {
				return []projection.Customer{testCustomer()}, "", nil
			},
			UpdateFn: func(_ context.Context, _ event.Context, _ string, ifMatch *int64, _ customer.UpdateProfile) (projection.Customer, error) {
				c := testCustomer()
				if ifMatch != nil && *ifMatch != c.Version {
					return projection.Customer{}, apperr.New(apperr.Conflict, "customer is at version %d, not %d; get it again and retry", c.Version, *ifMatch)
				}
				c.Version++
				return c, nil
			},
			VerifyEmailFn: func(context.Context, event.Context, string, string) (projection.Customer, error) {
				c := testCustomer()
				c.EmailVerified = true
				c.Version++
				return c, nil
			},
			EventsFn: func(context.Context, string) ([]event.Envelope, error) {
				return []event.Envelope{testEnvelope(1)}, nil
			},
		},
		erasure: &fakeErasure{
			EraseFn: func(_ context.Context, _ event.Context, id string) (projection.Customer, error) {
				if id != customerID {
					return projection.Customer{}, apperr.New(apperr.NotFound, "customer %s not found", id)
				}
				return erasedCustomer(), nil
			},
		},
		quotations: &fakeQuotations{
			RequestFn: func(context.Context, event.Context, quotation.Request) (projection.Quotation, error) {
				q := testQuotation()
				q.Status, q.Quotes, q.DocumentID, q.Version = "requested", nil, nil, 1
				return q, nil
			},
			GetFn: func(context.Context, string) (projection.Quotation, error) { return testQuotation(), nil },
		},
		policies: &fakePolicies{
			CreateFn: func(context.Context, event.Context, policy.Create) (projection.Policy, error) {
				return testPolicy(), nil
			},
			RenewFn: func(context.Context, event.Context, string, policy.Renew) (projection.Policy, error) {
				p := testPolicy()
				p.EndDate, p.Renewals, p.Version = "2027-03-13", 1, 2
				return p, nil
			},
			GetFn: func(context.Context, string) (projection.Policy, error) { return testPolicy(), nil },
			ListFn: func(context.Context, *int, string, int) ([]projection.Policy, string, error) {
				return []projection.Policy{testPolicy()}, "", nil
			},
			ScanExpiringFn: func(context.Context, event.Context, *time.Time) (app.ScanReport, error) {
				return app.ScanReport{AsOf: "2025-03-14", Scanned: 0}, nil
			},
		},
		messages: &fakeMessages{
			ListFn: func(context.Context, string, string, string, int) ([]projection.Message, string, error) {
				return []projection.Message{testMessage()}, "", nil
			},
		},
		documents: &fakeDocuments{
			OpenFn: func(_ context.Context, id string) (io.ReadCloser, projection.Document, error) {
				content := "%PDF-1.7 fake"
				return io.NopCloser(strings.NewReader(content)), projection.Document{
					ID: id, Kind: "quotation", SubjectType: "quotation", SubjectID: quotationID,
					Status: "generated", ContentType: "application/pdf", Size: ptr(int64(len(content))),
					RequestedAt: testNow, GeneratedAt: ptr(testNow),
				}, nil
			},
		},
		events: &fakeEvents{
			ReadFn: func(_ context.Context, after int64, _ int, _ []string) ([]event.Envelope, int64, error) {
				return []event.Envelope{testEnvelope(after + 1)}, after + 1, nil
			},
		},
		deadLetters: &fakeDeadLetters{
			ListFn: func(context.Context, int64, int) ([]queue.DeadLetter, error) {
				return []queue.DeadLetter{testDeadLetter()}, nil
			},
			RetryFn: func(context.Context, int64) (queue.DeadLetter, error) {
				d := testDeadLetter()
				d.Status, d.ResolvedAt = "retried", ptr(testNow)
				return d, nil
			},
			DiscardFn: func(context.Context, int64) (queue.DeadLetter, error) {
				d := testDeadLetter()
				d.Status, d.ResolvedAt = "discarded", ptr(testNow)
				return d, nil
			},
		},
		health: &fakeHealth{
			ReadyFn:     func(context.Context) app.Readiness { return testReadiness() },
			ProvidersFn: func(context.Context) []app.ProviderStatus { return testProviders() },
		},
		webhooks: &fakeWebhooks{
			WhatsAppStatusesFn: func(context.Context, event.Context, []app.WhatsAppStatus) error { return nil },
		},
		whatsAppWebhook: httpapi.WebhookConfig{VerifyToken: testVerifyToken, AppSecret: testAppSecret},
		recorded:        &accessLog{},
	}
	f.access = &fakeAccess{
		RecordFn: func(_ context.Context, ec event.Context, role, action, subjectType, subjectID string) error {
			f.recorded.record(recordedAccess{EC: ec, Role: role, Action: action, SubjectType: subjectType, SubjectID: subjectID})
			return nil
		},
		ListFn: func(context.Context, string, string, int) ([]projection.Access, string, error) {
			return []projection.Access{testAccess(eventID)}, "", nil
		},
	}
	return f.services(), f
}

// fakes holds one fake per service.
type fakes struct {
	auth        *fakeAuth
	customers   *fakeCustomers
	erasure     *fakeErasure
	quotations  *fakeQuotations
	policies    *fakePolicies
	messages    *fakeMessages
	documents   *fakeDocuments
	events      *fakeEvents
	deadLetters *fakeDeadLetters
	health      *fakeHealth
	webhooks    *fakeWebhooks
	access      *fakeAccess

	whatsAppWebhook httpapi.WebhookConfig

	// recorded holds the reads f.access records while its RecordFn is
	// happyServices'.
	recorded *accessLog
}

func (f *fakes) services() httpapi.Services {
	return httpapi.Services{
		Auth:        f.auth,
		Customers:   f.customers,
		Erasure:     f.erasure,
		Quotations:  f.quotations,
		Policies:    f.policies,
		Messages:    f.messages,
		Documents:   f.documents,
		Events:      f.events,
		DeadLetters: f.deadLetters,
		Health:      f.health,
		Webhooks:    f.webhooks,
		Access:      f.access,

		WhatsAppWebhook: f.whatsAppWebhook,
	}
}
