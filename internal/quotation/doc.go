// Package quotation is the Quotation aggregate: a customer's request for
// insurance quotes and the quotes every insurer gave.
//
// A quotation stream starts with QuotationRequested and ends with either
// QuotationGenerated (the quotes, one per insurer, declined ones included)
// or QuotationGenerationFailed. Its status is "requested", then "generated"
// or "failed"; both are final.
//
// RequestQuotation validates the request: customer_id is a UUID, product is
// "motor" or "health", and details is a JSON object decoded strictly into the
// product's details (rating.MotorDetails or rating.HealthDetails): unknown
// fields, missing required fields and wrong types are rejected with the field
// named "details.<field>". The numeric rules (sum insured, vehicle year,
// no-claim bonus, age, members) are rating.ValidateRequest's. The details are
// recorded re-encoded from the typed struct, so stored details are canonical.
//
// Pricing is not done here: the service calls rating with
// Quotation.RatingRequest and records the outcome with Quotation.Generate or
// Quotation.Fail. Generate after Generate and Fail after Fail record nothing;
// Generate after Fail and Fail after Generate are apperr.Conflict.
package quotation
