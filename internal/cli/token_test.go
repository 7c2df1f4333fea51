package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"insure/internal/auth"
	"insure/internal/database"
)

// tokenRun runs "insure token args…" against the SQLite file at path and
// returns the exit code and what was printed. Once root.go registers the
// command it goes through run and --database-url; until then it executes
// newTokenCmd the way run executes the root.
func tokenRun(t *testing.T, path string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	e := env{lookup: func(string) (string, bool) { return "", false }, stdout: &out, stderr: &errs}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if c, _, err := newRoot(e).Find([]string{"token"}); err == nil && c.Name() == "token" {
		code = run(ctx, append([]string{"token", "--database-url", path}, args...), e)
		return code, out.String(), errs.String()
	}
	cmd := newTokenCmd(e, &globals{databaseURL: path})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errs)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(&errs, "insure:", err)
		return 1, out.String(), errs.String()
	}
	return 0, out.String(), errs.String()
}

func TestTokenCommands(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "insure.db")

	code, out, errs := tokenRun(t, path, "list")
	if code != 0 || !strings.Contains(out, "no tokens") {
		t.Fatalf("list on a new database (exit %d):\n%s%s", code, out, errs)
	}

	code, out, errs = tokenRun(t, path, "create", "--name", "ops", "--role", "admin")
	if code != 0 {
		t.Fatalf("create (exit %d):\n%s%s", code, out, errs)
	}
	if !regexp.MustCompile(`^insure_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Errorf("create printed %q on stdout, want the token alone", out)
	}
	if !strings.Contains(errs, "cannot be shown again") {
		t.Errorf("create did not warn on stderr that the token cannot be shown again:\n%s", errs)
	}
	raw := strings.TrimSpace(out)

	if code, out, errs := tokenRun(t, path, "create", "--name", "ci", "--role", "service"); code != 0 {
		t.Fatalf("create ci (exit %d):\n%s%s", code, out, errs)
	}

	// The token works, as the role it was given.
	p := authenticate(t, path, raw)
	if p.Name != "ops" || p.Role != auth.RoleAdmin {
		t.Errorf("principal = %+v, want ops, admin", p)
	}

	code, out, errs = tokenRun(t, path, "list")
	if code != 0 {
		t.Fatalf("list (exit %d):\n%s%s", code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("list printed %d lines, want a header, two tokens and a count:\n%s", len(lines), out)
	}
	if got := strings.Join(strings.Fields(lines[0]), " "); got != "ID NAME ROLE CREATED LAST USED REVOKED" {
		t.Errorf("list header = %q", got)
	}
	// Newest first: ci, then ops (used: it has a LAST USED time). Times
	// are two fields each: date and time of day.
	if f := strings.Fields(lines[1]); len(f) != 7 || f[1] != "ci" || f[2] != "service" || f[5] != "-" || f[6] != "-" {
		t.Errorf("list row 1 = %q, want ci, service, never used, not revoked", lines[1])
	}
	if f := strings.Fields(lines[2]); len(f) != 8 || f[0] != p.TokenID || f[1] != "ops" || f[2] != "admin" || f[7] != "-" {
		t.Errorf("list row 2 = %q, want ops (%s), admin, used, not revoked", lines[2], p.TokenID)
	}
	if !strings.Contains(lines[3], "2 tokens, 0 revoked") {
		t.Errorf("list footer = %q", lines[3])
	}
	sum := sha256.Sum256([]byte(raw))
	for _, secret := range []string{raw, strings.TrimPrefix(raw, auth.Prefix), hex.EncodeToString(sum[:])} {
		if strings.Contains(out+errs, secret) {
			t.Errorf("list shows the token or its hash:\n%s", out)
		}
	}

	// Revoke by name; the token stops working; again is harmless.
	code, out, errs = tokenRun(t, path, "revoke", "ops")
	if code != 0 || !strings.Contains(out, `revoked token "ops"`) || !strings.Contains(out, p.TokenID) {
		t.Fatalf("revoke ops (exit %d):\n%s%s", code, out, errs)
	}
	if _, err := openStore(t, path).Authenticate(t.Context(), raw); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("the revoked token still authenticates: %v", err)
	}
	code, out, errs = tokenRun(t, path, "revoke", p.TokenID)
	if code != 0 || !strings.Contains(out, "already revoked") {
		t.Errorf("revoke by id again (exit %d):\n%s%s", code, out, errs)
	}
	code, out, _ = tokenRun(t, path, "list")
	if code != 0 || !strings.Contains(out, "2 tokens, 1 revoked") {
		t.Errorf("list after revoke (exit %d):\n%s", code, out)
	}

	// The name is free again.
	if code, out, errs := tokenRun(t, path, "create", "--name", "ops", "--role", "agent"); code != 0 {
		t.Errorf("create ops after revoking it (exit %d):\n%s%s", code, out, errs)
	}
}

func TestTokenCommandErrors(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "insure.db")
	if code, out, errs := tokenRun(t, path, "create", "--name", "taken", "--role", "agent"); code != 0 {
		t.Fatalf("create (exit %d):\n%s%s", code, out, errs)
	}
	tests := []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{"no name", []string{"create", "--role", "admin"}, []string{"--name"}},
		{"no role", []string{"create", "--name", "x"}, []string{"--role", "admin, agent, auditor, service"}},
		{"unknown role", []string{"create", "--name", "x", "--role", "root"}, []string{"--role", `"root"`, "admin, agent, auditor, service"}},
		{"upper-case role", []string{"create", "--name", "x", "--role", "Admin"}, []string{"--role", `"Admin"`}},
		{"bad name", []string{"create", "--name", "two words", "--role", "admin"}, []string{"--name", `"two words"`, "A-Z a-z 0-9 . _ -"}},
		{"long name", []string{"create", "--name", strings.Repeat("n", 65), "--role", "admin"}, []string{"--name", "64"}},
		{"duplicate name", []string{"create", "--name", "taken", "--role", "admin"}, []string{`"taken" already exists`, "insure token revoke taken"}},
		{"unknown flag", []string{"create", "--name", "x", "--role", "admin", "--ttl", "1h"}, []string{"--ttl"}},
		{"create argument", []string{"create", "x", "--name", "x", "--role", "admin"}, []string{`"x"`}},
		{"revoke nothing", []string{"revoke"}, []string{"give the id or the name"}},
		{"revoke two", []string{"revoke", "a", "b"}, []string{"give the id or the name"}},
		{"revoke unknown", []string{"revoke", "nobody"}, []string{`"nobody"`, "insure token list"}},
		{"list argument", []string{"list", "all"}, []string{`"all"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := tokenRun(t, path, tt.args...)
			if code == 0 {
				t.Fatalf("%v succeeded:\n%s%s", tt.args, out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("%v: stderr does not mention %q:\n%s", tt.args, w, errs)
				}
			}
			if strings.Contains(out, auth.Prefix) {
				t.Errorf("%v printed a token although it failed:\n%s", tt.args, out)
			}
		})
	}
	code, out, _ := tokenRun(t, path, "list")
	if code != 0 || !strings.Contains(out, "1 token, 0 revoked") {
		t.Errorf("the failed commands changed the tokens (exit %d):\n%s", code, out)
	}
}

func openStore(t *testing.T, path string) *auth.Store {
	t.Helper()
	db, err := database.OpenSQLite(t.Context(), path, database.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return auth.NewStore(db, nil)
}

func authenticate(t *testing.T, path, raw string) auth.Principal {
	t.Helper()
	p, err := openStore(t, path).Authenticate(t.Context(), raw)
	if err != nil {
		t.Fatalf("Authenticate the created token: %v", err)
	}
	return p
}
