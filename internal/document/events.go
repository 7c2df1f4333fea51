package document

import (
	"errors"

	"insure/internal/event"
)

// AggregateType is the event-store aggregate type of documents.
const AggregateType = "document"

// The kinds of document insure generates.
const (
	KindQuotation      = "quotation"
	KindPolicySchedule = "policy_schedule"
)

// GenerationRequested asks for a PDF to be rendered. Priority picks the
// queue: "high" goes to pdf-priority, anything else to pdf-normal.
type GenerationRequested struct {
	DocumentID  string `json:"document_id"`
	Kind        string `json:"kind"`
	SubjectType string `json:"subject_type"`
	SubjectID   string `json:"subject_id"`
	// SourceEventID is the event whose state the document shows (the
	// QuotationGenerated, PolicyCreated or PolicyRenewed event).
	SourceEventID string `json:"source_event_id"`
	Priority      string `json:"priority"`
}

// EventName implements event.Payload.
func (GenerationRequested) EventName() string { return "PDFGenerationRequested" }

// Validate checks a stored event.
func (e GenerationRequested) Validate() error {
	if !event.ValidID(e.DocumentID) || e.SubjectID == "" || e.SubjectType == "" || !event.ValidID(e.SourceEventID) {
		return errors.New("document_id, subject and source_event_id are required")
	}
	if e.Kind != KindQuotation && e.Kind != KindPolicySchedule {
		return errors.New("kind must be quotation or policy_schedule")
	}
	return nil
}

// Generated records a rendered and stored PDF.
type Generated struct {
	DocumentID  string `json:"document_id"`
	Kind        string `json:"kind"`
	SubjectType string `json:"subject_type"`
	SubjectID   string `json:"subject_id"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// EventName implements event.Payload.
func (Generated) EventName() string { return "PDFGenerated" }

// Validate checks a stored event.
func (e Generated) Validate() error {
	if !event.ValidID(e.DocumentID) || e.Size <= 0 || len(e.SHA256) != 64 {
		return errors.New("document_id, size and sha256 are required")
	}
	return nil
}

// Events returns the document event definitions.
func Events() []event.Definition {
	return []event.Definition{
		{Name: "PDFGenerationRequested", AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &GenerationRequested{} }},
		{Name: "PDFGenerated", AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &Generated{} }},
	}
}
