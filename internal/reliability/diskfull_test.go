package reliability

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // PRAGMA integrity_check on the file the process left

	"insure/internal/database"
)

// diskFullSize is the size of the tmpfs the SQLite database lives on in
// the disk-full scenario: room for the migrated schema and the first
// commands, after which a filler file takes the rest.
const diskFullSize = "16m"

// TestDiskFull puts the SQLite database on a small tmpfs and fills it up
// in the middle of the load. While it is full, commands fail with 503 and
// the code storage_full (not 500, not a hang) and nothing half-written is
// left behind; /readyz reports degraded, naming the full disk (reads still
// work); the process neither exits nor wedges its single writer
// connection, and once the filler is deleted the same process takes
// commands again and its queue finishes every job. Then the suite's
// invariants hold and PRAGMA integrity_check says ok.
//
// It needs to mount a tmpfs (root, or CAP_SYS_ADMIN); where mounting is not
// permitted it is skipped and says so.
func TestDiskFull(t *testing.T) {
	ctx, cancel := Budget(t, 90*time.Second)
	defer cancel()
	started := time.Now()
	s := NewStack(t, database.SQLite, StackOptions{})
	dir := mountTmpfs(t, filepath.Join(s.Dir, "small-disk"), diskFullSize)
	dbPath := filepath.Join(dir, "insure.db")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the small disk when the test failed: %s", describeDir(dir))
		}
	})
	s.DatabaseURL = "sqlite://" + dbPath
	s.SetEnv("DATABASE_URL", s.DatabaseURL)
	p := s.Start(t)
	l := s.NewLoad()
	var res LoadResult

	// Before: a healthy run.
	res.Merge(l.Run(ctx, 0, 30))
	if len(res.Failures) > 0 {
		t.Fatalf("%d commands failed before the disk filled, the first: %+v", len(res.Failures), res.Failures[0])
	}

	// Full: a filler takes every free byte. SQLite may still reuse room
	// it already holds for a few commands; after that every write fails.
	filler, size := fill(t, dir)
	t.Logf("disk full %s into the test: a filler of %d KiB took the rest of the %s tmpfs", time.Since(started).Round(time.Millisecond), size>>10, diskFullSize)
	full := l.Run(ctx, 30, 90)
	if p.Exited() {
		t.Fatalf("insure serve exited when the disk filled: %v", p.ExitErr)
	}
	t.Logf("while full: %d commands acknowledged, %d failed by status %v", len(full.Acks), len(full.Failures), full.Statuses())
	if len(full.Failures) == 0 {
		t.Fatalf("no command failed with the disk full (%d acknowledged): the filler left room", len(full.Acks))
	}
	want503(t, "with the disk full", full.Failures, "storage_full")
	// A refused command left nothing behind: checked with the invariants
	// below (every event's listeners, no orphan job); and nobody is told
	// the service is down while reads still work.
	if status, body := get(t, "http://"+s.Addr+"/healthz"); status != http.StatusOK {
		t.Errorf("GET /healthz with the disk full: HTTP %d %s", status, body)
	}
	// Readiness: degraded (200, reads work) once the process's heartbeat,
	// written every 10 s, has failed.
	// (Polled slowly: /readyz is rate limited per address.)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		status, ready := get(t, "http://"+s.Addr+"/readyz")
		if status == http.StatusOK && strings.Contains(string(ready), `"status":"degraded"`) && strings.Contains(string(ready), "storage is full") {
			t.Logf("GET /readyz with the disk full: %.700s", ready)
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("GET /readyz with the disk full: HTTP %d %.700s; want 200 degraded, naming the full disk", status, ready)
			break
		}
	}
	res.Merge(full)

	// Freed: the same process takes commands again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	var after LoadResult
	WaitFor(t, 30*time.Second, "a command to succeed once space is freed", func() bool {
		r := l.Run(ctx, 90+len(after.Acks)+len(after.Failures), 91+len(after.Acks)+len(after.Failures))
		after.Merge(r)
		return len(r.Failures) == 0
	})
	t.Logf("a command succeeded %s after the filler was deleted (%d failed before it)", time.Since(freed).Round(time.Millisecond), len(after.Failures))
	next := 90 + len(after.Acks) + len(after.Failures)
	more := l.Run(ctx, next, next+30)
	if len(more.Failures) > 0 {
		t.Errorf("%d commands failed after space was freed, the first: %+v", len(more.Failures), more.Failures[0])
	}
	after.Merge(more)
	res.Merge(after)
	if p.Exited() {
		t.Fatalf("insure serve exited: %v", p.ExitErr)
	}

	checkAfterFault(t, ctx, s, p, res, 60, "while the disk was full")
	checkUncertainMail(t, ctx, s)

	// Stop the process and check the file it leaves.
	p.Term(t)
	if err := p.Wait(t, 30*time.Second); err != nil {
		t.Errorf("insure serve exited with %v after SIGTERM", err)
	}
	integrityCheck(t, ctx, dbPath)
	t.Logf("disk-full scenario took %s", time.Since(started).Round(time.Millisecond))
}

// checkUncertainMail: an email whose SMTP server accepted it but whose
// 'sent' could not be recorded (the disk was full) ends 'uncertain' and is
// never sent again. Mailpit, which never failed here, must hold each such
// message exactly once: uncertain, yet neither lost nor duplicated.
func checkUncertainMail(t *testing.T, ctx context.Context, s *Stack) {
	t.Helper()
	rows, err := s.DB(t).Query(ctx, `SELECT header_id FROM mail_deliveries WHERE state = 'uncertain'`)
	if err != nil {
		t.Fatal(err)
	}
	var uncertain []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		uncertain = append(uncertain, strings.Trim(h, "<>"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(uncertain) == 0 {
		return
	}
	seen := map[string]int{}
	for _, m := range s.Mail.Messages(t) {
		seen[m.MessageID]++
	}
	for _, h := range uncertain {
		if seen[h] != 1 {
			t.Errorf("email %s is recorded uncertain and Mailpit holds it %d times, want once", h, seen[h])
		}
	}
	t.Logf("%d emails were accepted by the SMTP server while their 'sent' could not be recorded: recorded uncertain, each delivered once", len(uncertain))
}

// mountTmpfs mounts a tmpfs of size (e.g. "8m") at dir, unmounted when
// the test ends (after everything started later has stopped). It skips t,
// saying so, where mounting is not permitted.
func mountTmpfs(t *testing.T, dir, size string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+size+",mode=0750"); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("SKIPPED: mounting a tmpfs is not permitted here (%v); the disk-full scenario needs one (run as root or with CAP_SYS_ADMIN)", err)
		}
		t.Fatalf("mount a %s tmpfs at %s: %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			// Still busy (a process that would not stop): detach it.
			if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", dir, err)
			}
		}
	})
	return dir
}

// fill writes a file in dir until the filesystem has no room left, and
// returns its path and size.
func fill(t *testing.T, dir string) (string, int64) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	var size int64
	for len(chunk) > 0 {
		n, err := f.Write(chunk)
		size += int64(n)
		if errors.Is(err, syscall.ENOSPC) {
			chunk = chunk[:len(chunk)/2] // fill the last few blocks too
			continue
		}
		if err != nil {
			t.Fatalf("write the filler: %v", err)
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if free := st.Bavail * uint64(st.Bsize); free > 0 {
		t.Fatalf("the filler left %d bytes free", free)
	}
	return path, size
}

// describeDir lists the files of dir with their sizes, and its free space.
func describeDir(dir string) string {
	var b strings.Builder
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "%s %d KiB; ", e.Name(), info.Size()>>10)
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err == nil {
		fmt.Fprintf(&b, "%d KiB free", st.Bavail*uint64(st.Bsize)>>10)
	}
	return b.String()
}

// integrityCheck runs PRAGMA integrity_check on the SQLite file at path
// through a connection of its own, and fails t unless it says ok.
func integrityCheck(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	u := (&url.URL{Scheme: "file", Path: path}).String()
	db, err := sql.Open("sqlite", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("PRAGMA integrity_check: %v", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines, "\n"); got != "ok" {
		t.Errorf("PRAGMA integrity_check on %s:\n%s", path, got)
		return
	}
	t.Logf("PRAGMA integrity_check: ok")
}
