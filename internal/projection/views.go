package projection

import (
	"encoding/json"
	"time"

	"insure/internal/rating"
)

// Customer is the customer read model. Once the customer's personal data is
// erased, Erased is set and Name, Email and Phone read event.Erased, without
// a date of birth.
type Customer struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	Email         string      `json:"email"`
	Phone         string      `json:"phone"`
	DateOfBirth   *string     `json:"date_of_birth,omitempty"`
	Channel       string      `json:"channel"`
	Preferences   Preferences `json:"preferences"`
	EmailVerified bool        `json:"email_verified"`
	Erased        bool        `json:"erased"`
	ErasedAt      *time.Time  `json:"erased_at,omitempty"`
	Version       int64       `json:"version"`
	CreatedAt     time.Time   `json:"created_at"`
	UpdatedAt     time.Time   `json:"updated_at"`
}

// Preferences are a customer's channel consents.
type Preferences struct {
	Email    bool `json:"email"`
	WhatsApp bool `json:"whatsapp"`
}

// Quotation is the quotation read model.
type Quotation struct {
	ID            string          `json:"id"`
	CustomerID    string          `json:"customer_id"`
	Product       string          `json:"product"`
	SumInsured    int64           `json:"sum_insured"`
	Currency      string          `json:"currency"`
	Details       json.RawMessage `json:"details"`
	Status        string          `json:"status"` // requested | generated | failed
	Quotes        []rating.Quote  `json:"quotes"`
	DocumentID    *string         `json:"document_id"`
	FailureReason *string         `json:"failure_reason,omitempty"`
	Version       int64           `json:"version"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
}

// Policy is the policy read model. Status and DaysToExpiry are computed for
// the day of the query.
type Policy struct {
	ID           string    `json:"id"`
	CustomerID   string    `json:"customer_id"`
	QuotationID  *string   `json:"quotation_id,omitempty"`
	PolicyNumber string    `json:"policy_number"`
	Insurer      string    `json:"insurer"`
	Product      string    `json:"product"`
	Premium      int64     `json:"premium"`
	SumInsured   int64     `json:"sum_insured"`
	Currency     string    `json:"currency"`
	StartDate    string    `json:"start_date"`
	EndDate      string    `json:"end_date"`
	Status       string    `json:"status"` // scheduled | active | expiring | expired
	DaysToExpiry int       `json:"days_to_expiry"`
	Renewals     int       `json:"renewals"`
	DocumentID   *string   `json:"document_id,omitempty"`
	Version      int64     `json:"version"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Message is one entry of the communication log.
type Message struct {
	ID                string     `json:"id"`
	CustomerID        *string    `json:"customer_id"`
	Channel           string     `json:"channel"` // email | whatsapp
	Template          string     `json:"template"`
	RecipientRole     string     `json:"recipient_role"` // customer | admin
	Priority          string     `json:"priority"`
	Status            string     `json:"status"` // queued | sent | failed | skipped
	DocumentIDs       []string   `json:"document_ids"`
	ProviderMessageID *string    `json:"provider_message_id,omitempty"`
	Error             *string    `json:"error,omitempty"`
	SourceEventID     string     `json:"source_event_id"`
	QueuedAt          time.Time  `json:"queued_at"`
	SentAt            *time.Time `json:"sent_at,omitempty"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

// Document is a generated (or requested) PDF.
type Document struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"` // quotation | policy_schedule
	SubjectType string     `json:"subject_type"`
	SubjectID   string     `json:"subject_id"`
	Status      string     `json:"status"` // requested | generated
	ContentType string     `json:"content_type"`
	Size        *int64     `json:"size,omitempty"`
	SHA256      *string    `json:"sha256,omitempty"`
	RequestedAt time.Time  `json:"requested_at"`
	GeneratedAt *time.Time `json:"generated_at,omitempty"`
}

// AuditEntry is one line of a customer's audit trail.
type AuditEntry struct {
	ID              string    `json:"id"`
	CustomerID      string    `json:"customer_id"`
	Action          string    `json:"action"`
	SourceEventID   string    `json:"source_event_id"`
	SourceEventName string    `json:"source_event_name"`
	Actor           string    `json:"actor"`
	OccurredAt      time.Time `json:"occurred_at"`
}

// Access is one recorded read of personal, event or audit data.
type Access struct {
	ID          string    `json:"id"`
	Actor       string    `json:"actor"`
	Role        string    `json:"role"`
	Action      string    `json:"action"`
	SubjectType string    `json:"subject_type"`
	SubjectID   string    `json:"subject_id"`
	IP          string    `json:"ip"`
	UserAgent   string    `json:"user_agent"`
	RequestID   string    `json:"request_id"`
	AccessedAt  time.Time `json:"accessed_at"`
}
