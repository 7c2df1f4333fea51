package projection

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"insure/internal/apperr"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/keyring"
	"insure/internal/personal"
)

// The customers read model holds the personal columns (name, email, phone,
// date_of_birth) sealed with the vault, under the customer as the subject
// and "customers.<column>" as the field. Search goes through blind indexes:
// customers.email_index, customers.phone_index and one customer_name_tokens
// row per token of the name. An erased customer keeps no personal value and
// no index: only erased_at says what happened.

// The SQL of the customers read model, as templates: "{customers}" and
// "{customer_name_tokens}" stand for the tables of a target (see render).
// Every statement is fixed; no column or condition is built from input.
const (
	tmplInsertCustomer = `INSERT INTO {customers} (id, name, email, phone, date_of_birth, channel, pref_email, pref_whatsapp, email_verified,
		email_index, phone_index, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE, $9, $10, $11, $12, $12)`
	tmplCustomerVerified    = `UPDATE {customers} SET email_verified = TRUE, version = $2, updated_at = $3 WHERE id = $1`
	tmplCustomerName        = `UPDATE {customers} SET name = $2 WHERE id = $1`
	tmplCustomerEmail       = `UPDATE {customers} SET email = $2, email_index = $3, email_verified = FALSE WHERE id = $1`
	tmplCustomerPhone       = `UPDATE {customers} SET phone = $2, phone_index = $3 WHERE id = $1`
	tmplCustomerDateOfBirth = `UPDATE {customers} SET date_of_birth = $2 WHERE id = $1`
	tmplCustomerPrefEmail   = `UPDATE {customers} SET pref_email = $2 WHERE id = $1`
	tmplCustomerPrefWA      = `UPDATE {customers} SET pref_whatsapp = $2 WHERE id = $1`
	tmplCustomerVersion     = `UPDATE {customers} SET version = $2, updated_at = $3 WHERE id = $1`
	tmplCustomerErased      = `UPDATE {customers} SET name = '', email = '', phone = '', date_of_birth = NULL,
		email_index = '', phone_index = '', erased_at = $2, version = $3, updated_at = $4 WHERE id = $1`
	tmplDeleteNameTokens = `DELETE FROM {customer_name_tokens} WHERE customer_id = $1`
	// tmplInsertNameTokens is followed by one "($1, $n)" per token, then
	// " ON CONFLICT DO NOTHING": all of a name's tokens in one statement.
	tmplInsertNameTokens = `INSERT INTO {customer_name_tokens} (customer_id, token) VALUES `
)

// The statements Reindex runs on the live tables (and on the command
// side's customer_emails claims, which are not a read model).
const (
	sqlCustomerIndexes   = `UPDATE customers SET email_index = $2, phone_index = $3 WHERE id = $1`
	sqlDeleteEmailClaims = `DELETE FROM customer_emails WHERE customer_id = $1`
	sqlInsertEmailClaim  = `INSERT INTO customer_emails (email_index, customer_id) VALUES ($1, $2)`
)

// customerSQL is the customers read model's SQL for one target.
type customerSQL struct {
	insert, verified, name, email, phone, dateOfBirth, prefEmail, prefWA, version, erased string
	tokens                                                                                nameTokenSQL
}

// nameTokenSQL replaces a customer's name tokens in one target.
type nameTokenSQL struct{ delete, insertPrefix string }

var customerTables = []string{"customers", "customer_name_tokens"}

func customerStatements(to Target) customerSQL {
	r := func(s string) string { return render(s, to, customerTables...) }
	return customerSQL{
		insert: r(tmplInsertCustomer), verified: r(tmplCustomerVerified), name: r(tmplCustomerName), email: r(tmplCustomerEmail),
		phone: r(tmplCustomerPhone), dateOfBirth: r(tmplCustomerDateOfBirth), prefEmail: r(tmplCustomerPrefEmail),
		prefWA: r(tmplCustomerPrefWA), version: r(tmplCustomerVersion), erased: r(tmplCustomerErased),
		tokens: nameTokenSQL{delete: r(tmplDeleteNameTokens), insertPrefix: r(tmplInsertNameTokens)},
	}
}

// liveNameTokens is what Reindex replaces name tokens with.
var liveNameTokens = customerStatements(Live).tokens

const customerCols = `id, name, email, phone, date_of_birth, channel, pref_email, pref_whatsapp, email_verified, version, created_at, updated_at, erased_at`

// maxNameTokens is how many words a name search may have: each is one
// condition of sqlSearchCustomers ($4 to $11).
const maxNameTokens = 8

// sqlSearchCustomers lists customers after the id $1 in id order, only
// those whose blind indexes match the filters that are set (not empty): email $2,
// phone $3, and every name token $4 to $11. $12 is the limit.
const sqlSearchCustomers = `SELECT ` + customerCols + ` FROM customers c
	WHERE c.id > $1
	AND ($2 = '' OR c.email_index = $2)
	AND ($3 = '' OR c.phone_index = $3)
	AND ($4 = '' OR EXISTS (SELECT 1 FROM customer_name_tokens t WHERE t.token = $4 AND t.customer_id = c.id))
	AND ($5 = '' OR EXISTS (SELECT 1 FROM customer_name_tokens t WHERE t.token = $5 AND t.customer_id = c.id))
	AND ($6 = '' OR EXISTS (SELECT 1 FROM customer_name_tokens t WHERE t.token = $6 AND t.customer_id = c.id))
	AND ($7 = '' OR EXISTS (SELECT 1 FROM customer_name_tokens t WHERE t.token = $7 AND t.customer_id = c.id))
	AND ($8 = '' OR EXISTS (SELECT 1 FROM customer_name_tokens t WHERE t.token = $8 AND t.customer_id = c.id))
	AND ($9 = '' OR EXISTS (SELECT 1 FROM customer_name_tokens t WHERE t.token = $9 AND t.customer_id = c.id))
	AND ($10 = '' OR EXISTS (SELECT 1 FROM customer_name_tokens t WHERE t.token = $10 AND t.customer_id = c.id))
	AND ($11 = '' OR EXISTS (SELECT 1 FROM customer_name_tokens t WHERE t.token = $11 AND t.customer_id = c.id))
	ORDER BY c.id LIMIT $12`

// customerField is the field a customers column is sealed as.
func customerField(column string) string { return "customers." + column }

var errNoVault = errors.New("projection: no personal.Vault configured: pass one to ReadModels (or set Projector.Vault) and to NewReader")

// customers is the customers read model (with customer_name_tokens). vault
// seals the personal columns and computes the blind indexes.
type customers struct {
	vault *personal.Vault
	sql   [len(targets)]customerSQL
}

func newCustomers(vault *personal.Vault) *customers {
	c := &customers{vault: vault}
	for _, to := range targets {
		c.sql[to] = customerStatements(to)
	}
	return c
}

func (*customers) Name() string { return NameCustomers }

func (*customers) Events() []string {
	return []string{customer.EventRegistered, customer.EventEmailVerified, customer.EventProfileUpdated, customer.EventErased}
}

func (*customers) Tables() []string { return customerTables }

// Apply updates the customers read model for a customer event.
func (c *customers) Apply(ctx context.Context, tx database.Tx, to Target, env event.Envelope, p event.Payload) error {
	at := env.OccurredAt.UTC()
	v := env.AggregateVersion
	s := &c.sql[to]
	if e, ok := event.As[customer.Registered](p); ok {
		return c.registered(ctx, tx, s, e, v, at)
	}
	if e, ok := event.As[customer.EmailVerified](p); ok {
		_, err := tx.Exec(ctx, s.verified, e.CustomerID, v, at)
		return err
	}
	if e, ok := event.As[customer.ProfileUpdated](p); ok {
		return c.profileUpdated(ctx, tx, s, e, v, at)
	}
	if e, ok := event.As[customer.PersonalDataErased](p); ok {
		if _, err := tx.Exec(ctx, s.erased, e.CustomerID, e.ErasedAt.UTC(), v, at); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, s.tokens.delete, e.CustomerID)
		return err
	}
	return nil
}

func (c *customers) registered(ctx context.Context, tx database.Tx, s *customerSQL, e customer.Registered, v int64, at time.Time) error {
	if c.vault == nil {
		return errNoVault
	}
	id := e.CustomerID
	name, err := c.seal(ctx, tx, id, "name", e.Name)
	if err != nil {
		return err
	}
	email, err := c.seal(ctx, tx, id, "email", e.Email)
	if err != nil {
		return err
	}
	phone, err := c.seal(ctx, tx, id, "phone", e.Phone)
	if err != nil {
		return err
	}
	dob, err := c.sealDateOfBirth(ctx, tx, id, e.DateOfBirth)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, s.insert, id, name, email, phone, dob, e.Channel, e.Preferences.Email, e.Preferences.WhatsApp,
		c.vault.Index(personal.KindEmail, e.Email), c.vault.Index(personal.KindPhone, e.Phone), v, at); err != nil {
		return err
	}
	// A new customer has no tokens to replace.
	return insertNameTokens(ctx, tx, s.tokens, c.vault, id, e.Name)
}

func (c *customers) profileUpdated(ctx context.Context, tx database.Tx, s *customerSQL, e customer.ProfileUpdated, v int64, at time.Time) error {
	if c.vault == nil {
		return errNoVault
	}
	// Refuse the whole event before changing anything when it names a field
	// the read model does not know.
	fields := slices.Sorted(maps.Keys(e.Changes))
	for _, f := range fields {
		switch f {
		case customer.FieldName, customer.FieldEmail, customer.FieldPhone, customer.FieldDateOfBirth,
			customer.FieldPreferencesEmail, customer.FieldPreferencesWA:
		default:
			return fmt.Errorf("customer change of unknown field %q", f)
		}
	}
	id := e.CustomerID
	for _, f := range fields {
		if err := c.change(ctx, tx, s, id, f, e.Changes[f].New); err != nil {
			return fmt.Errorf("customer change of %s: %w", f, err)
		}
	}
	_, err := tx.Exec(ctx, s.version, id, v, at)
	return err
}

// change applies the new value of one known field.
func (c *customers) change(ctx context.Context, tx database.Tx, s *customerSQL, id, field string, value any) error {
	switch field {
	case customer.FieldPreferencesEmail, customer.FieldPreferencesWA:
		b, ok := value.(bool)
		if !ok {
			return fmt.Errorf("new value is %T, not a boolean", value)
		}
		q := s.prefEmail
		if field == customer.FieldPreferencesWA {
			q = s.prefWA
		}
		_, err := tx.Exec(ctx, q, id, b)
		return err
	}
	str, ok := value.(string)
	if !ok {
		return fmt.Errorf("new value is %T, not a string", value)
	}
	switch field {
	case customer.FieldName:
		sealed, err := c.seal(ctx, tx, id, "name", str)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, s.name, id, sealed); err != nil {
			return err
		}
		return replaceNameTokens(ctx, tx, s.tokens, c.vault, id, str)
	case customer.FieldEmail:
		sealed, err := c.seal(ctx, tx, id, "email", str)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, s.email, id, sealed, c.vault.Index(personal.KindEmail, str))
		return err
	case customer.FieldPhone:
		sealed, err := c.seal(ctx, tx, id, "phone", str)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, s.phone, id, sealed, c.vault.Index(personal.KindPhone, str))
		return err
	default: // customer.FieldDateOfBirth
		dob, err := c.sealDateOfBirth(ctx, tx, id, str)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, s.dateOfBirth, id, dob)
		return err
	}
}

// seal seals one personal column. A value that reads event.Erased (an
// erased customer's event, replayed) is stored empty: there is nothing
// left to seal, and the subject's key is gone.
func (c *customers) seal(ctx context.Context, tx database.Tx, id, column, value string) (string, error) {
	if value == event.Erased {
		return "", nil
	}
	return c.vault.Seal(ctx, tx, id, customerField(column), value)
}

// sealDateOfBirth seals a date of birth; none ("" or erased) is NULL.
func (c *customers) sealDateOfBirth(ctx context.Context, tx database.Tx, id, dob string) (*string, error) {
	if dob == "" || dob == event.Erased {
		return nil, nil
	}
	sealed, err := c.seal(ctx, tx, id, "date_of_birth", dob)
	if err != nil {
		return nil, err
	}
	return &sealed, nil
}

// replaceNameTokens makes the customer's name tokens those of name.
func replaceNameTokens(ctx context.Context, tx database.Tx, s nameTokenSQL, vault *personal.Vault, id, name string) error {
	if _, err := tx.Exec(ctx, s.delete, id); err != nil {
		return fmt.Errorf("name tokens of customer %s: %w", id, err)
	}
	return insertNameTokens(ctx, tx, s, vault, id, name)
}

// insertNameTokens adds the tokens of name to the customer's, in one
// statement.
func insertNameTokens(ctx context.Context, tx database.Tx, s nameTokenSQL, vault *personal.Vault, id, name string) error {
	toks := vault.NameIndexes(name)
	if len(toks) == 0 {
		return nil
	}
	var q strings.Builder
	q.WriteString(s.insertPrefix)
	args := make([]any, 0, len(toks)+1)
	args = append(args, id)
	for i, tok := range toks {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("($1, $" + strconv.Itoa(i+2) + ")")
		args = append(args, tok)
	}
	q.WriteString(" ON CONFLICT DO NOTHING")
	if _, err := tx.Exec(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("name tokens of customer %s: %w", id, err)
	}
	return nil
}

// CustomerFilter narrows a customer list. Every field is optional; the
// ones given must all match. Matching is exact on the normalised value,
// through blind indexes: Email case-insensitively (customer.NormalizeEmail),
// Phone in any formatting of the same number (customer.NormalizePhone), and
// Name by words: a customer matches when their name has every word of Name,
// in any order and case ("rao asha" finds "Asha Rao"; see
// keyring.NameTokens). Erased customers match no filter.
type CustomerFilter struct {
	Email string
	Phone string
	Name  string
}

// customerRow is a customers row as stored: personal values sealed.
type customerRow struct {
	c                  Customer
	name, email, phone string
	dob                *string
	erasedAt           *time.Time
}

func scanCustomer(row database.Row) (customerRow, error) {
	var r customerRow
	c := &r.c
	err := row.Scan(&c.ID, &r.name, &r.email, &r.phone, &r.dob, &c.Channel, &c.Preferences.Email, &c.Preferences.WhatsApp,
		&c.EmailVerified, &c.Version, &c.CreatedAt, &c.UpdatedAt, &r.erasedAt)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return r, err
}

// open returns the customer with their personal values opened. An erased
// customer reads event.Erased, without a date of birth.
func (r *Reader) open(ctx context.Context, q database.Querier, row customerRow) (Customer, error) {
	c := row.c
	if row.erasedAt != nil {
		at := row.erasedAt.UTC()
		c.Erased, c.ErasedAt = true, &at
		c.Name, c.Email, c.Phone, c.DateOfBirth = event.Erased, event.Erased, event.Erased, nil
		return c, nil
	}
	if r.vault == nil {
		return c, errNoVault
	}
	var err error
	for _, f := range []struct {
		column string
		in     string
		out    *string
	}{{"name", row.name, &c.Name}, {"email", row.email, &c.Email}, {"phone", row.phone, &c.Phone}} {
		if *f.out, err = r.vault.Open(ctx, q, c.ID, customerField(f.column), f.in); err != nil {
			return c, fmt.Errorf("customer %s: %w", c.ID, err)
		}
	}
	if row.dob != nil {
		dob, err := r.vault.Open(ctx, q, c.ID, customerField("date_of_birth"), *row.dob)
		if err != nil {
			return c, fmt.Errorf("customer %s: %w", c.ID, err)
		}
		c.DateOfBirth = &dob
	}
	return c, nil
}

// Customer returns one customer. q is the caller's transaction, or nil for
// the reader's database.
func (r *Reader) Customer(ctx context.Context, q database.Querier, id string) (Customer, error) {
	if q == nil {
		q = r.db
	}
	if !event.ValidID(id) {
		return Customer{}, notFound("customer", id)
	}
	row, err := scanCustomer(q.QueryRow(ctx, `SELECT `+customerCols+` FROM customers WHERE id = $1`, id))
	if errors.Is(err, database.ErrNoRows) {
		return Customer{}, notFound("customer", id)
	}
	if err != nil {
		return Customer{}, fmt.Errorf("customer %s: %w", id, err)
	}
	return r.open(ctx, q, row)
}

// Customers lists the customers that match filter in registration order
// (ids are time-ordered UUIDv7), after the given id, and returns the cursor
// of the next page ("" when there is none).
//
// Errors: apperr.Invalid naming "after" for a cursor this method did not
// give out, "phone" for a phone number that is not one
// (customer.NormalizePhone), "name" for a name with no letters or digits or
// with more than 8 words.
func (r *Reader) Customers(ctx context.Context, filter CustomerFilter, after string, limit int) ([]Customer, string, error) {
	limit = clampLimit(limit, 50, 200)
	if after != "" && !event.ValidID(after) {
		return nil, "", apperr.Field("after", "is not a cursor returned by this endpoint")
	}
	if r.vault == nil {
		return nil, "", errNoVault
	}
	idx, match, err := r.searchIndexes(filter)
	if err != nil {
		return nil, "", err
	}
	if !match {
		return []Customer{}, "", nil
	}
	args := make([]any, 0, 12)
	args = append(args, after, idx.email, idx.phone)
	for i := range maxNameTokens {
		tok := ""
		if i < len(idx.names) {
			tok = idx.names[i]
		}
		args = append(args, tok)
	}
	args = append(args, limit+1)
	rows, err := r.db.Query(ctx, sqlSearchCustomers, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list customers: %w", err)
	}
	found, err := collectCustomers(rows)
	if err != nil {
		return nil, "", fmt.Errorf("list customers: %w", err)
	}
	out := make([]Customer, 0, len(found))
	for _, row := range found {
		c, err := r.open(ctx, r.db, row)
		if err != nil {
			return nil, "", fmt.Errorf("list customers: %w", err)
		}
		out = append(out, c)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// collectCustomers reads every row and closes rows, so that opening the
// values (which queries the data keys) does not hold a connection twice.
func collectCustomers(rows database.Rows) ([]customerRow, error) {
	defer rows.Close()
	var out []customerRow
	for rows.Next() {
		row, err := scanCustomer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// searchIndexes are the blind indexes a filter searches for; "" means any.
type searchIndexes struct {
	email, phone string
	names        []string
}

// searchIndexes normalises the filter and computes its blind indexes.
// match is false when a filter is given that no customer can match (a
// value that has no index, such as event.Erased).
func (r *Reader) searchIndexes(f CustomerFilter) (idx searchIndexes, match bool, err error) {
	if email := customer.NormalizeEmail(f.Email); email != "" {
		if idx.email = r.vault.Index(personal.KindEmail, email); idx.email == "" {
			return idx, false, nil
		}
	}
	if strings.TrimSpace(f.Phone) != "" {
		phone, err := customer.NormalizePhone(f.Phone)
		if err != nil {
			return idx, false, err
		}
		if idx.phone = r.vault.Index(personal.KindPhone, phone); idx.phone == "" {
			return idx, false, nil
		}
	}
	if strings.TrimSpace(f.Name) != "" {
		toks := keyring.NameTokens(f.Name)
		switch {
		case len(toks) == 0:
			return idx, false, apperr.Field("name", "has no letters or digits to search for")
		case len(toks) > maxNameTokens:
			return idx, false, apperr.Field("name", "has %d words; search with at most %d", len(toks), maxNameTokens)
		}
		for _, t := range toks {
			i := r.vault.Index(personal.KindNameToken, t)
			if i == "" {
				return idx, false, nil
			}
			idx.names = append(idx.names, i)
		}
	}
	return idx, true, nil
}
