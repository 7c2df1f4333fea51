package document

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"insure/internal/database"
	"insure/internal/keyring"
)

// ContentTypePDF is the content type of every stored document.
const ContentTypePDF = "application/pdf"

const (
	dirPerm  = 0o750
	filePerm = 0o640
)

var (
	// ErrNotFound is returned when no document is stored under an id.
	ErrNotFound = errors.New("document not found")

	// ErrInvalidID is returned when a document id is not a canonical
	// lowercase UUID (8-4-4-4-12 hex digits).
	ErrInvalidID = errors.New("invalid document id")

	// ErrErased is returned by [FileStore.Open] (and Put) when the document
	// holds personal data of a subject whose data was erased: the key it
	// was sealed under is destroyed, so it can never be read again.
	ErrErased = errors.New("personal data erased")
)

// Stored describes a document kept by a [FileStore].
type Stored struct {
	ID          string
	Path        string // absolute path of the file
	Size        int64  // bytes of the PDF (not of the file, which may be sealed)
	SHA256      string // lowercase hex digest of the PDF
	ContentType string // always [ContentTypePDF]
}

// FileStore keeps PDF documents in a directory on the local disk, one file
// per id at <dir>/<id[0:2]>/<id>.pdf. It is safe for concurrent use, also by
// several processes sharing the directory: readers see either the old or the
// new complete file, never a partial one.
//
// With a [Sealer], each document is encrypted at rest under the data key of
// the customer it is about, so destroying that key (an erasure) makes the
// file unreadable. Such a file is not a PDF but two text lines:
//
//	insure-sealed-document/v1 subject=<subject id>
//	enc:v1:<base64url(nonce|ciphertext|tag)>
//
// the second being the PDF sealed under the subject with the field
// "document:<id>". Open also reads files holding a plain PDF, as stores
// without a sealer (and earlier versions) write them.
type FileStore struct {
	dir    string
	sealer Sealer      // nil: documents are stored as plain PDFs
	db     database.DB // where sealer keeps the data keys
}

// NewFileStore returns a store rooted at dir, creating it (mode 0750) if it
// does not exist. It returns an error if dir is empty, is not a directory, or
// cannot be written to.
//
// sealer (a *keyring.Keyring) encrypts the documents at rest under data keys
// it keeps in db; db is the database itself, not a transaction, since a
// document outlives any one transaction. With a nil sealer (and db) the
// store writes plain PDFs and cannot open sealed ones: for tests and tools
// only, since the PDFs hold customers' personal data.
func NewFileStore(dir string, sealer Sealer, db database.DB) (*FileStore, error) {
	if dir == "" {
		return nil, errors.New("document: store directory is empty: set it to a writable directory")
	}
	if sealer != nil && db == nil {
		return nil, errors.New("document: a sealer needs the database that holds its data keys; pass it to NewFileStore")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("document: resolve store directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("document: create store directory %s: %w", abs, err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("document: store directory %s: %w", abs, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("document: store directory %s is not a directory", abs)
	}
	probe, err := os.CreateTemp(abs, ".write-probe-*")
	if err != nil {
		return nil, fmt.Errorf("document: store directory %s is not writable (check its owner and mode): %w", abs, err)
	}
	name := probe.Name()
	closeErr := probe.Close()
	removeErr := os.Remove(name)
	if err := errors.Join(closeErr, removeErr); err != nil {
		return nil, fmt.Errorf("document: store directory %s is not usable: %w", abs, err)
	}
	return &FileStore{dir: abs, sealer: sealer, db: db}, nil
}

// Dir returns the absolute directory the store writes to.
func (s *FileStore) Dir() string { return s.dir }

// Path returns where the document with the given id is (or would be) stored.
// It does not check that the file exists. It returns an error wrapping
// [ErrInvalidID] if id is not a canonical lowercase UUID.
func (s *FileStore) Path(id string) (string, error) {
	if err := ValidateID(id); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, id[:2], id+".pdf"), nil
}

// Put stores data as the PDF document id about subjectID (the customer whose
// personal data it holds), replacing any earlier version atomically: the
// content is written to a temporary file in the target directory, synced,
// renamed into place, and the directory is synced. Putting the same id twice
// is safe; the second put replaces the first. With a sealer the content is
// sealed under subjectID first (see [FileStore]); the Stored returned
// describes the PDF either way.
//
// It returns an error wrapping [ErrInvalidID] for a bad id, an error if data
// is not a PDF (it must start with "%PDF-") or subjectID is empty or not
// printable ASCII, one wrapping [ErrErased] if the subject's data was erased
// (the sealer will not seal for them again), the sealer's errors, or the
// context's error if ctx is done before the file is renamed into place.
func (s *FileStore) Put(ctx context.Context, id, subjectID string, data []byte) (Stored, error) {
	path, err := s.Path(id)
	if err != nil {
		return Stored{}, err
	}
	if !bytes.HasPrefix(data, []byte(pdfMagic)) {
		return Stored{}, fmt.Errorf("document: put %s: data is not a PDF (it must start with %%PDF-)", id)
	}
	if err := validateSubject(subjectID); err != nil {
		return Stored{}, fmt.Errorf("document: put %s: %w", id, err)
	}
	if err := ctx.Err(); err != nil {
		return Stored{}, fmt.Errorf("document: put %s: %w", id, err)
	}
	content, err := s.seal(ctx, id, subjectID, data)
	if err != nil {
		return Stored{}, fmt.Errorf("document: put %s: %w", id, err)
	}

	sub := filepath.Dir(path)
	if err := s.ensureSubdir(sub); err != nil {
		return Stored{}, fmt.Errorf("document: put %s: %w", id, err)
	}

	tmp, err := os.CreateTemp(sub, "."+id+".*.tmp")
	if err != nil {
		return Stored{}, fmt.Errorf("document: put %s: create temporary file: %w", id, err)
	}
	tmpName := tmp.Name()
	renamed := false
	defer func() {
		if !renamed {
			_ = tmp.Close() // may already be closed; the write error is what matters
			_ = os.Remove(tmpName)
		}
	}()

	if _, err := tmp.Write(content); err != nil {
		return Stored{}, fmt.Errorf("document: put %s: write: %w", id, err)
	}
	if err := tmp.Chmod(filePerm); err != nil {
		return Stored{}, fmt.Errorf("document: put %s: chmod: %w", id, err)
	}
	if err := tmp.Sync(); err != nil {
		return Stored{}, fmt.Errorf("document: put %s: sync: %w", id, err)
	}
	if err := tmp.Close(); err != nil {
		return Stored{}, fmt.Errorf("document: put %s: close: %w", id, err)
	}
	if err := ctx.Err(); err != nil {
		return Stored{}, fmt.Errorf("document: put %s: %w", id, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return Stored{}, fmt.Errorf("document: put %s: rename into place: %w", id, err)
	}
	renamed = true
	if err := syncDir(sub); err != nil {
		return Stored{}, fmt.Errorf("document: put %s: %w", id, err)
	}

	sum := sha256.Sum256(data)
	return Stored{
		ID:          id,
		Path:        path,
		Size:        int64(len(data)),
		SHA256:      hex.EncodeToString(sum[:]),
		ContentType: ContentTypePDF,
	}, nil
}

// seal returns what Put writes for data: the sealed file, or data itself
// without a sealer.
func (s *FileStore) seal(ctx context.Context, id, subjectID string, data []byte) ([]byte, error) {
	if s.sealer == nil {
		return data, nil
	}
	sealed, err := s.sealer.Seal(ctx, s.db, subjectID, sealedField(id), string(data))
	if errors.Is(err, keyring.ErrErased) {
		return nil, fmt.Errorf("%w: subject %s was erased; no document about them can be stored", ErrErased, subjectID)
	}
	if err != nil {
		return nil, fmt.Errorf("seal for subject %s: %w", subjectID, err)
	}
	return encodeSealed(subjectID, sealed), nil
}

// Open returns the PDF content of document id and its description (of the
// PDF, as Put returned it). A sealed file is opened under the subject its
// header names; a plain PDF file is returned as it is. The caller must close
// the reader. The digest is computed from the file as opened, so it matches
// what the reader returns even if the document is replaced meanwhile.
//
// It returns an error wrapping [ErrNotFound] if nothing is stored under id,
// one wrapping [ErrInvalidID] if id is not a canonical lowercase UUID, one
// wrapping [ErrErased] if the document's subject was erased (it can never
// be read again), and other errors for a file that is neither a PDF nor a
// sealed document, that does not authenticate (keyring.ErrTampered: altered,
// or its header edited to another subject), or that is sealed while the
// store has no sealer.
func (s *FileStore) Open(ctx context.Context, id string) (io.ReadCloser, Stored, error) {
	path, err := s.Path(id)
	if err != nil {
		return nil, Stored{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, Stored{}, fmt.Errorf("document: open %s: %w", id, err)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Stored{}, fmt.Errorf("document: open %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, Stored{}, fmt.Errorf("document: open %s: %w", id, err)
	}
	var head [len(pdfMagic)]byte
	n, err := io.ReadFull(f, head[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		_ = f.Close() // the read error is what matters
		return nil, Stored{}, fmt.Errorf("document: open %s: read: %w", id, err)
	}
	if string(head[:n]) == pdfMagic {
		return openPlain(id, path, f)
	}
	raw, err := io.ReadAll(io.MultiReader(bytes.NewReader(head[:n]), f))
	_ = f.Close() // read-only: a close error loses nothing
	if err != nil {
		return nil, Stored{}, fmt.Errorf("document: open %s: read: %w", id, err)
	}
	pdf, err := s.unseal(ctx, id, raw)
	if err != nil {
		return nil, Stored{}, fmt.Errorf("document: open %s: %w", id, err)
	}
	h := sha256.New()
	_, _ = io.WriteString(h, pdf) // a hash never fails to write
	return io.NopCloser(strings.NewReader(pdf)), Stored{
		ID:          id,
		Path:        path,
		Size:        int64(len(pdf)),
		SHA256:      hex.EncodeToString(h.Sum(nil)),
		ContentType: ContentTypePDF,
	}, nil
}

// openPlain returns the plain PDF file f, digested and rewound.
func openPlain(id, path string, f *os.File) (io.ReadCloser, Stored, error) {
	_, err := f.Seek(0, io.SeekStart)
	h := sha256.New()
	var n int64
	if err == nil {
		n, err = io.Copy(h, f)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = f.Close() // the read error is what matters
		return nil, Stored{}, fmt.Errorf("document: open %s: read: %w", id, err)
	}
	return f, Stored{
		ID:          id,
		Path:        path,
		Size:        n,
		SHA256:      hex.EncodeToString(h.Sum(nil)),
		ContentType: ContentTypePDF,
	}, nil
}

// unseal returns the PDF in the sealed document file raw.
func (s *FileStore) unseal(ctx context.Context, id string, raw []byte) (string, error) {
	if !isSealedFile(raw) {
		return "", fmt.Errorf("the file is neither a PDF nor a sealed document (it starts with %q)", truncate(string(raw), 24))
	}
	if s.sealer == nil {
		return "", errors.New("the file is sealed but this store has no sealer: build it with the keyring (NewFileStore)")
	}
	subjectID, sealed, err := decodeSealed(raw)
	if err != nil {
		return "", err
	}
	pdf, err := s.sealer.Open(ctx, s.db, subjectID, sealedField(id), sealed)
	if errors.Is(err, keyring.ErrErased) {
		return "", fmt.Errorf("%w: subject %s was erased; the document can no longer be read", ErrErased, subjectID)
	}
	if err != nil {
		return "", fmt.Errorf("unseal for subject %s: %w", subjectID, err)
	}
	if !strings.HasPrefix(pdf, pdfMagic) {
		return "", errors.New("the sealed content is not a PDF")
	}
	return pdf, nil
}

// Delete removes document id, for example when a customer's data must be
// erased. It returns an error wrapping [ErrNotFound] if nothing is stored
// under id, and one wrapping [ErrInvalidID] for a bad id.
func (s *FileStore) Delete(ctx context.Context, id string) error {
	path, err := s.Path(id)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("document: delete %s: %w", id, err)
	}
	err = os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("document: delete %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("document: delete %s: %w", id, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("document: delete %s: %w", id, err)
	}
	return nil
}

// ensureSubdir creates the fan-out directory sub if needed and makes its
// entry in the store directory durable.
func (s *FileStore) ensureSubdir(sub string) error {
	if _, err := os.Stat(sub); err == nil {
		return nil
	}
	if err := os.Mkdir(sub, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create directory %s: %w", sub, err)
	}
	return syncDir(s.dir)
}

// syncDir fsyncs a directory so that entries created or renamed in it survive
// a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s for sync: %w", dir, err)
	}
	syncErr := d.Sync()
	closeErr := d.Close()
	if err := errors.Join(syncErr, closeErr); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// ValidateID reports whether id is a canonical lowercase UUID such as
// "3f2504e0-4f89-41d3-9a0c-0305e82c3301". It returns an error wrapping
// [ErrInvalidID] otherwise.
func ValidateID(id string) error {
	if len(id) != 36 {
		return fmt.Errorf("%w %q: want a lowercase UUID like 3f2504e0-4f89-41d3-9a0c-0305e82c3301", ErrInvalidID, truncate(id, 64))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return fmt.Errorf("%w %q: want a hyphen at position %d", ErrInvalidID, id, i+1)
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return fmt.Errorf("%w %q: want lowercase hex digits and hyphens only (8-4-4-4-12)", ErrInvalidID, id)
			}
		}
	}
	return nil
}

// truncate shortens s to at most n bytes for use in error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
