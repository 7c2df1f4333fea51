package database_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"insure/internal/database"
)

// TestOpenSQLiteRelativePath opens the default kind of path, "./insure.db",
// relative to the working directory (not parallel: it changes directory).
func TestOpenSQLiteRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, p := range []string{"./insure.db", "data/insure.db", "plain.db"} {
		db, err := database.OpenSQLite(context.Background(), p, database.SQLiteOptions{})
		if err != nil {
			t.Fatalf("open %q: %v", p, err)
		}
		if _, err := database.Migrate(context.Background(), db); err != nil {
			t.Fatalf("migrate %q: %v", p, err)
		}
		db.Close()
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Fatalf("%q was not created in the working directory: %v", p, err)
		}
	}
}
