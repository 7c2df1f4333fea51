package document

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/keyring"
)

const (
	testID      = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	testSubject = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d" // the customer a test document is about
)

// setupStore returns a store without a sealer: it writes plain PDFs.
func setupStore(t *testing.T) *FileStore {
	t.Helper()
	s, err := NewFileStore(filepath.Join(t.TempDir(), "documents"), nil, nil)
	if err != nil {
		t.Fatalf("NewFileStore: %v", err)
	}
	return s
}

// setupSealed returns a store that seals with a real keyring on db, and
// the keyring.
func setupSealed(t *testing.T, db database.DB) (*FileStore, *keyring.Keyring) {
	t.Helper()
	master, err := keyring.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	keys := keyring.New(db, master, nil)
	s, err := NewFileStore(filepath.Join(t.TempDir(), "documents"), keys, db)
	if err != nil {
		t.Fatalf("NewFileStore: %v", err)
	}
	return s, keys
}

// eachStore runs fn in parallel subtests on a plain store and on sealing
// stores on SQLite and PostgreSQL: what it checks holds for all of them.
func eachStore(t *testing.T, fn func(t *testing.T, s *FileStore)) {
	t.Helper()
	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		fn(t, setupStore(t))
	})
	t.Run("sealed", func(t *testing.T) {
		t.Parallel()
		dbtest.Each(t, func(t *testing.T, db database.DB) {
			t.Parallel()
			s, _ := setupSealed(t, db)
			fn(t, s)
		})
	})
}

func fakePDF(n int) []byte {
	return []byte(fmt.Sprintf("%%PDF-1.7\n%% document %d\n%s\n%%%%EOF\n", n, strings.Repeat("x", n)))
}

func readAll(t *testing.T, s *FileStore, id string) ([]byte, Stored) {
	t.Helper()
	rc, st, err := s.Open(context.Background(), id)
	if err != nil {
		t.Fatalf("Open(%s): %v", id, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return data, st
}

func sha(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestFileStoreRoundTrip(t *testing.T) {
	t.Parallel()
	eachStore(t, testFileStoreRoundTrip)
}

func testFileStoreRoundTrip(t *testing.T, s *FileStore) {
	ctx := context.Background()
	data := fakePDF(1000)

	put, err := s.Put(ctx, testID, testSubject, data)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	want := Stored{
		ID:          testID,
		Path:        filepath.Join(s.Dir(), "3f", testID+".pdf"),
		Size:        int64(len(data)),
		SHA256:      sha(data),
		ContentType: "application/pdf",
	}
	if diff := cmp.Diff(want, put); diff != "" {
		t.Errorf("Put (-want +got):\n%s", diff)
	}

	got, opened := readAll(t, s, testID)
	if !bytes.Equal(got, data) {
		t.Errorf("Open returned %d bytes that differ from the %d put", len(got), len(data))
	}
	if diff := cmp.Diff(want, opened); diff != "" {
		t.Errorf("Open (-want +got):\n%s", diff)
	}
	if sha(got) != opened.SHA256 {
		t.Errorf("SHA256 of content read = %s, Stored says %s", sha(got), opened.SHA256)
	}

	path, err := s.Path(testID)
	if err != nil || path != want.Path {
		t.Errorf("Path = %q, %v; want %q", path, err, want.Path)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != filePerm {
		t.Errorf("file mode = %o, want %o", perm, filePerm)
	}
	assertNoTempFiles(t, s)
}

func TestFileStoreRealPDF(t *testing.T) {
	t.Parallel()
	data, err := setupRenderer(t).PolicySchedule(samplePolicy())
	if err != nil {
		t.Fatal(err)
	}
	eachStore(t, func(t *testing.T, s *FileStore) {
		if _, err := s.Put(context.Background(), testID, testSubject, data); err != nil {
			t.Fatalf("Put: %v", err)
		}
		got, _ := readAll(t, s, testID)
		if parsed := parsePDF(t, got); parsed.pages != 1 {
			t.Errorf("stored PDF has %d pages, want 1", parsed.pages)
		}
		if text := pdftotext(t, got); !strings.Contains(text, samplePolicy().CustomerName) {
			t.Errorf("the opened PDF does not show the customer's name:\n%s", text)
		}
	})
}

func TestFileStorePutIsIdempotent(t *testing.T) {
	t.Parallel()
	eachStore(t, testFileStorePutIsIdempotent)
}

func testFileStorePutIsIdempotent(t *testing.T, s *FileStore) {
	ctx := context.Background()
	first, err := s.Put(ctx, testID, testSubject, fakePDF(10))
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Put(ctx, testID, testSubject, fakePDF(10))
	if err != nil {
		t.Fatalf("second Put of the same content: %v", err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("Put twice gave different results (-first +again):\n%s", diff)
	}

	replaced, err := s.Put(ctx, testID, testSubject, fakePDF(20))
	if err != nil {
		t.Fatalf("Put of new content: %v", err)
	}
	got, opened := readAll(t, s, testID)
	if !bytes.Equal(got, fakePDF(20)) {
		t.Errorf("after replacing, Open returned the old content")
	}
	if diff := cmp.Diff(replaced, opened); diff != "" {
		t.Errorf("Open after replace (-put +open):\n%s", diff)
	}
	entries, err := os.ReadDir(filepath.Dir(opened.Path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after three puts of one id, want 1", len(entries))
	}
}

func TestFileStoreBadIDs(t *testing.T) {
	t.Parallel()
	s := setupStore(t)
	ctx := context.Background()
	bad := []string{
		"",
		"not-a-uuid",
		"../../../../etc/passwd",
		"3F2504E0-4F89-41D3-9A0C-0305E82C3301",   // upper case
		"{3f2504e0-4f89-41d3-9a0c-0305e82c3301}", // braces
		"3f2504e04f8941d39a0c0305e82c3301",       // no hyphens
		"3f2504e0-4f89-41d3-9a0c-0305e82c330g",   // not hex
		"3f2504e0_4f89-41d3-9a0c-0305e82c3301",   // wrong separator
		"3f2504e0-4f89-41d3-9a0c-0305e82c3301\x00",
		"../04e0-4f89-41d3-9a0c-0305e82c3301",
		"3f/504e0-4f89-41d3-9a0c-0305e82c3301",
	}
	for _, id := range bad {
		if _, err := s.Put(ctx, id, testSubject, fakePDF(1)); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Put(%q) err = %v, want ErrInvalidID", id, err)
		}
		if _, _, err := s.Open(ctx, id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Open(%q) err = %v, want ErrInvalidID", id, err)
		}
		if _, err := s.Path(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Path(%q) err = %v, want ErrInvalidID", id, err)
		}
		if err := s.Delete(ctx, id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Delete(%q) err = %v, want ErrInvalidID", id, err)
		}
	}
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("bad ids left %d entries in the store directory", len(entries))
	}
}

func TestFileStoreRejectsNonPDF(t *testing.T) {
	t.Parallel()
	s := setupStore(t)
	for _, data := range [][]byte{nil, []byte("hello"), []byte("<html>%PDF-")} {
		if _, err := s.Put(context.Background(), testID, testSubject, data); err == nil || !strings.Contains(err.Error(), "not a PDF") {
			t.Errorf("Put(%q) err = %v, want a not-a-PDF error", data, err)
		}
	}
}

func TestFileStoreNotFound(t *testing.T) {
	t.Parallel()
	eachStore(t, testFileStoreNotFound)
}

func testFileStoreNotFound(t *testing.T, s *FileStore) {
	ctx := context.Background()
	if _, _, err := s.Open(ctx, testID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open of a missing id: err = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, testID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete of a missing id: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Put(ctx, testID, testSubject, fakePDF(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, testID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, _, err := s.Open(ctx, testID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open after Delete: err = %v, want ErrNotFound", err)
	}
}

func TestFileStoreCanceledContext(t *testing.T) {
	t.Parallel()
	s := setupStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, testID, testSubject, fakePDF(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context: err = %v, want context.Canceled", err)
	}
	if _, _, err := s.Open(context.Background(), testID); !errors.Is(err, ErrNotFound) {
		t.Errorf("a canceled Put stored something: %v", err)
	}
}

func TestFileStoreConcurrentPuts(t *testing.T) {
	t.Parallel()
	eachStore(t, testFileStoreConcurrentPuts)
}

func testFileStoreConcurrentPuts(t *testing.T, s *FileStore) {
	ctx := context.Background()
	const n = 32
	ids := make([]string, n)
	for i := range ids {
		// Spread over a few fan-out directories, several ids in each, so
		// that directory creation races too.
		ids[i] = fmt.Sprintf("%02x%06x-4f89-41d3-9a0c-0305e82c3301", i%4, i)
	}
	// Each id is about its own subject, and four about one, so that data
	// key creation races too.
	subject := func(i int) string { return fmt.Sprintf("subject-%d", i%(n/4)) }
	if _, err := s.Put(ctx, ids[0], subject(0), fakePDF(999)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for i, id := range ids {
		wg.Go(func() {
			if _, err := s.Put(ctx, id, subject(i), fakePDF(i)); err != nil {
				errs <- err
			}
		})
		// Concurrent puts of the same id must leave one complete version.
		wg.Go(func() {
			if _, err := s.Put(ctx, ids[0], subject(0), fakePDF(1000+i)); err != nil {
				errs <- err
			}
		})
		// A reader of the id being replaced sees one complete version.
		wg.Go(func() {
			rc, st, err := s.Open(ctx, ids[0])
			if err != nil {
				errs <- err
				return
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			switch {
			case err != nil:
				errs <- err
			case !bytes.HasPrefix(got, []byte("%PDF-")) || !bytes.HasSuffix(got, []byte("%%EOF\n")):
				errs <- fmt.Errorf("concurrent Open of %s read a torn version: %q", ids[0], got[:min(len(got), 40)])
			case st.SHA256 != sha(got) || st.Size != int64(len(got)):
				errs <- fmt.Errorf("concurrent Open of %s: Stored does not describe the content read", ids[0])
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, id := range ids[1:] {
		got, st := readAll(t, s, id)
		if !bytes.Equal(got, fakePDF(i+1)) {
			t.Errorf("%s holds the wrong content", id)
		}
		if st.SHA256 != sha(got) {
			t.Errorf("%s: SHA256 mismatch", id)
		}
	}
	got, _ := readAll(t, s, ids[0])
	if !bytes.HasPrefix(got, []byte("%PDF-")) || !bytes.HasSuffix(got, []byte("%%EOF\n")) {
		t.Errorf("%s holds a torn write: %q", ids[0], got[:min(len(got), 40)])
	}
	assertNoTempFiles(t, s)
}

func TestNewFileStore(t *testing.T) {
	t.Parallel()
	t.Run("creates nested directory", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "a", "b")
		s, err := NewFileStore(dir, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(s.Dir())
		if err != nil || !info.IsDir() {
			t.Fatalf("store directory not created: %v", err)
		}
		if perm := info.Mode().Perm(); perm&^dirPerm != 0 {
			t.Errorf("directory mode = %o, want at most %o", perm, dirPerm)
		}
	})
	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		if _, err := NewFileStore("", nil, nil); err == nil {
			t.Error("NewFileStore(\"\") succeeded")
		}
	})
	t.Run("sealer without a database", func(t *testing.T) {
		t.Parallel()
		keys := keyring.New(nil, keyring.MasterKey{}, nil)
		if _, err := NewFileStore(t.TempDir(), keys, nil); err == nil || !strings.Contains(err.Error(), "database") {
			t.Errorf("err = %v, want an error asking for the database", err)
		}
	})
	t.Run("path is a file", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := NewFileStore(file, nil, nil); err == nil {
			t.Error("NewFileStore on a regular file succeeded")
		}
		if _, err := NewFileStore(filepath.Join(file, "sub"), nil, nil); err == nil {
			t.Error("NewFileStore below a regular file succeeded")
		}
	})
	t.Run("not writable", func(t *testing.T) {
		t.Parallel()
		if os.Geteuid() == 0 {
			t.Skip("root can write to any directory")
		}
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		_, err := NewFileStore(dir, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "not writable") {
			t.Errorf("err = %v, want a not-writable error", err)
		}
	})
}

func TestValidateID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{testID, "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v, want nil", id, err)
		}
	}
}

// assertNoTempFiles checks that no temporary file was left behind.
func assertNoTempFiles(t *testing.T, s *FileStore) {
	t.Helper()
	err := filepath.WalkDir(s.Dir(), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".tmp") || strings.HasPrefix(d.Name(), ".write-probe") {
			t.Errorf("temporary file left behind: %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
