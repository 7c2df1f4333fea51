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
)

// Stored describes a document kept by a [FileStore].
type Stored struct {
	ID          string
	Path        string // absolute path of the file
	Size        int64  // bytes
	SHA256      string // lowercase hex digest of the content
	ContentType string // always [ContentTypePDF]
}

// FileStore keeps PDF documents in a directory on the local disk, one file
// per id at <dir>/<id[0:2]>/<id>.pdf. It is safe for concurrent use, also by
// several processes sharing the directory: readers see either the old or the
// new complete file, never a partial one.
type FileStore struct {
	dir string
}

// NewFileStore returns a store rooted at dir, creating it (mode 0750) if it
// does not exist. It returns an error if dir is empty, is not a directory, or
// cannot be written to.
func NewFileStore(dir string) (*FileStore, error) {
	if dir == "" {
		return nil, errors.New("document: store directory is empty: set it to a writable directory")
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
	return &FileStore{dir: abs}, nil
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

// Put stores data as the PDF document id, replacing any earlier version
// atomically: the data is written to a temporary file in the target
// directory, synced, renamed into place, and the directory is synced. Putting
// the same id twice is safe; the second put replaces the first.
//
// It returns an error wrapping [ErrInvalidID] for a bad id, an error if data
// is not a PDF (it must start with "%PDF-"), or the context's error if ctx is
// done before the file is renamed into place.
func (s *FileStore) Put(ctx context.Context, id string, data []byte) (Stored, error) {
	path, err := s.Path(id)
	if err != nil {
		return Stored{}, err
	}
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		return Stored{}, fmt.Errorf("document: put %s: data is not a PDF (it must start with %%PDF-)", id)
	}
	if err := ctx.Err(); err != nil {
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

	if _, err := tmp.Write(data); err != nil {
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

// Open returns the content of document id and its description. The caller
// must close the reader. The digest is computed from the file as opened, so
// it matches what the reader returns even if the document is replaced
// meanwhile.
//
// It returns an error wrapping [ErrNotFound] if nothing is stored under id,
// and one wrapping [ErrInvalidID] if id is not a canonical lowercase UUID.
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
	h := sha256.New()
	n, err := io.Copy(h, f)
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
