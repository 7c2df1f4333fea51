package keyring

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"insure/internal/database"
)

// SealedPrefix starts every sealed value: the scheme and its version.
const SealedPrefix = "enc:v1:"

// sealedOverhead is what AES-GCM adds: a 12-byte nonce and a 16-byte tag.
const sealedOverhead = 12 + 16

// IsSealed reports whether s looks like a value produced by Seal (it has the
// prefix; only Open can tell whether it is genuine). "" is not sealed.
func IsSealed(s string) bool {
	return strings.HasPrefix(s, SealedPrefix)
}

// Seal encrypts plaintext, the value of field for the subject, under the
// subject's data key (created on first use) and returns
// "enc:v1:" + base64url(nonce|ciphertext|tag) without padding. The subject
// and field are bound into the ciphertext as additional data, so the value
// opens only for that subject and field. Sealing the same value twice gives
// different results (random nonce): compare values with a blind index.
//
// The empty plaintext seals to "" — there is nothing to hide — and touches
// no key, so it can be used for an erased subject too.
//
// q is the database or the caller's transaction.
//
// Errors: ErrErased when the subject's key was destroyed; those of DataKey.
func (k *Keyring) Seal(ctx context.Context, q database.Querier, subjectID, field, plaintext string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	if field == "" {
		return "", errors.New("keyring: seal: empty field name")
	}
	key, err := k.dataKey(ctx, q, subjectID, true)
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", field, err)
	}
	ct, err := aeadSeal(key, fieldAAD(subjectID, field), []byte(plaintext))
	if err != nil {
		return "", fmt.Errorf("seal %s of subject %s: %w", field, subjectID, err)
	}
	return SealedPrefix + base64.RawURLEncoding.EncodeToString(ct), nil
}

// Open decrypts a value Seal produced for the same subject and field. ""
// opens to "". It never panics, whatever sealed holds.
//
// Errors: ErrMalformed when sealed is not a sealed value; ErrErased when the
// subject's key was destroyed; ErrTampered when the value was altered or
// sealed for another subject or field; ErrNoDataKey when the subject has no
// key; ErrMasterKeyMismatch and database errors from loading the key. No
// error includes the sealed text.
func (k *Keyring) Open(ctx context.Context, q database.Querier, subjectID, field, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	ct, err := decodeSealed(sealed)
	if err != nil {
		return "", fmt.Errorf("open %s of subject %s: %w", field, subjectID, err)
	}
	key, err := k.dataKey(ctx, q, subjectID, false)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", field, err)
	}
	pt, err := aeadOpen(key, fieldAAD(subjectID, field), ct)
	if err != nil {
		return "", fmt.Errorf("open %s of subject %s: %w", field, subjectID, ErrTampered)
	}
	return string(pt), nil
}

// decodeSealed checks the prefix and returns nonce|ciphertext|tag.
func decodeSealed(sealed string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, SealedPrefix)
	if !ok {
		if strings.HasPrefix(sealed, "enc:") {
			return nil, fmt.Errorf("%w: unknown version (want %q)", ErrMalformed, SealedPrefix)
		}
		return nil, fmt.Errorf("%w: it does not start with %q", ErrMalformed, SealedPrefix)
	}
	ct, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: the payload is not unpadded base64url", ErrMalformed)
	}
	if len(ct) <= sealedOverhead {
		return nil, fmt.Errorf("%w: the payload is %d bytes, shorter than a nonce, a tag and one byte", ErrMalformed, len(ct))
	}
	return ct, nil
}

// fieldAAD binds a sealed value to its subject and field. The subject is
// also bound by its own key, so the join cannot be confused.
func fieldAAD(subjectID, field string) []byte {
	return []byte(subjectID + "|" + field)
}
