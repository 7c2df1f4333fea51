package keyring

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
)

// Kinds of blind index. Each has its own key, so an email and a phone
// number that happen to be equal strings do not index alike.
const (
	KindEmail     = "email"
	KindPhone     = "phone"
	KindNameToken = "name_token" // one per NameTokens token
)

// BlindIndex returns a keyed hash of normalized for equality search on
// sealed data: the hex HMAC-SHA256 of normalized under a key derived from
// the master key for "blind index v1|" + kind. It is deterministic for a
// master key and kind, and differs between kinds and between master keys
// (so blind indexes must be recomputed after Rotate).
//
// The caller normalizes (lower-cased email, E.164 phone, NameTokens): the
// index matches exact strings only. The empty string has no index: it
// returns "", as does a keyring with no master key.
func (k *Keyring) BlindIndex(kind, normalized string) string {
	if normalized == "" || k.master.IsZero() {
		return ""
	}
	key, ok := k.blind[kind]
	if !ok {
		key = deriveKey(k.master, blindIndexPrefix+kind)
	}
	mac := hmac.New(sha256.New, key[:])
	mac.Write([]byte(normalized))
	return hex.EncodeToString(mac.Sum(nil))
}

// NameTokens splits a name into the tokens a name search matches on:
// lower-cased runs of Unicode letters and digits (combining marks stay with
// their letter), split on everything else (spaces, hyphens, apostrophes,
// punctuation), each once, in order of first appearance. "Ana-María
// O'Neil" gives [ana maría o neil]. It does not fold accents or Unicode
// normalization forms, nor split scripts written without spaces.
func NameTokens(name string) []string {
	fields := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
	})
	seen := make(map[string]bool, len(fields))
	out := fields[:0]
	for _, f := range fields {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
