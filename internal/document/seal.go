package document

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"insure/internal/database"
	"insure/internal/keyring"
)

// Sealer encrypts documents at rest under the data key of the person they
// are about: what a [FileStore] needs of a keyring (*keyring.Keyring, whose
// documentation describes the scheme). q is the database that holds the data
// keys.
type Sealer interface {
	Seal(ctx context.Context, q database.Querier, subjectID, field, plaintext string) (string, error)
	Open(ctx context.Context, q database.Querier, subjectID, field, sealed string) (string, error)
}

var _ Sealer = (*keyring.Keyring)(nil)

// The format of a sealed document file:
//
//	insure-sealed-document/v1 subject=<subject id>\n
//	enc:v1:<base64url(nonce|ciphertext|tag)>\n
//
// The first line says what the file is and whose data key sealed it; the
// second is the PDF sealed by [Sealer.Seal] under that subject with the
// field "document:<id>". The subject and field are bound into the
// ciphertext, so a header edited to name another subject, or a file moved
// to another id, does not open.
const (
	sealedTag     = "insure-sealed-document/"
	sealedVersion = "v1"
	sealedHeader  = sealedTag + sealedVersion + " subject="
	pdfMagic      = "%PDF-"
)

// sealedField is the field a document is sealed as: it ties the ciphertext
// to the document id.
func sealedField(id string) string { return "document:" + id }

// encodeSealed returns the content of a sealed document file.
func encodeSealed(subjectID, sealed string) []byte {
	var b bytes.Buffer
	b.Grow(len(sealedHeader) + len(subjectID) + len(sealed) + 2)
	b.WriteString(sealedHeader)
	b.WriteString(subjectID)
	b.WriteByte('\n')
	b.WriteString(sealed)
	b.WriteByte('\n')
	return b.Bytes()
}

// isSealedFile reports whether raw starts like a sealed document file (of
// any version).
func isSealedFile(raw []byte) bool {
	return bytes.HasPrefix(raw, []byte(sealedTag))
}

// decodeSealed parses a sealed document file into the subject named in its
// header and the sealed value. It checks the form only; the sealer checks
// that the value is genuine.
func decodeSealed(raw []byte) (subjectID, sealed string, err error) {
	header, body, ok := bytes.Cut(raw, []byte("\n"))
	if !ok {
		return "", "", errors.New("sealed document file has no header line")
	}
	rest, ok := bytes.CutPrefix(header, []byte(sealedHeader))
	if !ok {
		if v, _, _ := bytes.Cut(bytes.TrimPrefix(header, []byte(sealedTag)), []byte(" ")); len(v) > 0 && string(v) != sealedVersion {
			return "", "", fmt.Errorf("sealed document file has version %q, this program reads %s: upgrade it", truncate(string(v), 16), sealedVersion)
		}
		return "", "", fmt.Errorf("sealed document file has a malformed header (want %q followed by the subject id)", sealedHeader)
	}
	subjectID = string(rest)
	if err := validateSubject(subjectID); err != nil {
		return "", "", fmt.Errorf("sealed document file header: %w", err)
	}
	body, ok = bytes.CutSuffix(body, []byte("\n"))
	if !ok || bytes.ContainsAny(body, "\r\n") || !keyring.IsSealed(string(body)) {
		return "", "", fmt.Errorf("sealed document file: the line after the header must be one sealed value (%s...)", keyring.SealedPrefix)
	}
	return subjectID, string(body), nil
}

// validateSubject checks a subject id can be written on the header line:
// not empty, printable ASCII without spaces, at most 128 bytes.
func validateSubject(subjectID string) error {
	if subjectID == "" {
		return errors.New("empty subject id: give the id of the customer the document is about")
	}
	if len(subjectID) > 128 {
		return fmt.Errorf("subject id %q is longer than 128 bytes", truncate(subjectID, 64))
	}
	for i := 0; i < len(subjectID); i++ {
		if c := subjectID[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("subject id %q has a byte 0x%02x at position %d: want printable ASCII without spaces", truncate(subjectID, 64), c, i+1)
		}
	}
	return nil
}
