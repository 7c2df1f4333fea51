package auth_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/auth"
	"insure/internal/database"
	"insure/internal/database/dbtest"
)

// clock is a settable clock for the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

var t0 = time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.UTC)

func setup(t *testing.T, db database.DB) (*auth.Store, *clock) {
	t.Helper()
	c := &clock{t: t0}
	return auth.NewStore(db, c.Now), c
}

func ptr(t time.Time) *time.Time { return &t }

var rawPattern = regexp.MustCompile(`^insure_[A-Za-z0-9_-]{43}$`)

func TestCreateAndAuthenticate(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		s, c := setup(t, db)

		raw, tok, err := s.Create(ctx, "ops", auth.RoleAgent)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		if !rawPattern.MatchString(raw) {
			t.Errorf("raw token %q does not look like insure_ + 43 base64url characters", raw)
		}
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(tok.ID) {
			t.Errorf("token id %q is not a UUID", tok.ID)
		}
		want := auth.Token{ID: tok.ID, Name: "ops", Role: auth.RoleAgent, CreatedAt: t0.Truncate(time.Microsecond)}
		if diff := cmp.Diff(want, tok); diff != "" {
			t.Errorf("Create token (-want +got):\n%s", diff)
		}

		c.Advance(time.Hour)
		p, err := s.Authenticate(ctx, raw)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		if diff := cmp.Diff(auth.Principal{TokenID: tok.ID, Name: "ops", Role: auth.RoleAgent}, p); diff != "" {
			t.Errorf("principal (-want +got):\n%s", diff)
		}
		if p.Actor() != "token:ops" {
			t.Errorf("Actor() = %q", p.Actor())
		}

		list, err := s.List(ctx)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		want.LastUsedAt = ptr(t0.Add(time.Hour).Truncate(time.Microsecond))
		if diff := cmp.Diff([]auth.Token{want}, list); diff != "" {
			t.Errorf("List (-want +got):\n%s", diff)
		}

		// Two tokens are independent.
		raw2, tok2, err := s.Create(ctx, "auditor-1", auth.RoleAuditor)
		if err != nil {
			t.Fatalf("Create second: %v", err)
		}
		if raw2 == raw {
			t.Fatal("two tokens are equal")
		}
		if p, err := s.Authenticate(ctx, raw2); err != nil || p.TokenID != tok2.ID || p.Role != auth.RoleAuditor {
			t.Errorf("Authenticate second = %+v, %v", p, err)
		}
	})
}

func TestAuthenticateRejects(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		s, _ := setup(t, db)
		raw, _, err := s.Create(ctx, "ops", auth.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		revoked, _, err := s.Create(ctx, "old", auth.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Revoke(ctx, "old"); err != nil {
			t.Fatal(err)
		}
		unknown, _, err := auth.NewStore(dbtest.Open(t, database.SQLite), nil).Create(ctx, "ops", auth.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		flip := []byte(raw)
		if flip[len(flip)-1] == 'A' {
			flip[len(flip)-1] = 'B'
		} else {
			flip[len(flip)-1] = 'A'
		}
		tests := map[string]string{
			"empty":            "",
			"prefix only":      "insure_",
			"one changed":      string(flip),
			"truncated":        raw[:len(raw)-1],
			"extended":         raw + "x",
			"leading space":    " " + raw,
			"trailing newline": raw + "\n",
			"bearer":           "Bearer " + raw,
			"upper case":       strings.ToUpper(raw),
			"hash of nothing":  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			"huge":             strings.Repeat("a", 10_000),
			"unknown":          unknown,
			"revoked":          revoked,
		}
		var msg string
		for name, tok := range tests {
			p, err := s.Authenticate(ctx, tok)
			if err == nil {
				t.Errorf("%s: Authenticate = %+v, want an error", name, p)
				continue
			}
			if !errors.Is(err, auth.ErrUnauthenticated) || !apperr.IsCode(err, apperr.Unauthorized) {
				t.Errorf("%s: Authenticate error %v (code %s), want ErrUnauthenticated, unauthorized", name, err, apperr.CodeOf(err))
			}
			if p != (auth.Principal{}) {
				t.Errorf("%s: Authenticate returned principal %+v with its error", name, p)
			}
			// The error never says which check failed.
			if msg == "" {
				msg = err.Error()
			} else if err.Error() != msg {
				t.Errorf("%s: error %q differs from %q", name, err, msg)
			}
		}
		if _, err := s.Authenticate(ctx, raw); err != nil {
			t.Errorf("the valid token no longer authenticates: %v", err)
		}
	})
}

func TestOnlyTheHashIsStored(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		s, _ := setup(t, db)
		var raws []string
		for _, name := range []string{"a", "b", "c"} {
			raw, _, err := s.Create(ctx, name, auth.RoleService)
			if err != nil {
				t.Fatal(err)
			}
			raws = append(raws, raw)
		}
		seeded := "seeded-admin-token-0123456789abcdefghijklmnop"
		if _, err := s.Seed(ctx, "admin", auth.RoleAdmin, seeded); err != nil {
			t.Fatal(err)
		}
		raws = append(raws, seeded)
		// Every text column of every row, the timestamps as text too.
		rows, err := db.Query(ctx, `SELECT id, name, role, token_hash, CAST(created_at AS TEXT),
			COALESCE(CAST(last_used_at AS TEXT), ''), COALESCE(CAST(revoked_at AS TEXT), '') FROM api_tokens`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		hashPattern := regexp.MustCompile(`^[0-9a-f]{64}$`)
		for rows.Next() {
			cols := make([]string, 7)
			dest := make([]any, len(cols))
			for i := range cols {
				dest[i] = &cols[i]
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatal(err)
			}
			n++
			if !hashPattern.MatchString(cols[3]) {
				t.Errorf("token_hash %q is not a hex SHA-256", cols[3])
			}
			for _, col := range cols {
				for _, raw := range raws {
					// The random part alone, too: it is the secret.
					if strings.Contains(col, raw) || strings.Contains(col, strings.TrimPrefix(raw, auth.Prefix)) {
						t.Errorf("column value %q holds a raw token", col)
					}
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n != 4 {
			t.Errorf("api_tokens has %d rows, want 4", n)
		}
		// On SQLite, the bytes on disk: not the raw tokens either.
		if sdb, ok := db.(*database.SQLiteDB); ok {
			for _, path := range []string{sdb.Path(), sdb.Path() + "-wal"} {
				b, err := os.ReadFile(path)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				for _, raw := range raws {
					if bytes.Contains(b, []byte(strings.TrimPrefix(raw, auth.Prefix))) {
						t.Errorf("%s holds a raw token", path)
					}
				}
			}
		}
	})
}

func TestCreateRejects(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		s, c := setup(t, db)
		if _, _, err := s.Create(ctx, "ops", auth.RoleAdmin); err != nil {
			t.Fatal(err)
		}

		_, _, err := s.Create(ctx, "ops", auth.RoleAgent)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != apperr.Conflict || ae.Field != "name" || !strings.Contains(err.Error(), `"ops"`) {
			t.Fatalf("duplicate name: %#v, want a Conflict on field name naming ops", err)
		}

		for _, tt := range []struct {
			name  string
			role  auth.Role
			field string
		}{
			{"", auth.RoleAdmin, "name"},
			{"bad name", auth.RoleAdmin, "name"},
			{strings.Repeat("n", 65), auth.RoleAdmin, "name"},
			{"fine", "root", "role"},
			{"fine", "", "role"},
		} {
			_, _, err := s.Create(ctx, tt.name, tt.role)
			if !errors.As(err, &ae) || ae.Code != apperr.Invalid || ae.Field != tt.field {
				t.Errorf("Create(%q, %q) = %v, want Invalid on %s", tt.name, tt.role, err, tt.field)
			}
		}

		// Once revoked, the name is free again; the old token stays listed.
		c.Advance(time.Second)
		if _, err := s.Revoke(ctx, "ops"); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Second)
		raw, tok, err := s.Create(ctx, "ops", auth.RoleAgent)
		if err != nil {
			t.Fatalf("Create after revoke: %v", err)
		}
		if p, err := s.Authenticate(ctx, raw); err != nil || p.TokenID != tok.ID {
			t.Errorf("Authenticate new ops = %+v, %v", p, err)
		}
		list, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != tok.ID || list[1].RevokedAt == nil {
			t.Errorf("List = %+v, want the new ops token then the revoked one", list)
		}
	})
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		s, c := setup(t, db)
		rawA, a, err := s.Create(ctx, "alpha", auth.RoleAgent)
		if err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Minute)
		rawB, b, err := s.Create(ctx, "beta", auth.RoleAuditor)
		if err != nil {
			t.Fatal(err)
		}

		// By id.
		at := c.Advance(time.Minute).Truncate(time.Microsecond)
		got, err := s.Revoke(ctx, a.ID)
		if err != nil {
			t.Fatalf("Revoke by id: %v", err)
		}
		a.RevokedAt = &at
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("Revoke by id (-want +got):\n%s", diff)
		}
		if _, err := s.Authenticate(ctx, rawA); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("revoked token: Authenticate error %v, want ErrUnauthenticated", err)
		}
		if _, err := s.Authenticate(ctx, rawB); err != nil {
			t.Errorf("revoking alpha broke beta: %v", err)
		}

		// Twice: harmless, and the first revocation time stays.
		c.Advance(time.Minute)
		for _, key := range []string{a.ID, "alpha"} {
			got, err := s.Revoke(ctx, key)
			if err != nil {
				t.Fatalf("Revoke %s again: %v", key, err)
			}
			if diff := cmp.Diff(a, got); diff != "" {
				t.Errorf("Revoke %s again (-want +got):\n%s", key, diff)
			}
		}

		// By name.
		bt := c.Advance(time.Minute).Truncate(time.Microsecond)
		got, err = s.Revoke(ctx, "beta")
		if err != nil {
			t.Fatalf("Revoke by name: %v", err)
		}
		b.RevokedAt = &bt
		b.LastUsedAt = ptr(t0.Add(2 * time.Minute).Truncate(time.Microsecond)) // the Authenticate above
		if diff := cmp.Diff(b, got); diff != "" {
			t.Errorf("Revoke by name (-want +got):\n%s", diff)
		}

		// Not found.
		for _, key := range []string{"gamma", "", "00000000-0000-4000-8000-000000000000"} {
			_, err := s.Revoke(ctx, key)
			if !errors.Is(err, auth.ErrNotFound) || !apperr.IsCode(err, apperr.NotFound) {
				t.Errorf("Revoke(%q) = %v, want ErrNotFound, not_found", key, err)
			}
		}

		// List: newest first, revoked included.
		list, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]auth.Token{b, a}, list); diff != "" {
			t.Errorf("List (-want +got):\n%s", diff)
		}
	})
}

func TestRevokeNamePrefersTheValidToken(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		s, c := setup(t, db)
		_, old, err := s.Create(ctx, "ci", auth.RoleService)
		if err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Second)
		if _, err := s.Revoke(ctx, "ci"); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Second)
		_, cur, err := s.Create(ctx, "ci", auth.RoleService)
		if err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Second)
		got, err := s.Revoke(ctx, "ci")
		if err != nil || got.ID != cur.ID || got.RevokedAt == nil {
			t.Fatalf("Revoke(ci) = %+v, %v; want the current token %s revoked", got, err, cur.ID)
		}
		got, err = s.Revoke(ctx, "ci") // both revoked: the latest, unchanged
		if err != nil || got.ID != cur.ID {
			t.Fatalf("Revoke(ci) again = %+v, %v; want %s", got, err, cur.ID)
		}
		if got, err := s.Revoke(ctx, old.ID); err != nil || got.ID != old.ID {
			t.Fatalf("Revoke(old id) = %+v, %v", got, err)
		}
	})
}

func TestSeed(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		s, c := setup(t, db)
		first := "first-admin-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		second := "second-admin-token-bbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

		tok, err := s.Seed(ctx, "admin", auth.RoleAdmin, first)
		if err != nil {
			t.Fatalf("Seed: %v", err)
		}
		want := auth.Token{ID: tok.ID, Name: "admin", Role: auth.RoleAdmin, CreatedAt: t0.Truncate(time.Microsecond)}
		if diff := cmp.Diff(want, tok); diff != "" {
			t.Errorf("Seed (-want +got):\n%s", diff)
		}
		if p, err := s.Authenticate(ctx, first); err != nil || p.TokenID != tok.ID || p.Role != auth.RoleAdmin {
			t.Fatalf("Authenticate seeded = %+v, %v", p, err)
		}
		want.LastUsedAt = &want.CreatedAt

		// A restart: the same token again changes nothing.
		for range 3 {
			c.Advance(time.Hour)
			again, err := s.Seed(ctx, "admin", auth.RoleAdmin, first)
			if err != nil {
				t.Fatalf("Seed again: %v", err)
			}
			if diff := cmp.Diff(want, again); diff != "" {
				t.Errorf("Seed again (-want +got):\n%s", diff)
			}
		}
		if list, err := s.List(ctx); err != nil || len(list) != 1 {
			t.Fatalf("List after re-seeding = %+v, %v; want one token", list, err)
		}

		// The variable changed: the old token is revoked, the new one stored.
		rotated := c.Advance(time.Hour).Truncate(time.Microsecond)
		tok2, err := s.Seed(ctx, "admin", auth.RoleAdmin, second)
		if err != nil {
			t.Fatalf("Seed rotated: %v", err)
		}
		if tok2.ID == tok.ID || tok2.RevokedAt != nil || !tok2.CreatedAt.Equal(rotated) {
			t.Errorf("Seed rotated = %+v", tok2)
		}
		if _, err := s.Authenticate(ctx, first); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("the replaced token still authenticates: %v", err)
		}
		if p, err := s.Authenticate(ctx, second); err != nil || p.TokenID != tok2.ID {
			t.Errorf("Authenticate rotated = %+v, %v", p, err)
		}
		want.RevokedAt = &rotated
		list, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tok2.LastUsedAt = &rotated
		if diff := cmp.Diff([]auth.Token{tok2, want}, list); diff != "" {
			t.Errorf("List after rotation (-want +got):\n%s", diff)
		}

		// Rotating back to a revoked token does not revive it.
		back, err := s.Seed(ctx, "admin", auth.RoleAdmin, first)
		if err != nil || back.ID != tok.ID || back.RevokedAt == nil {
			t.Errorf("Seed with the revoked token = %+v, %v; want it returned, still revoked", back, err)
		}
		if _, err := s.Authenticate(ctx, second); err != nil {
			t.Errorf("seeding a revoked token revoked the current one: %v", err)
		}

		// Bad input.
		for _, tt := range []struct{ name, raw, field string }{
			{"admin", "short", "token"},
			{"admin", strings.Repeat("x", 31), "token"},
			{"admin", strings.Repeat("x", 257), "token"},
			{"admin", strings.Repeat("x", 40) + "\n", "token"},
			{"admin", strings.Repeat("x", 20) + " " + strings.Repeat("x", 20), "token"},
			{"bad name", strings.Repeat("x", 40), "name"},
		} {
			_, err := s.Seed(ctx, tt.name, auth.RoleAdmin, tt.raw)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Invalid || ae.Field != tt.field {
				t.Errorf("Seed(%q, %q) = %v, want Invalid on %s", tt.name, tt.raw, err, tt.field)
			}
		}
		if _, err := s.Seed(ctx, "admin", "root", strings.Repeat("x", 40)); !apperr.IsCode(err, apperr.Invalid) {
			t.Errorf("Seed with role root = %v, want Invalid", err)
		}
	})
}

func TestSeedConcurrently(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		raw := "concurrent-admin-token-cccccccccccccccccccccccccc"
		const n = 8 // dbtest's PostgreSQL pool holds 8 connections
		if db.Dialect() == database.Postgres {
			warmPool(t, db, n)
		}
		ids := make([]string, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				// Separate stores, as in separate processes.
				tok, err := auth.NewStore(db, nil).Seed(ctx, "admin", auth.RoleAdmin, raw)
				ids[i], errs[i] = tok.ID, err
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("Seed %d: %v", i, errs[i])
			}
			if ids[i] != ids[0] {
				t.Errorf("Seed %d stored token %s, Seed 0 %s", i, ids[i], ids[0])
			}
		}
		list, err := auth.NewStore(db, nil).List(ctx)
		if err != nil || len(list) != 1 {
			t.Errorf("List = %+v, %v; want one token", list, err)
		}
	})
}

// warmPool opens n connections at once, so that goroutines that start
// together run their transactions together rather than queue for a new
// connection each.
func warmPool(t *testing.T, db database.DB, n int) {
	t.Helper()
	var ready, done sync.WaitGroup
	ready.Add(n)
	release := make(chan struct{})
	for range n {
		done.Go(func() {
			err := db.InTx(t.Context(), func(context.Context, database.Tx) error {
				ready.Done()
				<-release
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	ready.Wait()
	close(release)
	done.Wait()
}

func TestLastUsedIsThrottled(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		ctx := t.Context()
		s, c := setup(t, db)
		raw, _, err := s.Create(ctx, "ops", auth.RoleAgent)
		if err != nil {
			t.Fatal(err)
		}
		lastUsed := func() *time.Time {
			t.Helper()
			list, err := s.List(ctx)
			if err != nil || len(list) != 1 {
				t.Fatalf("List = %+v, %v", list, err)
			}
			return list[0].LastUsedAt
		}
		if got := lastUsed(); got != nil {
			t.Fatalf("a new token has last_used_at %v", got)
		}
		steps := []struct {
			advance time.Duration
			want    time.Duration // since t0
		}{
			{5 * time.Second, 5 * time.Second},    // first use: recorded
			{30 * time.Second, 5 * time.Second},   // 30s later: not written
			{29 * time.Second, 5 * time.Second},   // 59s after the record: not yet
			{1 * time.Second, 65 * time.Second},   // a minute after: recorded
			{1 * time.Second, 65 * time.Second},   // and throttled again
			{10 * time.Minute, 666 * time.Second}, // long after: recorded
		}
		for i, st := range steps {
			c.Advance(st.advance)
			for range 3 {
				if _, err := s.Authenticate(ctx, raw); err != nil {
					t.Fatalf("step %d: Authenticate: %v", i, err)
				}
			}
			want := t0.Add(st.want).Truncate(time.Microsecond)
			if got := lastUsed(); got == nil || !got.Equal(want) {
				t.Errorf("step %d: last_used_at = %v, want %v", i, got, want)
			}
		}
		// A clock that went back does not move it backwards.
		c.Advance(-time.Hour)
		if _, err := s.Authenticate(ctx, raw); err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(); !got.Equal(t0.Add(666 * time.Second).Truncate(time.Microsecond)) {
			t.Errorf("after the clock went back: last_used_at = %v", got)
		}
	})
}
