package notify_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/notify"
	"insure/internal/notify/mailpittest"
)

// smtpClock is the SMTP tests' clock: the Date header and the rows' times.
var smtpClock = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func smtpNow() time.Time { return smtpClock }

// waitMailpit bounds every wait on Mailpit.
const waitMailpit = 10 * time.Second

// smtpSecret is the password of the tests; it must never show up in errors.
const smtpSecret = "s3cr3t-Pa55w0rd"

func smtpMessageID(n int) string { return fmt.Sprintf("0192f5e4-5a1b-7c2d-8e3f-%012d", n) }

// smtpEmail is a message with a non-ASCII subject, a text body with a line
// holding only "." (which SMTP must dot-stuff) and three attachments.
func smtpEmail(n int) notify.Email {
	binary := make([]byte, 1024)
	for i := range binary {
		binary[i] = byte(i)
	}
	return notify.Email{
		MessageID: smtpMessageID(n),
		From:      "Insure <noreply@insure.example>",
		To:        "Asha Rao <asha@example.com>",
		Subject:   fmt.Sprintf("Your policy POL-%d is confirmed — बीमा", n),
		Text:      "Hello Asha,\n\nYour policy is attached.\n.\nThe line above is a lone dot.\n",
		HTML:      "<p>Hello Asha,</p><p>Your policy is attached.</p>",
		Attachments: []notify.Attachment{
			{Name: "policy-POL-1.pdf", ContentType: "application/pdf", DocumentID: "doc-1",
				Data: []byte("%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")},
			{Name: "notes.txt", ContentType: "text/plain", Data: []byte("first\r\n.\r\nlast\r\n")},
			{Name: "data.bin", Data: binary},
		},
	}
}

// smtpConfigFor returns a plain-SMTP config for a server at addr.
func smtpConfigFor(t *testing.T, addr string) notify.SMTPConfig {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return notify.SMTPConfig{Host: host, Port: p, Security: notify.SMTPNoTLS, Timeout: 10 * time.Second}
}

func newSMTPMailer(t *testing.T, cfg notify.SMTPConfig, db database.DB) *notify.SMTPMailer {
	t.Helper()
	m, err := notify.NewSMTPMailer(cfg, db, smtpNow)
	if err != nil {
		t.Fatalf("NewSMTPMailer: %v", err)
	}
	return m
}

func mailDelivery(t *testing.T, db database.DB, id string) notify.MailDelivery {
	t.Helper()
	d, ok, err := notify.FindMailDelivery(context.Background(), db, id)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("no mail_deliveries row for %s", id)
	}
	return d
}

// assertPrivate fails when err mentions the message's addresses or bodies,
// or the password.
func assertPrivate(t *testing.T, err error, e notify.Email) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{"asha@example.com", "asha@", "Asha Rao", e.Text, e.HTML, smtpSecret} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains %q", err, s)
		}
	}
}

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want notify.SMTPConfig
	}{
		{"smtp://mail.example.com",
			notify.SMTPConfig{Host: "mail.example.com", Port: 587, Security: "opportunistic", Timeout: 30 * time.Second}},
		{"smtp://insure:" + smtpSecret + "@mail.example.com:2525",
			notify.SMTPConfig{Host: "mail.example.com", Port: 2525, Security: "opportunistic", Username: "insure", Password: smtpSecret, Timeout: 30 * time.Second}},
		{"smtp://u%40x.example:p%2Fa%3Fs%23s%40@mail.example.com/?security=starttls",
			notify.SMTPConfig{Host: "mail.example.com", Port: 587, Security: "starttls", Username: "u@x.example", Password: "p/a?s#s@", Timeout: 30 * time.Second}},
		{"smtp://relay.local?security=none",
			notify.SMTPConfig{Host: "relay.local", Port: 25, Security: "none", Timeout: 30 * time.Second}},
		{"smtp://relay.local:1025?security=none&timeout=250ms&helo=app.insure.example",
			notify.SMTPConfig{Host: "relay.local", Port: 1025, Security: "none", Timeout: 250 * time.Millisecond, HeloName: "app.insure.example"}},
		{"smtp://[::1]:25?security=opportunistic",
			notify.SMTPConfig{Host: "::1", Port: 25, Security: "opportunistic", Timeout: 30 * time.Second}},
		{"smtps://insure:" + smtpSecret + "@smtp.example.com",
			notify.SMTPConfig{Host: "smtp.example.com", Port: 465, Security: "tls", Username: "insure", Password: smtpSecret, Timeout: 30 * time.Second}},
		{"SMTPS://smtp.example.com:4650?security=tls&timeout=5m",
			notify.SMTPConfig{Host: "smtp.example.com", Port: 4650, Security: "tls", Timeout: 5 * time.Minute}},
	}
	for _, tt := range tests {
		got, err := notify.ParseSMTPURL(tt.raw)
		if err != nil {
			t.Errorf("ParseSMTPURL(%s): %v", tt.want.Redacted(), err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseSMTPURL(%s) mismatch (-want +got):\n%s", tt.want.Redacted(), diff)
		}
		if r := got.Redacted(); strings.Contains(r, smtpSecret) || strings.Contains(fmt.Sprintf("%v %+v %#v %s", got, got, got, got), smtpSecret) {
			t.Errorf("the printed config shows the password: %s", r)
		}
	}

	bad := map[string]string{
		"empty":                    "",
		"not a URL":                "smtp://insure:" + smtpSecret + "@mail example.com",
		"unencoded slash":          "smtp://insure:" + smtpSecret + "/x@mail.example.com",
		"unencoded slash, numeric": "smtp://insure:99999/" + smtpSecret + "@mail.example.com",
		"unencoded question mark":  "smtp://insure:" + smtpSecret + "?x@mail.example.com",
		"unencoded hash":           "smtp://insure:" + smtpSecret + "#x@mail.example.com",
		"scheme":                   "http://insure:" + smtpSecret + "@mail.example.com",
		"no scheme":                "insure:" + smtpSecret + "@mail.example.com",
		"opaque":                   "smtp:insure:" + smtpSecret + "@mail.example.com",
		"no host":                  "smtp://insure:" + smtpSecret + "@",
		"port zero":                "smtp://insure:" + smtpSecret + "@mail.example.com:0",
		"port too big":             "smtp://insure:" + smtpSecret + "@mail.example.com:65536",
		"empty port":               "smtp://insure:" + smtpSecret + "@mail.example.com:",
		"path":                     "smtp://insure:" + smtpSecret + "@mail.example.com/inbox",
		"no user":                  "smtp://:" + smtpSecret + "@mail.example.com",
		"no password":              "smtp://insure@mail.example.com",
		"empty password":           "smtp://insure:@mail.example.com",
		"unknown security":         "smtp://insure:" + smtpSecret + "@mail.example.com?security=" + smtpSecret,
		"tls on smtp":              "smtp://insure:" + smtpSecret + "@mail.example.com?security=tls",
		"starttls on smtps":        "smtps://insure:" + smtpSecret + "@mail.example.com?security=starttls",
		"timeout without unit":     "smtp://insure:" + smtpSecret + "@mail.example.com?timeout=30",
		"timeout zero":             "smtp://insure:" + smtpSecret + "@mail.example.com?timeout=0s",
		"timeout too long":         "smtp://insure:" + smtpSecret + "@mail.example.com?timeout=6m",
		"helo with space":          "smtp://insure:" + smtpSecret + "@mail.example.com?helo=a%20b",
		"empty helo":               "smtp://insure:" + smtpSecret + "@mail.example.com?helo=",
		"repeated option":          "smtp://insure:" + smtpSecret + "@mail.example.com?timeout=1s&timeout=2s",
		"unknown option":           "smtp://insure:" + smtpSecret + "@mail.example.com?" + smtpSecret + "=1",
		"bad query":                "smtp://insure:" + smtpSecret + "@mail.example.com?a=%zz",
	}
	for name, raw := range bad {
		_, err := notify.ParseSMTPURL(raw)
		switch {
		case err == nil:
			t.Errorf("%s: ParseSMTPURL succeeded, want an error", name)
		case strings.Contains(err.Error(), smtpSecret):
			t.Errorf("%s: error shows the password: %v", name, err)
		case !strings.Contains(err.Error(), "expected smtp://"):
			t.Errorf("%s: error %q does not say what is expected", name, err)
		}
	}
}

func TestSMTPConfigRedacted(t *testing.T) {
	t.Parallel()
	cfg := notify.SMTPConfig{Host: "mail.example.com", Username: "insure", Password: smtpSecret, HeloName: "app.example"}
	want := "smtp://insure:xxxxx@mail.example.com:587?helo=app.example&security=starttls&timeout=30s"
	if got := cfg.Redacted(); got != want {
		t.Errorf("Redacted() = %s, want %s", got, want)
	}
	tlsCfg := notify.SMTPConfig{Host: "smtp.example.com", Security: notify.SMTPImplicitTLS, Timeout: time.Second}
	if got, want := tlsCfg.Redacted(), "smtps://smtp.example.com:465?timeout=1s"; got != want {
		t.Errorf("Redacted() = %s, want %s", got, want)
	}
	round, err := notify.ParseSMTPURL(strings.Replace(cfg.Redacted(), "xxxxx", smtpSecret, 1))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Security, cfg.Port, cfg.Timeout = notify.SMTPStartTLS, 587, notify.DefaultSMTPTimeout
	if diff := cmp.Diff(cfg, round); diff != "" {
		t.Errorf("Redacted does not parse back (-want +got):\n%s", diff)
	}
}

func TestNewSMTPMailerRejectsBadConfig(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.SQLite)
	for name, cfg := range map[string]notify.SMTPConfig{
		"no host":               {},
		"bad host":              {Host: "mail example.com"},
		"bad port":              {Host: "mail.example.com", Port: 70000},
		"bad security":          {Host: "mail.example.com", Security: "ssl"},
		"negative timeout":      {Host: "mail.example.com", Timeout: -time.Second},
		"password without user": {Host: "mail.example.com", Password: smtpSecret},
		"user without password": {Host: "mail.example.com", Username: "insure"},
		"bad helo":              {Host: "mail.example.com", HeloName: "a b"},
	} {
		if _, err := notify.NewSMTPMailer(cfg, db, nil); err == nil {
			t.Errorf("%s: NewSMTPMailer succeeded, want an error", name)
		} else if strings.Contains(err.Error(), smtpSecret) {
			t.Errorf("%s: error shows the password: %v", name, err)
		}
	}
	if _, err := notify.NewSMTPMailer(notify.SMTPConfig{Host: "mail.example.com"}, nil, nil); err == nil {
		t.Error("NewSMTPMailer without a database succeeded")
	}
}

func TestSMTPMailerSend(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		mp := mailpittest.Start(t)
		m := newSMTPMailer(t, smtpConfigFor(t, mp.SMTPAddr), db)
		e := smtpEmail(1)
		ctx := context.Background()

		r, err := m.Send(ctx, e)
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		if want := (notify.Receipt{ProviderID: e.HeaderID()}); r != want {
			t.Errorf("Send receipt = %+v, want %+v", r, want)
		}
		msgs := mp.WaitForCount(t, 1, waitMailpit)
		got := mp.Message(t, msgs[0].ID)
		if got.From == nil || got.From.Name != "Insure" || got.From.Address != "noreply@insure.example" {
			t.Errorf("From = %+v", got.From)
		}
		if diff := cmp.Diff([]mailpittest.Address{{Name: "Asha Rao", Address: "asha@example.com"}}, got.To); diff != "" {
			t.Errorf("To mismatch (-want +got):\n%s", diff)
		}
		if got.Subject != e.Subject {
			t.Errorf("Subject = %q, want %q", got.Subject, e.Subject)
		}
		if h := got.Header("Message-ID"); h != e.HeaderID() {
			t.Errorf("Message-ID header = %q, want %q", h, e.HeaderID())
		}
		if got.MessageID != smtpMessageID(1)+"@insure.local" {
			t.Errorf("Mailpit MessageID = %q", got.MessageID)
		}
		if !got.Date.Equal(smtpClock) {
			t.Errorf("Date = %v, want %v (Date header %q)", got.Date, smtpClock, got.Header("Date"))
		}
		if norm(got.Text) != norm(e.Text) {
			t.Errorf("Text = %q, want %q", got.Text, e.Text)
		}
		if norm(got.HTML) != norm(e.HTML) {
			t.Errorf("HTML = %q, want %q", got.HTML, e.HTML)
		}
		if len(got.Attachments) != len(e.Attachments) {
			t.Fatalf("got %d attachments, want %d: %+v", len(got.Attachments), len(e.Attachments), got.Attachments)
		}
		for i, want := range e.Attachments {
			a := got.Attachments[i]
			wantType := want.ContentType
			if wantType == "" {
				wantType = "application/octet-stream"
			}
			if a.FileName != want.Name || a.ContentType != wantType || a.Size != uint64(len(want.Data)) {
				t.Errorf("attachment %d = %s %s %d bytes, want %s %s %d bytes",
					i, a.FileName, a.ContentType, a.Size, want.Name, wantType, len(want.Data))
			}
			if data := mp.Attachment(t, got.ID, a.PartID); string(data) != string(want.Data) {
				t.Errorf("attachment %d bytes = %q, want %q", i, data, want.Data)
			}
		}

		d := mailDelivery(t, db, e.MessageID)
		if d.State != notify.MailSent || d.Attempts != 1 || d.HeaderID != e.HeaderID() ||
			!d.StartedAt.Equal(smtpClock) || !d.CommittingAt.Equal(smtpClock) || !d.FinishedAt.Equal(smtpClock) ||
			d.Response == "" || d.Error != "" {
			t.Errorf("delivery = %+v, want sent once with a response", d)
		}

		// The same message id again: nothing is sent.
		r, err = m.Send(ctx, e)
		if err != nil {
			t.Fatalf("second Send: %v", err)
		}
		if want := (notify.Receipt{ProviderID: e.HeaderID(), Duplicate: true}); r != want {
			t.Errorf("second Send receipt = %+v, want %+v", r, want)
		}
		// A second message proves Mailpit is caught up: exactly two arrive.
		if _, err := m.Send(ctx, smtpEmail(2)); err != nil {
			t.Fatalf("Send another: %v", err)
		}
		msgs = mp.WaitForCount(t, 2, waitMailpit)
		if n := countByMessageID(msgs, smtpMessageID(1)); n != 1 {
			t.Errorf("Mailpit holds %d copies of the message, want 1", n)
		}
		if d := mailDelivery(t, db, e.MessageID); d.Attempts != 1 {
			t.Errorf("attempts after a duplicate = %d, want 1", d.Attempts)
		}
	})
}

func norm(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
}

func countByMessageID(msgs []mailpittest.Summary, id string) int {
	n := 0
	for _, m := range msgs {
		if m.MessageID == id+"@insure.local" {
			n++
		}
	}
	return n
}

func TestSMTPMailerConcurrent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		mp := mailpittest.Start(t)
		m := newSMTPMailer(t, smtpConfigFor(t, mp.SMTPAddr), db)
		e := smtpEmail(1)
		const senders = 8
		type result struct {
			r   notify.Receipt
			err error
		}
		results := make(chan result, senders)
		var wg sync.WaitGroup
		for range senders {
			wg.Go(func() {
				r, err := m.Send(context.Background(), e)
				results <- result{r, err}
			})
		}
		wg.Wait()
		close(results)
		sent := 0
		for res := range results {
			switch {
			case res.err == nil && !res.r.Duplicate:
				sent++
			case res.err == nil && res.r.Duplicate && !res.r.Uncertain:
			case errors.Is(res.err, notify.ErrUnavailable): // another Send held it
			default:
				t.Errorf("concurrent Send = %+v, %v", res.r, res.err)
			}
		}
		if sent != 1 {
			t.Errorf("%d concurrent Sends delivered, want 1", sent)
		}
		if _, err := m.Send(context.Background(), smtpEmail(2)); err != nil {
			t.Fatal(err)
		}
		if n := countByMessageID(mp.WaitForCount(t, 2, waitMailpit), e.MessageID); n != 1 {
			t.Errorf("Mailpit holds %d copies, want 1", n)
		}
	})
}

func TestSMTPMailerAuth(t *testing.T) {
	t.Parallel()
	mp := mailpittest.Start(t)
	cfg := smtpConfigFor(t, mp.SMTPAddr)
	cfg.Username, cfg.Password = "insure", smtpSecret
	cfg.HeloName = "app.insure.example"
	m := newSMTPMailer(t, cfg, dbtest.Open(t, database.SQLite))
	if _, err := m.Send(context.Background(), smtpEmail(1)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := mp.WaitForCount(t, 1, waitMailpit)
	if msgs[0].Username != "insure" {
		t.Errorf("Mailpit saw user %q, want insure", msgs[0].Username)
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key, and
// returns their files and a pool that trusts the certificate.
func selfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestSMTPMailerTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSignedCert(t)
	for _, tt := range []struct {
		security string
		opts     mailpittest.Options
	}{
		{notify.SMTPStartTLS, mailpittest.Options{TLSCertFile: certFile, TLSKeyFile: keyFile, RequireSTARTTLS: true}},
		{notify.SMTPOpportunistic, mailpittest.Options{TLSCertFile: certFile, TLSKeyFile: keyFile, RequireSTARTTLS: true}},
		{notify.SMTPImplicitTLS, mailpittest.Options{TLSCertFile: certFile, TLSKeyFile: keyFile, ImplicitTLS: true}},
	} {
		t.Run(tt.security, func(t *testing.T) {
			t.Parallel()
			mp := mailpittest.StartWith(t, tt.opts)
			db := dbtest.Open(t, database.SQLite)
			cfg := smtpConfigFor(t, mp.SMTPAddr)
			cfg.Security = tt.security
			cfg.Username, cfg.Password = "insure", smtpSecret

			// Without the test CA the handshake fails: unavailable, not sent.
			e := smtpEmail(1)
			_, err := newSMTPMailer(t, cfg, db).Send(context.Background(), e)
			if !errors.Is(err, notify.ErrUnavailable) || errors.Is(err, notify.ErrRejected) {
				t.Errorf("Send with an untrusted certificate: %v, want ErrUnavailable", err)
			}
			assertPrivate(t, err, e)

			cfg.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			if _, err := newSMTPMailer(t, cfg, db).Send(context.Background(), e); err != nil {
				t.Fatalf("Send over TLS: %v", err)
			}
			msgs := mp.WaitForCount(t, 1, waitMailpit)
			if msgs[0].Username != "insure" || msgs[0].MessageID != e.MessageID+"@insure.local" {
				t.Errorf("Mailpit got %+v", msgs[0])
			}
			if d := mailDelivery(t, db, e.MessageID); d.State != notify.MailSent || d.Attempts != 2 {
				t.Errorf("delivery = %+v, want sent at the second attempt", d)
			}
		})
	}
}

func TestSMTPMailerOpportunisticWithoutTLS(t *testing.T) {
	t.Parallel()
	mp := mailpittest.Start(t)
	cfg := smtpConfigFor(t, mp.SMTPAddr)
	cfg.Security = notify.SMTPOpportunistic
	if _, err := newSMTPMailer(t, cfg, dbtest.Open(t, database.SQLite)).Send(context.Background(), smtpEmail(1)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	mp.WaitForCount(t, 1, waitMailpit)
}

func TestSMTPMailerUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now

	db := dbtest.Open(t, database.SQLite)
	cfg := smtpConfigFor(t, addr)
	cfg.Username, cfg.Password = "insure", smtpSecret
	e := smtpEmail(1)
	_, err = newSMTPMailer(t, cfg, db).Send(context.Background(), e)
	if !errors.Is(err, notify.ErrUnavailable) || !errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, notify.ErrRejected) {
		t.Fatalf("Send to a closed port: %v, want ErrUnavailable (connection refused)", err)
	}
	assertPrivate(t, err, e)
	d := mailDelivery(t, db, e.MessageID)
	if d.State != notify.MailFailed || d.Attempts != 1 || d.Error == "" || !d.CommittingAt.IsZero() {
		t.Errorf("delivery = %+v, want failed after one attempt", d)
	}
}

func TestSMTPMailerOutage(t *testing.T) {
	t.Parallel()
	mp := mailpittest.Start(t)
	db := dbtest.Open(t, database.SQLite)
	m := newSMTPMailer(t, smtpConfigFor(t, mp.SMTPAddr), db)
	ctx := context.Background()
	if _, err := m.Send(ctx, smtpEmail(1)); err != nil {
		t.Fatalf("Send before the outage: %v", err)
	}
	mp.WaitForCount(t, 1, waitMailpit)

	mp.Stop()
	e := smtpEmail(2)
	if _, err := m.Send(ctx, e); !errors.Is(err, notify.ErrUnavailable) {
		t.Fatalf("Send during the outage: %v, want ErrUnavailable", err)
	}
	if d := mailDelivery(t, db, e.MessageID); d.State != notify.MailFailed {
		t.Errorf("delivery during the outage = %+v, want failed", d)
	}

	mp.Restart(t)
	r, err := m.Send(ctx, e)
	if err != nil {
		t.Fatalf("Send after the restart: %v", err)
	}
	if r.Duplicate || r.Uncertain {
		t.Errorf("Send after the restart = %+v, want a new delivery", r)
	}
	msgs := mp.WaitForCount(t, 2, waitMailpit) // the first message survived the restart
	if countByMessageID(msgs, smtpMessageID(1)) != 1 || countByMessageID(msgs, smtpMessageID(2)) != 1 {
		t.Errorf("Mailpit holds %+v, want each message once", msgs)
	}
	if d := mailDelivery(t, db, e.MessageID); d.State != notify.MailSent || d.Attempts != 2 || d.Error != "" {
		t.Errorf("delivery after the restart = %+v, want sent at the second attempt", d)
	}
}

// fakeSMTP is a scripted SMTP server: just enough of the protocol for
// go-mail's client, with chosen replies.
type fakeSMTP struct {
	addr     string
	replies  map[string]string // by command; see startFakeSMTP
	conns    chan struct{}     // one value per accepted connection
	received chan string       // the DATA of each message, once its "." arrived

	mu   sync.Mutex
	seen []string // the verbs received
}

// startFakeSMTP serves on a loopback port until t ends. replies overrides
// the reply to "greeting", "EHLO" (and HELO), "MAIL", "RCPT", "DATA" or
// "end" (the final "."); "{arg}" in a reply is replaced by the command's
// argument, and the reply "hang" means never answer (nor close).
func startFakeSMTP(t *testing.T, replies map[string]string) *fakeSMTP {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveFakeSMTP(t, l, replies)
}

func serveFakeSMTP(t *testing.T, l net.Listener, replies map[string]string) *fakeSMTP {
	t.Helper()
	f := &fakeSMTP{addr: l.Addr().String(), replies: replies, conns: make(chan struct{}, 16), received: make(chan string, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		l.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f.conns <- struct{}{}
			wg.Go(func() {
				defer c.Close()
				stop := context.AfterFunc(ctx, func() { c.Close() })
				defer stop()
				f.serve(ctx, c)
			})
		}
	})
	return f
}

// saw reports whether the server received the command verb.
func (f *fakeSMTP) saw(verb string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.seen {
		if v == verb {
			return true
		}
	}
	return false
}

func (f *fakeSMTP) reply(ctx context.Context, w *textproto.Writer, cmd, arg, def string) bool {
	r, ok := f.replies[cmd]
	if !ok {
		r = def
	}
	if r == "hang" {
		<-ctx.Done()
		return false
	}
	return w.PrintfLine("%s", strings.ReplaceAll(r, "{arg}", arg)) == nil
}

func (f *fakeSMTP) serve(ctx context.Context, c net.Conn) {
	r := textproto.NewReader(bufio.NewReader(c))
	w := textproto.NewWriter(bufio.NewWriter(c))
	if !f.reply(ctx, w, "greeting", "", "220 fake.test ESMTP") {
		return
	}
	for {
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		f.mu.Lock()
		f.seen = append(f.seen, verb)
		f.mu.Unlock()
		var ok bool
		switch verb {
		case "EHLO", "HELO":
			ok = f.reply(ctx, w, "EHLO", arg, "250 fake.test")
		case "MAIL":
			ok = f.reply(ctx, w, "MAIL", strings.TrimPrefix(arg, "FROM:"), "250 2.1.0 ok")
		case "RCPT":
			ok = f.reply(ctx, w, "RCPT", strings.TrimPrefix(arg, "TO:"), "250 2.1.5 ok")
		case "DATA":
			ok = f.reply(ctx, w, "DATA", "", "354 end with <CRLF>.<CRLF>")
			if r, set := f.replies["DATA"]; !ok || set && !strings.HasPrefix(r, "354") {
				break
			}
			data, err := r.ReadDotBytes()
			if err != nil {
				return
			}
			f.received <- string(data)
			ok = f.reply(ctx, w, "end", "", "250 2.0.0 queued as FAKE1")
		case "RSET", "NOOP":
			ok = w.PrintfLine("250 ok") == nil
		case "QUIT":
			_ = w.PrintfLine("221 bye")
			return
		default:
			ok = w.PrintfLine("502 5.5.2 not implemented") == nil
		}
		if !ok {
			return
		}
	}
}

// TestSMTPMailerNoReplyToCommit is the ambiguous case: the server takes
// the whole message and never answers the final ".". The message must not
// be sent again.
func TestSMTPMailerNoReplyToCommit(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		t.Parallel()
		fake := startFakeSMTP(t, map[string]string{"end": "hang"})
		cfg := smtpConfigFor(t, fake.addr)
		cfg.Timeout = time.Second
		e := smtpEmail(1)
		ctx := context.Background()

		_, err := newSMTPMailer(t, cfg, db).Send(ctx, e)
		if !errors.Is(err, notify.ErrUnavailable) || errors.Is(err, notify.ErrRejected) {
			t.Fatalf("Send with no reply to the final dot: %v, want ErrUnavailable", err)
		}
		assertPrivate(t, err, e)
		select {
		case data := <-fake.received:
			if !strings.Contains(data, "Message-ID: "+e.HeaderID()) {
				t.Errorf("the fake server got a message without the Message-ID header:\n%s", data)
			}
		case <-time.After(waitMailpit):
			t.Fatal("the fake server did not get the whole message")
		}
		d := mailDelivery(t, db, e.MessageID)
		if d.State != notify.MailCommitting || d.Attempts != 1 || d.CommittingAt.IsZero() || !strings.Contains(d.Error, "no reply") {
			t.Errorf("delivery = %+v, want committing with a note", d)
		}

		// A retry, now to a working server: not sent again.
		mp := mailpittest.Start(t)
		m := newSMTPMailer(t, smtpConfigFor(t, mp.SMTPAddr), db)
		r, err := m.Send(ctx, e)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if want := (notify.Receipt{ProviderID: e.HeaderID(), Duplicate: true, Uncertain: true}); r != want {
			t.Errorf("retry receipt = %+v, want %+v", r, want)
		}
		if r, err := m.Send(ctx, e); err != nil || !r.Uncertain || !r.Duplicate {
			t.Errorf("second retry = %+v, %v, want uncertain again", r, err)
		}
		d = mailDelivery(t, db, e.MessageID)
		if d.State != notify.MailUncertain || d.Attempts != 1 || d.FinishedAt.IsZero() {
			t.Errorf("delivery after the retry = %+v, want uncertain, still one attempt", d)
		}
		// Mailpit got nothing: a later message is the only one it holds.
		if _, err := m.Send(ctx, smtpEmail(2)); err != nil {
			t.Fatalf("Send a marker message: %v", err)
		}
		msgs := mp.WaitForCount(t, 1, waitMailpit)
		if msgs[0].MessageID != smtpMessageID(2)+"@insure.local" {
			t.Errorf("Mailpit holds %+v, want only the marker message", msgs[0])
		}
		if len(fake.conns) != 1 {
			t.Errorf("the fake server saw %d connections, want 1", len(fake.conns))
		}
	})
}

func TestSMTPMailerReplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		replies  map[string]string
		rejected bool // else retryable: neither ErrRejected nor ErrUnavailable
		command  string
		code     int
	}{
		{"unknown recipient", map[string]string{"RCPT": "550 5.1.1 {arg}: Recipient address rejected: User unknown"}, true, "RCPT", 550},
		{"recipient greylisted", map[string]string{"RCPT": "451 4.7.1 {arg}: greylisted, try again later"}, false, "RCPT", 451},
		{"mailbox full", map[string]string{"RCPT": "452 4.2.2 mailbox full"}, false, "RCPT", 452},
		{"sender refused", map[string]string{"MAIL": "553 5.7.1 {arg}: sender address rejected"}, true, "MAIL", 553},
		{"data refused", map[string]string{"DATA": "554 5.5.1 no valid recipients"}, true, "DATA", 554},
		{"content refused", map[string]string{"end": "554 5.7.1 message refused as spam"}, true, "end of data", 554},
		{"content deferred", map[string]string{"end": "451 4.3.0 local error, try later"}, false, "end of data", 451},
		{"service closing", map[string]string{"greeting": "421 4.3.2 too busy"}, false, "greeting", 421},
		{"EHLO refused", map[string]string{"EHLO": "550 not you"}, false, "EHLO", 550},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := startFakeSMTP(t, tt.replies)
			db := dbtest.Open(t, database.SQLite)
			m := newSMTPMailer(t, smtpConfigFor(t, fake.addr), db)
			e := smtpEmail(1)
			_, err := m.Send(context.Background(), e)
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if errors.Is(err, notify.ErrUnavailable) || errors.Is(err, notify.ErrRejected) != tt.rejected {
				t.Errorf("Send: %v; want ErrRejected %v and not ErrUnavailable", err, tt.rejected)
			}
			var se *notify.SMTPError
			if !errors.As(err, &se) || se.Command != tt.command || se.Code != tt.code || se.Temporary() != (tt.code < 500) {
				t.Errorf("Send: %v; want an SMTPError for %s %d", err, tt.command, tt.code)
			}
			assertPrivate(t, err, e)
			d := mailDelivery(t, db, e.MessageID)
			if d.State != notify.MailFailed || d.Attempts != 1 || d.Error == "" || strings.Contains(d.Error, "asha@") {
				t.Errorf("delivery = %+v, want failed with the reply, no address", d)
			}
			// Nothing was delivered, so a later Send tries again.
			if _, err := m.Send(context.Background(), e); err == nil {
				t.Error("second Send succeeded against the same refusal")
			}
			if d := mailDelivery(t, db, e.MessageID); d.Attempts != 2 {
				t.Errorf("attempts after a retry = %d, want 2", d.Attempts)
			}
		})
	}
}

func TestSMTPMailerStartTLSRequired(t *testing.T) {
	t.Parallel()
	fake := startFakeSMTP(t, nil) // offers no STARTTLS
	db := dbtest.Open(t, database.SQLite)
	cfg := smtpConfigFor(t, fake.addr)
	cfg.Security = notify.SMTPStartTLS
	cfg.Username, cfg.Password = "insure", smtpSecret
	_, err := newSMTPMailer(t, cfg, db).Send(context.Background(), smtpEmail(1))
	if err == nil || errors.Is(err, notify.ErrUnavailable) || errors.Is(err, notify.ErrRejected) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Send: %v, want a plain error about STARTTLS", err)
	}
	if strings.Contains(err.Error(), smtpSecret) {
		t.Errorf("error shows the password: %v", err)
	}
	select {
	case <-fake.received:
		t.Error("the message was sent without TLS")
	default:
	}
}

func TestSMTPMailerNoPasswordWithoutTLS(t *testing.T) {
	t.Parallel()
	// A server that is not on a loopback name offers only PLAIN, in plain
	// text: the password is not sent. 127.0.0.2 is a loopback address too,
	// but go-mail only trusts the names localhost, 127.0.0.1 and ::1.
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this machine: %v", err)
	}
	fake := serveFakeSMTP(t, l, map[string]string{"EHLO": "250-fake.test\r\n250 AUTH PLAIN LOGIN"})
	cfg := smtpConfigFor(t, fake.addr)
	cfg.Security = notify.SMTPOpportunistic
	cfg.Username, cfg.Password = "insure", smtpSecret
	db := dbtest.Open(t, database.SQLite)
	e := smtpEmail(1)
	_, err = newSMTPMailer(t, cfg, db).Send(context.Background(), e)
	if err == nil || errors.Is(err, notify.ErrRejected) || errors.Is(err, notify.ErrUnavailable) || !strings.Contains(err.Error(), "unencrypted") {
		t.Fatalf("Send: %v, want a plain error about sending the password unencrypted", err)
	}
	if strings.Contains(err.Error(), smtpSecret) {
		t.Errorf("error shows the password: %v", err)
	}
	if fake.saw("AUTH") || fake.saw("MAIL") {
		t.Error("the client sent AUTH or MAIL")
	}
	if d := mailDelivery(t, db, e.MessageID); d.State != notify.MailFailed {
		t.Errorf("delivery = %+v, want failed", d)
	}
}

func TestSMTPMailerCancel(t *testing.T) {
	t.Parallel()
	fake := startFakeSMTP(t, map[string]string{"greeting": "hang"})
	db := dbtest.Open(t, database.SQLite)
	cfg := smtpConfigFor(t, fake.addr)
	cfg.Timeout = time.Minute // only the cancellation can end the wait
	m := newSMTPMailer(t, cfg, db)
	e := smtpEmail(1)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := m.Send(ctx, e)
		errc <- err
	}()
	select {
	case <-fake.conns:
	case err := <-errc:
		t.Fatalf("Send returned before connecting: %v", err)
	case <-time.After(waitMailpit):
		t.Fatal("Send did not connect")
	}

	// Meanwhile the message is held: another Send does not connect.
	if _, err := m.Send(context.Background(), e); !errors.Is(err, notify.ErrUnavailable) {
		t.Errorf("concurrent Send: %v, want ErrUnavailable", err)
	}

	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, notify.ErrUnavailable) {
			t.Errorf("cancelled Send: %v, want context.Canceled and ErrUnavailable", err)
		}
	case <-time.After(waitMailpit):
		t.Fatal("Send did not return after the cancellation")
	}
	if d := mailDelivery(t, db, e.MessageID); d.State != notify.MailFailed || d.Attempts != 1 {
		t.Errorf("delivery = %+v, want failed", d)
	}
	if len(fake.conns) != 0 {
		t.Errorf("the concurrent Send connected")
	}
}

// TestSMTPMailerStoredStates starts from rows a stopped process left.
func TestSMTPMailerStoredStates(t *testing.T) {
	t.Parallel()
	mp := mailpittest.Start(t)
	db := dbtest.Open(t, database.SQLite)
	m := newSMTPMailer(t, smtpConfigFor(t, mp.SMTPAddr), db)
	ctx := context.Background()
	insert := func(e notify.Email, state string, at time.Time) {
		t.Helper()
		var committing any
		if state == notify.MailCommitting {
			committing = at
		}
		if _, err := db.Exec(ctx, `INSERT INTO mail_deliveries (message_id, state, attempts, header_id, started_at, committing_at)
			VALUES ($1, $2, 1, $3, $4, $5)`, e.MessageID, state, e.HeaderID(), at, committing); err != nil {
			t.Fatal(err)
		}
	}
	abandoned, recent, committing, waiting := smtpEmail(1), smtpEmail(2), smtpEmail(3), smtpEmail(4)
	insert(abandoned, notify.MailSending, smtpClock.Add(-time.Hour))
	insert(recent, notify.MailSending, smtpClock.Add(-time.Second))
	insert(committing, notify.MailCommitting, smtpClock.Add(-time.Hour)) // the process died waiting
	insert(waiting, notify.MailCommitting, smtpClock.Add(-time.Second))

	if r, err := m.Send(ctx, abandoned); err != nil || r.Duplicate {
		t.Errorf("Send of an abandoned message = %+v, %v, want it sent", r, err)
	}
	if d := mailDelivery(t, db, abandoned.MessageID); d.State != notify.MailSent || d.Attempts != 2 {
		t.Errorf("abandoned delivery = %+v, want sent at attempt 2", d)
	}
	if _, err := m.Send(ctx, recent); !errors.Is(err, notify.ErrUnavailable) {
		t.Errorf("Send of a message another attempt holds: %v, want ErrUnavailable", err)
	}
	if r, err := m.Send(ctx, committing); err != nil || !r.Uncertain || !r.Duplicate {
		t.Errorf("Send of a message left committing = %+v, %v, want uncertain", r, err)
	}
	if d := mailDelivery(t, db, committing.MessageID); d.State != notify.MailUncertain || d.Error == "" {
		t.Errorf("delivery left committing = %+v, want uncertain with a note", d)
	}
	if _, err := m.Send(ctx, waiting); !errors.Is(err, notify.ErrUnavailable) {
		t.Errorf("Send of a message another attempt is committing: %v, want ErrUnavailable", err)
	}
	if d := mailDelivery(t, db, waiting.MessageID); d.State != notify.MailCommitting {
		t.Errorf("delivery being committed = %+v, want it left committing", d)
	}
	msgs := mp.WaitForCount(t, 1, waitMailpit)
	if msgs[0].MessageID != abandoned.MessageID+"@insure.local" {
		t.Errorf("Mailpit holds %+v, want only the abandoned message", msgs)
	}
}

func TestSMTPMailerInvalid(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.SQLite)
	m := newSMTPMailer(t, notify.SMTPConfig{Host: "127.0.0.1", Port: 9, Security: notify.SMTPNoTLS}, db)
	e := smtpEmail(1)
	e.To = "not an address"
	_, err := m.Send(context.Background(), e)
	if !errors.Is(err, notify.ErrRejected) || !errors.Is(err, notify.ErrInvalid) {
		t.Fatalf("Send of an invalid email: %v, want ErrRejected and ErrInvalid", err)
	}
	if _, ok, err := notify.FindMailDelivery(context.Background(), db, e.MessageID); err != nil || ok {
		t.Errorf("an invalid email left a delivery row (found %v, %v)", ok, err)
	}
}
