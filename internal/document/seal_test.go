package document

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/keyring"
)

const (
	otherID      = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	otherSubject = "16fd2706-8baf-433b-82eb-8c7fada847da"
	// personalMarker is personal data written into a test PDF in clear.
	personalMarker = "Asha Verma <asha.verma@example.com>"
)

// personalPDF is a PDF that shows personalMarker.
func personalPDF() []byte {
	return []byte("%PDF-1.7\n% " + personalMarker + "\nBT (" + personalMarker + ") Tj ET\n%%EOF\n")
}

// fileBytes returns what is on disk for id.
func fileBytes(t *testing.T, s *FileStore, id string) []byte {
	t.Helper()
	path, err := s.Path(id)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// writeFile replaces what is on disk for id.
func writeFile(t *testing.T, s *FileStore, id string, raw []byte) {
	t.Helper()
	path, err := s.Path(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, filePerm); err != nil {
		t.Fatal(err)
	}
}

func TestSealedFileHidesThePDF(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		s, _ := setupSealed(t, db)
		data := personalPDF()
		put, err := s.Put(context.Background(), testID, testSubject, data)
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		if put.Size != int64(len(data)) || put.SHA256 != sha(data) {
			t.Errorf("Put described %d bytes %s, want the PDF's %d bytes %s", put.Size, put.SHA256, len(data), sha(data))
		}

		raw := fileBytes(t, s, testID)
		if bytes.HasPrefix(raw, []byte("%PDF-")) {
			t.Error("the file on disk is a plain PDF")
		}
		for _, secret := range []string{personalMarker, "Asha", "asha.verma@example.com"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("the file on disk contains %q in clear", secret)
			}
		}
		header, body, _ := strings.Cut(string(raw), "\n")
		if want := "insure-sealed-document/v1 subject=" + testSubject; header != want {
			t.Errorf("header = %q, want %q", header, want)
		}
		if !strings.HasPrefix(body, keyring.SealedPrefix) || !strings.HasSuffix(body, "\n") || strings.Count(body, "\n") != 1 {
			t.Errorf("the line after the header is not one sealed value: %q", body[:min(len(body), 40)])
		}

		got, opened := readAll(t, s, testID)
		if !bytes.Equal(got, data) {
			t.Errorf("Open returned %q, want the PDF put", got)
		}
		if diff := cmp.Diff(put, opened); diff != "" {
			t.Errorf("Open (-put +open):\n%s", diff)
		}
	})
}

// altered returns the sealed file raw with one character of its sealed
// value changed (in the middle, so the decoded bytes change too).
func altered(raw []byte) []byte {
	out := bytes.Clone(raw)
	i := bytes.Index(out, []byte(keyring.SealedPrefix)) + len(keyring.SealedPrefix) + 10
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}

func TestSealedFileIsBoundToSubjectAndID(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		s, _ := setupSealed(t, db)
		ctx := context.Background()
		if _, err := s.Put(ctx, testID, testSubject, personalPDF()); err != nil {
			t.Fatal(err)
		}
		// The other subject has a data key, so only the binding can fail.
		if _, err := s.Put(ctx, otherID, otherSubject, fakePDF(1)); err != nil {
			t.Fatal(err)
		}
		raw := fileBytes(t, s, testID)
		_, body, _ := bytes.Cut(raw, []byte("\n"))
		sealedFor := func(subject string) []byte {
			return append([]byte("insure-sealed-document/v1 subject="+subject+"\n"), body...)
		}

		tests := []struct {
			name string
			id   string
			raw  []byte
			want error
		}{
			{"header names another subject", testID, sealedFor(otherSubject), keyring.ErrTampered},
			{"header names a subject without a key", testID, sealedFor("5e0b6f1c-0000-4000-8000-000000000000"), keyring.ErrNoDataKey},
			{"file moved to another id", otherID, raw, keyring.ErrTampered},
			{"ciphertext altered", testID, altered(raw), keyring.ErrTampered},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				writeFile(t, s, tt.id, tt.raw)
				rc, _, err := s.Open(ctx, tt.id)
				if err == nil {
					rc.Close()
					t.Fatal("Open succeeded")
				}
				if !errors.Is(err, tt.want) {
					t.Errorf("Open err = %v, want %v", err, tt.want)
				}
				if errors.Is(err, ErrErased) || errors.Is(err, ErrNotFound) {
					t.Errorf("Open err = %v: a tampered file is neither erased nor missing", err)
				}
				if strings.Contains(err.Error(), personalMarker) {
					t.Errorf("the error shows the document's content: %v", err)
				}
			})
		}
	})
}

func TestSealedFileOfErasedSubject(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		s, keys := setupSealed(t, db)
		ctx := context.Background()
		if _, err := s.Put(ctx, testID, testSubject, personalPDF()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, otherID, otherSubject, fakePDF(7)); err != nil {
			t.Fatal(err)
		}
		readAll(t, s, testID) // the key is cached now: Destroy must still win
		if err := keys.Destroy(ctx, db, testSubject); err != nil {
			t.Fatalf("Destroy: %v", err)
		}

		rc, _, err := s.Open(ctx, testID)
		if err == nil {
			rc.Close()
			t.Fatal("Open of an erased subject's document succeeded")
		}
		if !errors.Is(err, ErrErased) {
			t.Errorf("Open err = %v, want ErrErased", err)
		}
		if !strings.Contains(err.Error(), testSubject) {
			t.Errorf("Open err = %v, want it to name the subject", err)
		}

		if _, err := s.Put(ctx, testID, testSubject, personalPDF()); !errors.Is(err, ErrErased) {
			t.Errorf("Put for an erased subject: err = %v, want ErrErased", err)
		}
		if _, err := s.Put(ctx, "8a1b2c3d-0000-4000-8000-000000000000", testSubject, personalPDF()); !errors.Is(err, ErrErased) {
			t.Errorf("Put of a new document for an erased subject: err = %v, want ErrErased", err)
		}
		if _, _, err := s.Open(ctx, "8a1b2c3d-0000-4000-8000-000000000000"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a refused Put stored something: %v", err)
		}
		assertNoTempFiles(t, s)

		// Other customers' documents are untouched.
		if got, _ := readAll(t, s, otherID); !bytes.Equal(got, fakePDF(7)) {
			t.Error("another subject's document no longer opens")
		}
	})
}

func TestSealedStoreOpensPlainFiles(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		sealed, _ := setupSealed(t, db)
		plain, err := NewFileStore(sealed.Dir(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()

		// A document stored before the store sealed.
		data := personalPDF()
		put, err := plain.Put(ctx, testID, testSubject, data)
		if err != nil {
			t.Fatal(err)
		}
		if raw := fileBytes(t, plain, testID); !bytes.Equal(raw, data) {
			t.Fatal("a store without a sealer did not write the plain PDF")
		}
		got, opened := readAll(t, sealed, testID)
		if !bytes.Equal(got, data) {
			t.Errorf("the sealing store read %q from a plain file", got)
		}
		if diff := cmp.Diff(put, opened); diff != "" {
			t.Errorf("Open of a plain file (-put +open):\n%s", diff)
		}

		// A store without a sealer cannot read a sealed file, and says why.
		if _, err := sealed.Put(ctx, otherID, otherSubject, fakePDF(3)); err != nil {
			t.Fatal(err)
		}
		rc, _, err := plain.Open(ctx, otherID)
		if err == nil {
			rc.Close()
			t.Fatal("a store without a sealer opened a sealed file")
		}
		if !strings.Contains(err.Error(), "no sealer") {
			t.Errorf("err = %v, want it to say the store has no sealer", err)
		}
	})
}

func TestOpenRejectsUnknownFiles(t *testing.T) {
	t.Parallel()
	s, _ := setupSealed(t, dbtest.Open(t, database.SQLite))
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"empty", "", "neither a PDF nor a sealed document"},
		{"short", "%PD", "neither a PDF nor a sealed document"},
		{"html", "<html>%PDF-</html>", "neither a PDF nor a sealed document"},
		{"newer version", "insure-sealed-document/v2 subject=" + testSubject + "\nenc:v1:AAAA\n", `version "v2"`},
		{"no header line", "insure-sealed-document/v1 subject=" + testSubject, "no header line"},
		{"malformed header", "insure-sealed-document/v1 customer=" + testSubject + "\nenc:v1:AAAA\n", "malformed header"},
		{"empty subject", "insure-sealed-document/v1 subject=\nenc:v1:AAAA\n", "empty subject"},
		{"subject with a space", "insure-sealed-document/v1 subject=a b\nenc:v1:AAAA\n", "printable ASCII"},
		{"body not sealed", "insure-sealed-document/v1 subject=" + testSubject + "\n%PDF-1.7\n", "one sealed value"},
		{"two values", "insure-sealed-document/v1 subject=" + testSubject + "\nenc:v1:AAAA\nenc:v1:AAAA\n", "one sealed value"},
		{"no final newline", "insure-sealed-document/v1 subject=" + testSubject + "\nenc:v1:AAAA", "one sealed value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeFile(t, s, testID, []byte(tt.raw))
			rc, _, err := s.Open(context.Background(), testID)
			if err == nil {
				rc.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestPutRejectsBadSubjects(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *FileStore) {
		for _, subject := range []string{"", "a b", "a\nb", "tab\t", "é", strings.Repeat("s", 129)} {
			if _, err := s.Put(context.Background(), testID, subject, fakePDF(1)); err == nil || !strings.Contains(err.Error(), "subject id") {
				t.Errorf("Put with subject %q: err = %v, want a subject id error", subject, err)
			}
		}
		if _, _, err := s.Open(context.Background(), testID); !errors.Is(err, ErrNotFound) {
			t.Errorf("a refused Put stored something: %v", err)
		}
	})
}

// FuzzDecodeSealed feeds arbitrary file contents to the parser of sealed
// files: it must not panic, and what it accepts must be exactly what
// encodeSealed writes.
func FuzzDecodeSealed(f *testing.F) {
	f.Add(encodeSealed(testSubject, "enc:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
	f.Add([]byte("insure-sealed-document/v2 subject=x\nenc:v1:A\n"))
	f.Add([]byte("insure-sealed-document/v1 subject=\n\n"))
	f.Add([]byte("%PDF-1.7\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		subject, sealed, err := decodeSealed(raw)
		if err != nil {
			return
		}
		if validateSubject(subject) != nil || !keyring.IsSealed(sealed) {
			t.Fatalf("accepted subject %q, value %q", subject, sealed)
		}
		if got := encodeSealed(subject, sealed); !bytes.Equal(got, raw) {
			t.Fatalf("accepted %q, which re-encodes as %q", raw, got)
		}
	})
}
