package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"insure/internal/config"
	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/httpapi/contracttest"
	"insure/internal/keyring"
	"insure/internal/notify"
)

// keysRun runs "insure args…" with the environment vars (nothing else set)
// and returns the exit code and what was printed.
func keysRun(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	e := env{lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, stdout: &out, stderr: &errs}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	code = run(ctx, args, e)
	return code, out.String(), errs.String()
}

// openSystem opens a system on cfg without workers, for start-up checks.
func openSystem(ctx context.Context, cfg config.Config) (*System, error) {
	return Open(ctx, cfg, newLogger(cfg, io.Discard), Options{Migrate: true})
}

// keyRunning is a system serving its API; stop stops its queue and closes
// it (once; the test's cleanup calls it too).
type keyRunning struct {
	s    *System
	c    client
	stop func()
}

// startKeyed starts a system on cfg, with queue workers when workers is
// set (SQLite under -race is slow: start them only where they are needed).
func startKeyed(t *testing.T, cfg config.Config, contract *contracttest.Contract, workers bool) keyRunning {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, cfg, newLogger(cfg, io.Discard), Options{Workers: workers, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(contract.Wrap(t, s.Handler()))
	stop := sync.OnceFunc(func() {
		srv.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Queue.Stop(sctx); err != nil {
			t.Errorf("stop the queue: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	t.Cleanup(stop)
	if err := s.Queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return keyRunning{s: s, c: client{t: t, base: srv.URL}, stop: stop}
}

// fileMode returns the permission bits of the file at path.
func fileMode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

// TestMasterKeyLoading: with no key configured a SQLite database gets a key
// file next to it on first start, mode 0600, and keeps using it; a key file
// that group or others may read is refused; INSURE_MASTER_KEY_FILE must
// exist.
func TestMasterKeyLoading(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t, database.SQLite)
	keyFile := cfg.DatabaseURL + masterKeySuffix

	s, err := openSystem(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	first := s.Keys.MasterKeyID()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, keyFile); m != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", keyFile, m)
	}
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	m, err := keyring.ParseMasterKey(string(raw))
	if err != nil {
		t.Fatalf("the key file does not hold a master key: %v", err)
	}
	if m.ID() != first || first == "" {
		t.Fatalf("the key file holds master key %s, the system used %q", m.ID(), first)
	}

	s, err = openSystem(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	second := s.Keys.MasterKeyID()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Fatalf("second start used master key %s, the first %s: the key file was not reused", second, first)
	}
	if after, err := os.ReadFile(keyFile); err != nil || !bytes.Equal(after, raw) {
		t.Fatalf("the second start changed the key file (%v)", err)
	}

	// A key file others may read is refused, the default one and a
	// configured one alike.
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	configured := cfg
	configured.MasterKeyFile = filepath.Join(t.TempDir(), "configured.key")
	if err := os.WriteFile(configured.MasterKeyFile, raw, 0o640); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		cfg  config.Config
		mode string
	}{{"default", cfg, "0644"}, {"INSURE_MASTER_KEY_FILE", configured, "0640"}} {
		s, err := openSystem(ctx, tt.cfg)
		if err == nil {
			_ = s.Close()
			t.Errorf("%s: a key file of mode %s was accepted", tt.name, tt.mode)
			continue
		}
		for _, want := range []string{tt.mode, "chmod 600"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", tt.name, err, want)
			}
		}
	}

	missing := cfg
	missing.MasterKeyFile = filepath.Join(t.TempDir(), "absent.key")
	s, err = openSystem(ctx, missing)
	if err == nil {
		_ = s.Close()
		t.Fatal("a missing INSURE_MASTER_KEY_FILE was accepted")
	}
	if !strings.Contains(err.Error(), "INSURE_MASTER_KEY_FILE") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing key file: error %q does not name INSURE_MASTER_KEY_FILE or is not fs.ErrNotExist", err)
	}
	if _, err := os.Stat(missing.MasterKeyFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a configured key file was made: %v", err)
	}
}

// TestMasterKeyRequiredWithPostgres: PostgreSQL serves several processes,
// which must share a key, so it never makes one.
func TestMasterKeyRequiredWithPostgres(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, database.Postgres)
	cfg.MasterKey = ""
	s, err := openSystem(context.Background(), cfg)
	if err == nil {
		_ = s.Close()
		t.Fatal("PostgreSQL started without a master key")
	}
	if !strings.Contains(err.Error(), "INSURE_MASTER_KEY") || !strings.Contains(err.Error(), "insure keys generate") {
		t.Fatalf("error %q does not name INSURE_MASTER_KEY and how to make one", err)
	}
}

// TestMasterKeyMismatchRefusesToStart: a database whose data keys another
// master key wrapped does not start, so nothing is sealed under the wrong
// key.
func TestMasterKeyMismatchRefusesToStart(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cfg := testConfig(t, d)
			s, err := openSystem(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Customers.Register(ctx, event.Context{Actor: "test"},
				customer.Register{Name: "Kavya Rao", Email: "kavya@example.com", Phone: "9876501234"})
			if cerr := s.Close(); err != nil || cerr != nil {
				t.Fatalf("register: %v; close: %v", err, cerr)
			}

			other, err := keyring.NewMasterKey()
			if err != nil {
				t.Fatal(err)
			}
			wrong := cfg
			wrong.MasterKey = other.Encode()
			s, err = openSystem(ctx, wrong)
			if err == nil {
				_ = s.Close()
				t.Fatal("a database written under another master key started")
			}
			if !errors.Is(err, keyring.ErrMasterKeyMismatch) {
				t.Fatalf("error %v, want ErrMasterKeyMismatch", err)
			}
			if strings.Contains(err.Error(), wrong.MasterKey) {
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
}

func TestKeysGenerate(t *testing.T) {
	t.Parallel()
	none := map[string]string{}

	seen := map[string]bool{}
	for range 2 {
		code, out, errs := keysRun(t, none, "keys", "generate")
		if code != 0 {
			t.Fatalf("keys generate (exit %d):\n%s%s", code, out, errs)
		}
		m, err := keyring.ParseMasterKey(out)
		if err != nil {
			t.Fatalf("keys generate printed %q, not a master key: %v", out, err)
		}
		if strings.TrimSpace(out) != m.Encode() {
			t.Errorf("stdout %q holds more than the key", out)
		}
		if !strings.Contains(errs, m.ID()) {
			t.Errorf("stderr does not name the key's id %s:\n%s", m.ID(), errs)
		}
		if seen[m.ID()] {
			t.Fatal("keys generate printed the same key twice")
		}
		seen[m.ID()] = true
	}

	path := filepath.Join(t.TempDir(), "keys", "master.key")
	code, out, errs := keysRun(t, none, "keys", "generate", "--out", path)
	if code != 0 {
		t.Fatalf("keys generate --out (exit %d):\n%s%s", code, out, errs)
	}
	if m := fileMode(t, path); m != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", path, m)
	}
	m, err := keyring.LoadMasterKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, m.ID()) || strings.Contains(out+errs, m.Encode()) {
		t.Errorf("--out printed %q%q: want the key's id, never the key", out, errs)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	code, out, errs = keysRun(t, none, "keys", "generate", "--out", path)
	if code == 0 || !strings.Contains(errs, "exists") {
		t.Fatalf("generate over an existing file (exit %d):\n%s%s", code, out, errs)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
		t.Fatalf("the existing key file changed (%v)", err)
	}
}

// rotationPerson is a customer the rotation test registers.
type rotationPerson struct {
	name, email, phone, nameToken string
}

func (p rotationPerson) register(c client) string {
	c.t.Helper()
	r := c.expect(201, "POST", "/api/v1/customers", map[string]any{
		"name": p.name, "email": p.email, "phone": p.phone, "channel": "web"})
	id, _ := r.json(c.t)["id"].(string)
	if id == "" {
		c.t.Fatalf("registration returned no id: %s", r.body)
	}
	return id
}

// search returns the ids the customer search with query q finds.
func search(c client, q string) []string {
	c.t.Helper()
	list, _ := c.expect(200, "GET", "/api/v1/customers?"+q, nil).json(c.t)["customers"].([]any)
	var ids []string
	for _, x := range list {
		m, _ := x.(map[string]any)
		id, _ := m["id"].(string)
		ids = append(ids, id)
	}
	return ids
}

// checkReadable checks, on a system with the current master key, that
// customer id reads as p in clear and that search by email, phone and name
// finds them.
func checkReadable(t *testing.T, c client, id string, p rotationPerson, wantPhone string) {
	t.Helper()
	got := c.expect(200, "GET", "/api/v1/customers/"+id, nil).json(t)
	if got["name"] != p.name || got["email"] != p.email || got["phone"] != wantPhone {
		t.Errorf("customer %s reads %v, want %s, %s, %s", id, got, p.name, p.email, wantPhone)
	}
	for _, q := range []string{"email=" + url.QueryEscape(strings.ToUpper(p.email)), "name=" + url.QueryEscape(p.nameToken),
		"phone=" + url.QueryEscape(p.phone)} {
		if ids := search(c, q); len(ids) != 1 || ids[0] != id {
			t.Errorf("search %s found %v, want [%s]", q, ids, id)
		}
	}
}

// refusesToStart checks that a system configured with cfg does not start
// because the data keys are under another master key.
func refusesToStart(t *testing.T, cfg config.Config, what string) {
	t.Helper()
	s, err := openSystem(context.Background(), cfg)
	if err == nil {
		_ = s.Close()
		t.Fatalf("%s: the system started", what)
	}
	if !errors.Is(err, keyring.ErrMasterKeyMismatch) {
		t.Fatalf("%s: error %v, want ErrMasterKeyMismatch", what, err)
	}
}

// TestKeysRotate rotates the master key of a database with a live and an
// erased customer, twice, and checks that the system on the new key reads
// and finds the customer, the old key no longer starts, and rotation can be
// run again.
func TestKeysRotate(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			contract := contracttest.New(t)
			cfg := testConfig(t, d)
			// The command's environment: master key A is INSURE_MASTER_KEY
			// on PostgreSQL, the key file next to the database on SQLite.
			vars := map[string]string{"DATABASE_URL": cfg.DatabaseURL}
			if cfg.MasterKey != "" {
				vars["INSURE_MASTER_KEY"] = cfg.MasterKey
			}
			live := rotationPerson{name: "Ishaan Kapoor", email: "ishaan.rotate@example.com", phone: "+91 98200 11111", nameToken: "kapoor"}
			gone := rotationPerson{name: "Gauri Nair", email: "gauri.shred@example.com", phone: "+91 98200 22222", nameToken: "nair"}

			// With workers, so the welcome email is recorded sealed under A.
			a := startKeyed(t, cfg, contract, true)
			liveID, goneID := live.register(a.c), gone.register(a.c)
			if err := a.s.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}
			a.c.expect(200, "DELETE", "/api/v1/customers/"+goneID+"/personal-data", nil)
			oldID := a.s.Keys.MasterKeyID()
			a.stop()

			next := filepath.Join(t.TempDir(), "next.key")
			code, out, errs := keysRun(t, vars, "keys", "rotate", "--new-key-file", next)
			if code != 0 {
				t.Fatalf("keys rotate (exit %d):\n%s%s", code, out, errs)
			}
			if m := fileMode(t, next); m != 0o600 {
				t.Errorf("%s has mode %04o, want 0600", next, m)
			}
			nextKey, err := keyring.LoadMasterKeyFile(next)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"wrote a new master key " + nextKey.ID(), "re-wrapped 1 customer key under master key " + nextKey.ID(),
				"recomputed the search indexes of 1 customer\n", "INSURE_MASTER_KEY_FILE=" + next} {
				if !strings.Contains(out, want) {
					t.Errorf("keys rotate output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out+errs, nextKey.Encode()) {
				t.Error("keys rotate printed the new key")
			}

			refusesToStart(t, cfg, "the old master key after rotation")

			onNext := cfg
			onNext.MasterKey, onNext.MasterKeyFile = "", next
			b := startKeyed(t, onNext, contract, false)
			if n := count(t, b.s.DB, `SELECT COUNT(*) FROM data_keys WHERE destroyed_at IS NULL AND master_key_id = $1`, nextKey.ID()); n != 1 {
				t.Errorf("%d live data keys under the new master key, want 1", n)
			}
			if n := count(t, b.s.DB, `SELECT COUNT(*) FROM data_keys WHERE master_key_id = $1 AND destroyed_at IS NULL`, oldID); n != 0 {
				t.Errorf("%d live data keys left under the old master key", n)
			}
			checkReadable(t, b.c, liveID, live, "+919820011111")
			// What was sealed before the rotation (the welcome email's
			// stored copy) opens under the new key.
			mails, err := notify.RecordedEmails(ctx, b.s.DB, b.s.Vault)
			if err != nil {
				t.Fatalf("recorded emails after rotation: %v", err)
			}
			welcomed := false
			for _, m := range mails {
				welcomed = welcomed || m.CustomerID == liveID && m.To == live.email && strings.Contains(m.Subject, "Welcome")
			}
			if !welcomed {
				t.Errorf("no welcome email to %s reads in clear after rotation: %+v", live.email, mails)
			}
			erased := b.c.expect(200, "GET", "/api/v1/customers/"+goneID, nil).json(t)
			if erased["erased"] != true || erased["name"] != event.Erased || erased["email"] != event.Erased {
				t.Errorf("the erased customer reads %v", erased)
			}
			if ids := search(b.c, "email="+url.QueryEscape(gone.email)); len(ids) != 0 {
				t.Errorf("search finds the erased customer: %v", ids)
			}
			// The live customer's address is still claimed; a new one
			// registers and is found.
			r := b.c.expect(409, "POST", "/api/v1/customers", map[string]any{"name": "Other Person", "email": live.email, "phone": "+91 98200 33333"})
			if code, field := errorField(t, r); code != "conflict" || field != "email" {
				t.Errorf("registering the live customer's address again: %s", r.body)
			}
			fresh := rotationPerson{name: "Farah Siddiqui", email: "farah.after@example.com", phone: "+91 98200 44444", nameToken: "siddiqui"}
			freshID := fresh.register(b.c)
			checkReadable(t, b.c, freshID, fresh, "+919820044444")
			b.stop()

			// The same command again finds nothing left to re-wrap.
			code, out, errs = keysRun(t, vars, "keys", "rotate", "--new-key-file", next)
			if code != 0 || !strings.Contains(out, "re-wrapped 0 customer keys") || !strings.Contains(out, "recomputed the search indexes of 2 customers") ||
				strings.Contains(out, "wrote a new master key") {
				t.Fatalf("keys rotate again (exit %d):\n%s%s", code, out, errs)
			}

			// Rotate once more, from the new key to a third.
			varsNext := map[string]string{"DATABASE_URL": cfg.DatabaseURL, "INSURE_MASTER_KEY_FILE": next}
			third := filepath.Join(t.TempDir(), "third.key")
			code, out, errs = keysRun(t, varsNext, "keys", "rotate", "--new-key-file", third)
			if code != 0 || !strings.Contains(out, "re-wrapped 2 customer keys") || !strings.Contains(out, "recomputed the search indexes of 2 customers") {
				t.Fatalf("second rotation (exit %d):\n%s%s", code, out, errs)
			}
			refusesToStart(t, onNext, "the second master key after the second rotation")
			onThird := cfg
			onThird.MasterKey, onThird.MasterKeyFile = "", third
			c3 := startKeyed(t, onThird, contract, false)
			checkReadable(t, c3.c, liveID, live, "+919820011111")
			checkReadable(t, c3.c, freshID, fresh, "+919820044444")
			if got := c3.c.expect(200, "GET", "/api/v1/customers/"+goneID, nil).json(t); got["name"] != event.Erased {
				t.Errorf("the erased customer reads %v", got)
			}
		})
	}
}

// TestKeysRotateErrors: rotate refuses what it cannot do safely, before
// changing anything.
func TestKeysRotateErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t, database.SQLite)
	vars := map[string]string{"DATABASE_URL": cfg.DatabaseURL}
	s, err := openSystem(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Customers.Register(ctx, event.Context{Actor: "test"},
		customer.Register{Name: "Neel Joshi", Email: "neel@example.com", Phone: "9876509876"})
	if cerr := s.Close(); err != nil || cerr != nil {
		t.Fatalf("register: %v; close: %v", err, cerr)
	}
	current := cfg.DatabaseURL + masterKeySuffix

	code, out, errs := keysRun(t, vars, "keys", "rotate")
	if code == 0 || !strings.Contains(errs, "--new-key-file") {
		t.Errorf("rotate without --new-key-file (exit %d):\n%s%s", code, out, errs)
	}

	// The current key as the new one.
	code, out, errs = keysRun(t, vars, "keys", "rotate", "--new-key-file", current)
	if code == 0 || !strings.Contains(errs, "current") {
		t.Errorf("rotate to the current key (exit %d):\n%s%s", code, out, errs)
	}

	// A new key file others may read.
	loose := filepath.Join(t.TempDir(), "loose.key")
	k, err := keyring.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(loose, []byte(k.Encode()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = keysRun(t, vars, "keys", "rotate", "--new-key-file", loose)
	if code == 0 || !strings.Contains(errs, "--new-key-file") || !strings.Contains(errs, "chmod 600") {
		t.Errorf("rotate to a key file of mode 0644 (exit %d):\n%s%s", code, out, errs)
	}

	// The wrong current key.
	other, err := keyring.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	wrong := map[string]string{"DATABASE_URL": cfg.DatabaseURL, "INSURE_MASTER_KEY": other.Encode()}
	code, out, errs = keysRun(t, wrong, "keys", "rotate", "--new-key-file", filepath.Join(t.TempDir(), "next.key"))
	if code == 0 || !strings.Contains(errs, "not wrapped by this master key") {
		t.Errorf("rotate with the wrong current key (exit %d):\n%s%s", code, out, errs)
	}

	// The key file next to the database is missing (lost, or not copied
	// with the database): rotate needs the current key and does not make
	// one, which would stand in the place of the key to restore.
	aside := current + ".aside"
	if err := os.Rename(current, aside); err != nil {
		t.Fatal(err)
	}
	next := filepath.Join(t.TempDir(), "next.key")
	code, out, errs = keysRun(t, vars, "keys", "rotate", "--new-key-file", next)
	if code == 0 || !strings.Contains(errs, current) || !strings.Contains(errs, "INSURE_MASTER_KEY_FILE") {
		t.Errorf("rotate without the current key file (exit %d):\n%s%s", code, out, errs)
	}
	for _, path := range []string{current, next} {
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("rotate without the current key made %s (%v)", path, err)
		}
	}
	if err := os.Rename(aside, current); err != nil {
		t.Fatal(err)
	}

	// Nothing changed: the database still starts on its key.
	s, err = openSystem(ctx, cfg)
	if err != nil {
		t.Fatalf("after the refused rotations: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMasterKeyFileConcurrentFirstStart: processes starting at once on a
// new SQLite database (serve and worker, say) all end up with the one key
// file that the first of them made, never with an error about a key file
// the other has not finished writing.
func TestMasterKeyFileConcurrentFirstStart(t *testing.T) {
	t.Parallel()
	const rounds, starters = 50, 8
	for round := range rounds {
		cfg := config.Default()
		cfg.DatabaseURL = filepath.Join(t.TempDir(), "insure.db")
		ids := make([]string, starters)
		errs := make([]error, starters)
		var wg sync.WaitGroup
		for i := range starters {
			wg.Go(func() {
				m, err := loadMasterKey(cfg, newLoggerDiscard())
				ids[i], errs[i] = m.ID(), err
			})
		}
		wg.Wait()
		for i := range starters {
			if errs[i] != nil {
				t.Fatalf("round %d: starter %d: %v", round, i, errs[i])
			}
			if ids[i] != ids[0] {
				t.Fatalf("round %d: starters got master keys %v", round, ids)
			}
		}
	}
}
