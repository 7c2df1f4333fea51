// Package customer is the Customer aggregate: its events, the commands that
// register and change a customer, and the rules those commands follow.
//
// A customer stream starts with CustomerRegistered and may be followed by
// any number of CustomerProfileUpdated and CustomerEmailVerified events.
// State is rebuilt only from those events (Rebuild, Apply); decision
// functions (RegisterCustomer, Customer.Update, Customer.VerifyEmail) check
// their command and return the events to record without changing the
// aggregate. Persisting them, and keeping e-mail addresses unique across
// customers, is the service's job.
//
// # Normalisation
//
// Names are trimmed. E-mail addresses are trimmed and lower-cased
// (NormalizeEmail) and must be a bare address that net/mail accepts, at most
// 254 characters. Phone numbers are normalised to E.164 (NormalizePhone):
// digits with an optional leading +, spaces, dashes and parentheses are
// accepted; a number without + is taken to be Indian when it has 10 digits
// (+91 is added) or 11 digits starting with the trunk prefix 0 (the 0 is
// dropped and +91 added); any other number without + must already start
// with its country code. The result has 8 to 15 digits.
//
// # Rules
//
//   - name: 1..200 characters after trimming, no control characters.
//   - date_of_birth: YYYY-MM-DD, not in the future, age at most 120.
//   - channel: one of Channels(); "api" when empty.
//   - preferences: e-mail on and WhatsApp off when not given.
//   - A profile update must name at least one field; it records only the
//     fields that actually change, and none at all when nothing changes.
//     Changing the e-mail address makes it unverified again.
//   - Verifying an already verified address records nothing (idempotent);
//     the verification token is checked by the service.
//
// Validation failures are *apperr.Error values with Code apperr.Invalid and
// Field set to the JSON name of the offending field.
package customer
