package mailpittest

import (
	"fmt"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func send(t *testing.T, s *Server, n int) {
	t.Helper()
	msg := fmt.Sprintf("From: a@example.com\r\nTo: b@example.com\r\nSubject: message %d\r\nMessage-ID: <m%d@test>\r\n\r\nbody %d\r\n", n, n, n)
	if err := smtp.SendMail(s.SMTPAddr, nil, "a@example.com", []string{"b@example.com"}, []byte(msg)); err != nil {
		t.Fatalf("send message %d: %v", n, err)
	}
}

func TestServer(t *testing.T) {
	t.Parallel()
	s := Start(t)
	if msgs := s.Messages(t); len(msgs) != 0 {
		t.Fatalf("a new Mailpit holds %d messages", len(msgs))
	}
	for n := 1; n <= 5; n++ {
		send(t, s, n)
	}
	msgs := s.WaitForCount(t, 5, 10*time.Second)
	paged, err := s.messages(2) // three pages
	if err != nil {
		t.Fatal(err)
	}
	if len(paged) != 5 {
		t.Errorf("paging returned %d messages, want 5", len(paged))
	}
	for i, m := range paged {
		if m.ID != msgs[i].ID {
			t.Errorf("page order differs at %d: %s, want %s", i, m.ID, msgs[i].ID)
		}
	}
	m := s.Message(t, msgs[0].ID)
	if m.Subject != "message 5" || m.MessageID != "m5@test" || m.Header("message-id") != "<m5@test>" ||
		strings.TrimSpace(m.Text) != "body 5" || m.From == nil || m.From.Address != "a@example.com" {
		t.Errorf("newest message = %+v", m)
	}
	if raw := s.Raw(t, msgs[0].ID); !strings.Contains(string(raw), "Subject: message 5") {
		t.Errorf("raw message:\n%s", raw)
	}

	s.Stop()
	s.Stop() // a no-op
	if err := smtp.SendMail(s.SMTPAddr, nil, "a@example.com", []string{"b@example.com"}, []byte("Subject: x\r\n\r\nx\r\n")); err == nil {
		t.Fatal("a stopped Mailpit took a message")
	}
	s.Restart(t)
	s.WaitForCount(t, 5, 10*time.Second) // kept across the restart
	send(t, s, 6)
	s.WaitForCount(t, 6, 10*time.Second)

	s.DeleteAll(t)
	s.WaitForCount(t, 0, 10*time.Second)
}

func TestFindBinary(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "mailpit")
	t.Setenv("MAILPIT_BIN", missing)
	if _, err := findBinary(); err == nil || !strings.Contains(err.Error(), InstallCommand) {
		t.Errorf("findBinary with a missing MAILPIT_BIN: %v, want the install command", err)
	}
	if err := os.WriteFile(missing, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := findBinary(); err != nil || p != missing {
		t.Errorf("findBinary = %s, %v, want %s", p, err, missing)
	}
}
