package quotation

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"insure/internal/event"
	"insure/internal/rating"
)

// AggregateType is the aggregate type of every quotation stream.
const AggregateType = "quotation"

// The names of the quotation events.
const (
	EventRequested        = "QuotationRequested"
	EventGenerated        = "QuotationGenerated"
	EventGenerationFailed = "QuotationGenerationFailed"
)

// Events returns the definitions of the quotation events, for the registry.
func Events() []event.Definition {
	return []event.Definition{
		{Name: EventRequested, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &Requested{} }},
		{Name: EventGenerated, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &Generated{} }},
		{Name: EventGenerationFailed, AggregateType: AggregateType, SchemaVersion: 1, New: func() event.Payload { return &GenerationFailed{} }},
	}
}

// Requested is recorded when a customer asks for quotes. Details is the
// product's details object (rating.MotorDetails or rating.HealthDetails)
// encoded canonically.
type Requested struct {
	QuotationID string          `json:"quotation_id"`
	CustomerID  string          `json:"customer_id"`
	Product     string          `json:"product"`
	SumInsured  int64           `json:"sum_insured"`
	Currency    string          `json:"currency"`
	Details     json.RawMessage `json:"details"`
}

// EventName implements event.Payload.
func (Requested) EventName() string { return EventRequested }

// Validate checks the fields a stored QuotationRequested must have, and that
// its details decode strictly into the product's details type.
func (e Requested) Validate() error {
	if err := ids(e.QuotationID, e.CustomerID); err != nil {
		return err
	}
	if err := header(e.Product, e.SumInsured, e.Currency); err != nil {
		return err
	}
	if _, _, err := decodeDetails(rating.Product(e.Product), e.Details); err != nil {
		// A plain error: corrupt stored data is not the caller's bad input.
		return errors.New(err.Error())
	}
	return nil
}

// Generated is recorded with the quotes of every insurer, declined ones
// included (they carry a decline_reason and premium 0).
type Generated struct {
	QuotationID string         `json:"quotation_id"`
	CustomerID  string         `json:"customer_id"`
	Product     string         `json:"product"`
	SumInsured  int64          `json:"sum_insured"`
	Currency    string         `json:"currency"`
	Quotes      []rating.Quote `json:"quotes"`
}

// EventName implements event.Payload.
func (Generated) EventName() string { return EventGenerated }

// Validate checks the fields a stored QuotationGenerated must have.
func (e Generated) Validate() error {
	if err := ids(e.QuotationID, e.CustomerID); err != nil {
		return err
	}
	if err := header(e.Product, e.SumInsured, e.Currency); err != nil {
		return err
	}
	if err := checkQuotes(e.Quotes); err != nil {
		return errors.New(err.Error())
	}
	return nil
}

// GenerationFailed is recorded when no quotes could be produced.
type GenerationFailed struct {
	QuotationID string `json:"quotation_id"`
	Reason      string `json:"reason"`
}

// EventName implements event.Payload.
func (GenerationFailed) EventName() string { return EventGenerationFailed }

// Validate checks the fields a stored QuotationGenerationFailed must have.
func (e GenerationFailed) Validate() error {
	if !event.ValidID(e.QuotationID) {
		return errors.New("quotation_id must be a UUID")
	}
	if strings.TrimSpace(e.Reason) == "" {
		return errors.New("reason is required")
	}
	return nil
}

func ids(quotationID, customerID string) error {
	if !event.ValidID(quotationID) {
		return errors.New("quotation_id must be a UUID")
	}
	if !event.ValidID(customerID) {
		return errors.New("customer_id must be a UUID")
	}
	return nil
}

func header(product string, sumInsured int64, currency string) error {
	if !validProduct(product) {
		return fmt.Errorf("product %q is not motor or health", product)
	}
	if sumInsured <= 0 {
		return errors.New("sum_insured must be greater than zero")
	}
	if !isCurrency(currency) {
		return errors.New("currency must be a three-letter code")
	}
	return nil
}

func validProduct(p string) bool {
	return p == string(rating.ProductMotor) || p == string(rating.ProductHealth)
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
