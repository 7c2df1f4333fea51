package dashboard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"insure/internal/auth"
	"insure/internal/dashboard"
	"insure/internal/database"
	"insure/internal/database/dbtest"
)

// TestSQLSessions runs the session store on SQLite and PostgreSQL.
func TestSQLSessions(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 4, 10, 30, 0, 123456000, time.UTC)
		tokens := auth.NewStore(db, func() time.Time { return now })
		_, tok, err := tokens.Create(ctx, "ops", auth.RoleAuditor)
		if err != nil {
			t.Fatal(err)
		}
		store := dashboard.NewSQLSessions(db)
		s := dashboard.Session{IDHash: "hash-1", Principal: auth.Principal{TokenID: tok.ID}, CSRF: "csrf-1",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := store.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := store.Lookup(ctx, "hash-1")
		if err != nil {
			t.Fatal(err)
		}
		want := s
		want.Principal = auth.Principal{TokenID: tok.ID, Name: "ops", Role: auth.RoleAuditor}
		if got != want {
			t.Fatalf("lookup:\n got %+v\nwant %+v", got, want)
		}
		if _, err := store.Lookup(ctx, "hash-2"); !errors.Is(err, dashboard.ErrNoSession) {
			t.Fatalf("unknown session: %v", err)
		}

		// Expired sessions are cleaned up; live ones stay.
		old := dashboard.Session{IDHash: "hash-old", Principal: auth.Principal{TokenID: tok.ID}, CSRF: "c", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
		if err := store.Create(ctx, old); err != nil {
			t.Fatal(err)
		}
		if n, err := store.DeleteExpired(ctx, now); err != nil || n != 1 {
			t.Fatalf("delete expired: %d %v", n, err)
		}
		if _, err := store.Lookup(ctx, "hash-1"); err != nil {
			t.Fatalf("a live session was cleaned up: %v", err)
		}

		// A revoked token ends its sessions.
		if _, err := tokens.Revoke(ctx, "ops"); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Lookup(ctx, "hash-1"); !errors.Is(err, dashboard.ErrNoSession) {
			t.Fatalf("session of a revoked token: %v", err)
		}
		if err := store.Delete(ctx, "hash-1"); err != nil {
			t.Fatal(err)
		}
		if err := store.Delete(ctx, "hash-1"); err != nil {
			t.Fatalf("deleting a deleted session: %v", err)
		}
		// A session needs a token that exists.
		if err := store.Create(ctx, dashboard.Session{IDHash: "h", Principal: auth.Principal{TokenID: "nope"}, CSRF: "c", CreatedAt: now, ExpiresAt: now}); err == nil {
			t.Fatal("a session for an unknown token was stored")
		}
	})
}
