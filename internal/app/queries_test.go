package app_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"insure/internal/app"
	"insure/internal/apperr"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/document"
	"insure/internal/keyring"
	"insure/internal/personal"
	"insure/internal/projection"
)

func TestDocumentQueriesOpen(t *testing.T) {
	t.Parallel()
	const (
		docID      = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
		pendingID  = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
		missingID  = "16fd2706-8baf-433b-82eb-8c7fada847da"
		customerID = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
	)
	pdf := []byte("%PDF-1.7\n% Asha Verma\n%%EOF\n")
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := context.Background()
		master, err := keyring.NewMasterKey()
		if err != nil {
			t.Fatal(err)
		}
		keys := keyring.New(db, master, nil)
		files, err := document.NewFileStore(filepath.Join(t.TempDir(), "documents"), keys, db)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []struct{ id, status string }{{docID, "generated"}, {pendingID, "requested"}, {missingID, "generated"}} {
			if _, err := db.Exec(ctx, `INSERT INTO documents (id, kind, subject_type, subject_id, status, content_type, requested_at)
				VALUES ($1, 'policy_schedule', 'policy', $2, $3, 'application/pdf', $4)`, d.id, customerID, d.status, time.Now().UTC()); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := files.Put(ctx, docID, customerID, pdf); err != nil {
			t.Fatal(err)
		}
		q := app.DocumentQueries{Reader: projection.NewReader(db, personal.NewVault(keys)), Files: files}

		rc, _, err := q.Open(ctx, docID)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != string(pdf) {
			t.Fatalf("Open read %q, %v; want the PDF put", got, err)
		}

		if _, _, err := q.Open(ctx, pendingID); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("Open of a document not generated yet: err = %v, want not_found", err)
		}
		if _, _, err := q.Open(ctx, missingID); apperr.CodeOf(err) != apperr.Internal {
			t.Errorf("Open of a document whose file is missing: err = %v, want internal", err)
		}

		if err := keys.Destroy(ctx, db, customerID); err != nil {
			t.Fatal(err)
		}
		_, _, err = q.Open(ctx, docID)
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.Gone {
			t.Fatalf("Open of an erased customer's document: err = %v, want gone", err)
		}
		if want := "document " + docID + " held personal data of a customer whose data was erased; it can no longer be read"; e.Message != want {
			t.Errorf("message = %q, want %q", e.Message, want)
		}
		if !errors.Is(err, document.ErrErased) {
			t.Errorf("err = %v, want it to wrap document.ErrErased", err)
		}
	})
}
