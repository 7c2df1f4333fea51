package reliability

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgBinDirs returns where PostgreSQL's server binaries may be: Debian's
// /usr/lib/postgresql/<version>/bin, newest first, then the directory of
// a pg_ctl on PATH.
func pgBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	return dirs
}

// pgCluster is a PostgreSQL server of the test's own: the database outage
// scenario stops and starts it, which it must never do to the machine's
// shared server that other tests use at the same time. It listens on
// 127.0.0.1 only, trusts every local connection and runs with fsync off.
type pgCluster struct {
	t    *testing.T
	bin  string // directory of initdb, pg_ctl and postgres
	root string // temporary directory, owned by the server's user
	data string // the cluster's data directory
	port int
	// user runs the server when the test runs as root (initdb refuses
	// root); nil otherwise.
	user *user.User
}

// startPGCluster creates and starts a private cluster, stopped and removed
// when the test ends. Without the server binaries the test fails under CI
// (CI=true) and is skipped elsewhere.
func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	c := &pgCluster{t: t}
	for _, dir := range pgBinDirs() {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			c.bin = dir
			break
		}
	}
	if c.bin == "" {
		msg := "PostgreSQL's server binaries (initdb, pg_ctl, postgres) are neither in /usr/lib/postgresql/*/bin nor on PATH; " +
			"the database outage scenario starts a private server with them (apt-get install postgresql)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; skipping")
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			msg := "running as root, and initdb refuses root, but there is no postgres user to run the private PostgreSQL server as: " + err.Error()
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg + "; skipping")
		}
		c.user = u
	}
	// Not t.TempDir: its parents are private to root, and the server's
	// user must reach the data directory.
	root, err := os.MkdirTemp("", "insure-reliability-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.root, c.data = root, filepath.Join(root, "data")
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	if c.user != nil {
		uid, _ := strconv.Atoi(c.user.Uid)
		gid, _ := strconv.Atoi(c.user.Gid)
		if err := os.Chown(root, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	addr := FreeAddr(t)
	port, err := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	c.port = port
	c.run("initdb", "-D", c.data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C")
	conf := strings.Join([]string{
		"listen_addresses = '127.0.0.1'",
		"port = " + strconv.Itoa(c.port),
		"unix_socket_directories = '" + c.root + "'",
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"max_connections = 100",
		"shared_buffers = 32MB",
		"log_min_messages = warning",
		"",
	}, "\n")
	f, err := os.OpenFile(filepath.Join(c.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(conf); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	c.Start()
	t.Cleanup(func() {
		// Thaw it first in case a test froze it and failed.
		c.signal(syscall.SIGCONT)
		_ = c.cmd("pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop").Run()
	})
	return c
}

// URL is the address of database name in the cluster.
func (c *pgCluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// Port is the port the server listens on.
func (c *pgCluster) Port() int { return c.port }

// CreateDatabase creates database name and returns its URL.
func (c *pgCluster) CreateDatabase(ctx context.Context, name string) string {
	c.t.Helper()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		c.t.Fatal(err)
	}
	return c.URL(name)
}

// Start starts the server and waits until it accepts connections.
func (c *pgCluster) Start() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data, "-l", filepath.Join(c.root, "server.log"), "-w", "-t", "30", "start")
}

// Stop stops the server the way an operator's restart does (fast mode:
// sessions are ended, the server shuts down cleanly) and waits until it is
// gone.
func (c *pgCluster) Stop() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data, "-m", "fast", "-w", "-t", "30", "stop")
}

// Freeze stops every process of the server (SIGSTOP): connections are
// accepted by the kernel but nothing answers, like a server that hangs.
// Thaw resumes them.
func (c *pgCluster) Freeze() { c.t.Helper(); c.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server.
func (c *pgCluster) Thaw() { c.t.Helper(); c.signal(syscall.SIGCONT) }

// signal sends sig to the postmaster and all its children.
func (c *pgCluster) signal(sig syscall.Signal) {
	b, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return
	}
	pids := append([]int{pid}, childrenOf(pid)...)
	// Children first on a stop, the postmaster first on a resume, so no
	// child sees its parent stopped while it runs.
	if sig == syscall.SIGCONT {
		for _, p := range pids {
			_ = syscall.Kill(p, sig)
		}
		return
	}
	for i := len(pids) - 1; i >= 0; i-- {
		_ = syscall.Kill(pids[i], sig)
	}
}

// childrenOf returns the processes whose parent is pid (from /proc).
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		rest := string(b)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		if f := strings.Fields(rest); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// cmd builds a command of the server's binaries, run as the server's user.
func (c *pgCluster) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.user != nil {
		cmd = exec.Command("runuser", append([]string{"-u", c.user.Username, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.root
	return cmd
}

func (c *pgCluster) run(name string, args ...string) {
	c.t.Helper()
	started := time.Now()
	out, err := c.cmd(name, args...).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.root, "server.log"))
		c.t.Fatalf("%s %s: %v\n%s\nserver log:\n%s", name, strings.Join(args, " "), err, out, Tail(string(log), 20))
	}
	c.t.Logf("private PostgreSQL: %s %s took %s", name, args[len(args)-1], time.Since(started).Round(time.Millisecond))
}
