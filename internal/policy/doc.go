// Package policy is the Policy aggregate: an issued insurance policy, its
// renewals and its expiry warnings.
//
// A policy stream starts with PolicyCreated and may be followed by
// PolicyRenewed and PolicyExpiringWarning events. Policy dates are calendar
// days (Date, "YYYY-MM-DD" in JSON); amounts are int64 minor units with a
// currency code.
//
// # Status
//
// On a given day a policy is "scheduled" before its start date, "expired"
// after its end date, "expiring" with 0 to 30 days left, and "active"
// otherwise. A policy renewed before its end is still in force on the old
// term until the new one starts, so it is not "scheduled" then.
//
// # Rules
//
//   - CreatePolicy: customer_id (and quotation_id when given) are UUIDs;
//     insurer is a code of a-z, 0-9, _ and -, at most 64 characters; product
//     is "motor" or "health"; premium and sum_insured are 1..10^15; currency
//     is three upper-case letters; the policy ends after it starts and lasts
//     at most 5 years. The policy number comes from the id (NumberFor).
//   - Renew: only an "active" or "expiring" policy, not already renewed for
//     a term that has yet to start; anything else is apperr.Conflict. The
//     new term starts on the old end date and ends one year later unless
//     another end date is given; premium and sum insured default to the
//     current ones. A renewal forgets the warnings of the old term.
//   - WarnExpiry: at most one warning per threshold (30, 15, 7 and 1 days)
//     per term, for the smallest threshold the days left fall under, and
//     none once that or a smaller threshold was warned about. A policy first
//     seen 10 days before its end gets the 15-day warning and no 30-day one.
//
// Decision methods return the events to record and never change the
// aggregate; state is rebuilt only from events (Rebuild, Apply).
package policy
