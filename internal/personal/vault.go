package personal

import (
	"context"
	"fmt"

	"insure/internal/database"
	"insure/internal/event"
	"insure/internal/keyring"
)

// Kinds of blind index (keyed hashes for equality search on sealed data).
const (
	KindEmail     = keyring.KindEmail
	KindPhone     = keyring.KindPhone
	KindNameToken = keyring.KindNameToken
)

// Vault seals and opens the personal values of read models and stored
// message copies, and computes their blind indexes. A value is sealed under
// its subject (the customer) with its place ("customers.name") as the field.
// It is safe for concurrent use.
type Vault struct{ keys Keys }

// NewVault returns a vault on keys.
func NewVault(keys Keys) *Vault { return &Vault{keys: keys} }

// Seal seals value for subjectID in field; "" stays "". q is the caller's
// transaction when it has one: a subject's first seal creates their key.
// Sealing for an erased subject fails (keyring.ErrErased).
func (v *Vault) Seal(ctx context.Context, q database.Querier, subjectID, field, value string) (string, error) {
	if value == "" {
		return "", nil
	}
	out, err := v.keys.Seal(ctx, q, subjectID, field, value)
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", field, err)
	}
	return out, nil
}

// Open opens a value Seal made. An erased subject's value reads
// event.Erased; a value that is not sealed is returned as it is.
func (v *Vault) Open(ctx context.Context, q database.Querier, subjectID, field, value string) (string, error) {
	out, err := openValue(ctx, v.keys, q, subjectID, field, value)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", field, err)
	}
	return out, nil
}

// Index returns the blind index of a normalized value of kind (KindEmail,
// KindPhone, KindNameToken): "" for "" or event.Erased.
func (v *Vault) Index(kind, normalized string) string {
	if normalized == event.Erased {
		return ""
	}
	return v.keys.BlindIndex(kind, normalized)
}

// NameIndexes returns the blind indexes of the tokens of name (see
// keyring.NameTokens), each once.
func (v *Vault) NameIndexes(name string) []string {
	if name == event.Erased {
		return nil
	}
	toks := keyring.NameTokens(name)
	out := make([]string, 0, len(toks))
	for _, t := range toks {
		out = append(out, v.keys.BlindIndex(KindNameToken, t))
	}
	return out
}
