package notify

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"passerelle/config"
	"passerelle/internal/testenv"
)

// The stack's SMTP catcher (aiosmtpd writing a Maildir) receives the message
// with the headers Passerelle promises.
func TestNotifyDeliversThroughRealSMTPServer(t *testing.T) {
	env := testenv.Env(t, "SMTP_ADDR", "MAILDIR")
	m, err := NewMailer(config.SMTP{Addr: env[0], TLS: "none", From: "Agence (test) <no-reply@agence.test>"})
	if err != nil {
		t.Fatal(err)
	}
	token := fmt.Sprintf("T%d", time.Now().UnixNano())
	id := StableMessageID(m.Domain(), "request", token, "warning")
	date := time.Date(2026, 11, 24, 12, 30, 0, 0, time.UTC)
	r, err := RenderDeadlineAlert(sampleAlert(KindWarning))
	if err != nil {
		t.Fatal(err)
	}
	retry, err := m.Notify(context.Background(), Message{
		To: []string{"gestion@agence.test"}, Cc: []string{"direction@agence.test"}, Subject: r.Subject + " " + token,
		Text: r.Text, HTML: r.HTML, MessageID: id, Date: date, Headers: map[string]string{"X-Passerelle-Reference": token},
	})
	if err != nil {
		t.Fatalf("Notify: retry=%v %v", retry, err)
	}
	msgs := maildirFind(t, env[1], token)
	if len(msgs) != 1 {
		t.Fatalf("%d messages with %s in the Maildir, want 1", len(msgs), token)
	}
	msg := msgs[0]
	if got := msg.Header.Get("Message-Id"); got != "<"+id+">" {
		t.Errorf("Message-ID = %q, want <%s>", got, id)
	}
	if !strings.HasSuffix(id, "@agence.test") {
		t.Errorf("Message-ID %q is not in the sender's domain", id)
	}
	if d, err := msg.Header.Date(); err != nil || !d.Equal(date) {
		t.Errorf("Date = %q (%v), want %s", msg.Header.Get("Date"), err, date)
	}
	if got := msg.Header.Get("Auto-Submitted"); got != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", got)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if !strings.HasPrefix(subj, "[D-2026-000042] Échéance proche") {
		t.Errorf("Subject = %q", subj)
	}
	if to, cc := msg.Header.Get("To"), msg.Header.Get("Cc"); !strings.Contains(to, "gestion@agence.test") || !strings.Contains(cc, "direction@agence.test") {
		t.Errorf("To = %q, Cc = %q", to, cc)
	}
	text, html := bodies(t, msg)
	if !strings.Contains(text, "75 % du délai est écoulé") || !strings.Contains(html, "<strong>D-2026-000042</strong>") {
		t.Errorf("bodies:\n%s\n---\n%s", text, html)
	}
}

func TestNotifyRetryOrNot(t *testing.T) {
	// Nothing listens: the server may come back, retry.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	m, _ := NewMailer(config.SMTP{Addr: closed, TLS: "none", From: "no-reply@agence.test"}, WithTimeout(3*time.Second))
	retry, err := m.Notify(context.Background(), Message{To: []string{"a@agence.test"}, Subject: "s", Text: "t"})
	if err == nil || !retry {
		t.Errorf("connection refused: retry=%v err=%v, want a retry", retry, err)
	}

	for _, tc := range []struct {
		rcpt  string
		retry bool
	}{
		{"451 4.3.0 Try again later", true},
		{"550 5.1.1 No such user", false},
	} {
		addr := scriptedSMTP(t, tc.rcpt, "")
		m, _ := NewMailer(config.SMTP{Addr: addr, TLS: "none", From: "no-reply@agence.test"}, WithTimeout(3*time.Second))
		retry, err := m.Notify(context.Background(), Message{To: []string{"a@agence.test"}, Subject: "s", Text: "t"})
		if err == nil || retry != tc.retry {
			t.Errorf("RCPT answered %q: retry=%v err=%v, want retry=%v", tc.rcpt, retry, err, tc.retry)
		}
	}

	if _, err := m.Notify(context.Background(), Message{Subject: "s"}); err == nil {
		t.Error("no recipient: want an error")
	}
	retry, err = m.Notify(context.Background(), Message{To: []string{"not an address"}, Subject: "s"})
	if err == nil || retry {
		t.Errorf("malformed address: retry=%v err=%v, want no retry", retry, err)
	}
}

// The password goes to the server only: never in String, never in errors.
func TestMailerNeverShowsThePassword(t *testing.T) {
	const password = "S3cr3t-Pa55word"
	addr := scriptedSMTP(t, "250 OK", "535 5.7.8 Authentication credentials invalid")
	m, err := NewMailer(config.SMTP{Addr: addr, TLS: "none", Username: "passerelle", Password: config.Secret(password),
		From: "no-reply@agence.test"}, WithTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	retry, err := m.Notify(context.Background(), Message{To: []string{"a@agence.test"}, Subject: "s", Text: "t"})
	if err == nil || !retry {
		t.Fatalf("login refused: retry=%v err=%v, want a retry (the configuration may be fixed)", retry, err)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte("\x00passerelle\x00" + password))
	for _, s := range []string{m.String(), fmt.Sprintf("%v %+v", m, err), err.Error()} {
		if strings.Contains(s, password) || strings.Contains(s, b64) {
			t.Fatalf("password leaked: %s", s)
		}
	}
	if !strings.Contains(m.String(), "auth as passerelle") {
		t.Errorf("String = %q", m.String())
	}
}

func TestNewMailerConfig(t *testing.T) {
	if _, err := NewMailer(config.SMTP{}); err != ErrDisabled {
		t.Errorf("empty addr: %v, want ErrDisabled", err)
	}
	for _, c := range []config.SMTP{
		{Addr: "mail.agence.test", From: "a@agence.test"},
		{Addr: "mail.agence.test:0", From: "a@agence.test"},
		{Addr: "mail.agence.test:587", From: "pas une adresse"},
		{Addr: "mail.agence.test:587", From: "a@agence.test", TLS: "ssl"},
	} {
		if _, err := NewMailer(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// scriptedSMTP is a minimal SMTP server on loopback that answers RCPT TO
// with rcpt and AUTH with auth (when not empty, AUTH is offered), to see how
// Notify classifies a server's answers. Real delivery is tested against the
// stack's SMTP server above.
func scriptedSMTP(t *testing.T, rcpt, auth string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				say := func(s string) { _, _ = io.WriteString(c, s+"\r\n") }
				say("220 scripted ESMTP")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					cmd := strings.ToUpper(strings.TrimSpace(line))
					switch {
					case strings.HasPrefix(cmd, "EHLO"):
						if auth != "" {
							say("250-scripted")
							say("250-AUTH PLAIN LOGIN")
							say("250 8BITMIME")
						} else {
							say("250-scripted")
							say("250 8BITMIME")
						}
					case strings.HasPrefix(cmd, "HELO"):
						say("250 scripted")
					case strings.HasPrefix(cmd, "AUTH"):
						say(auth)
					case strings.HasPrefix(cmd, "MAIL"):
						say("250 OK")
					case strings.HasPrefix(cmd, "RCPT"):
						say(rcpt)
					case cmd == "DATA":
						say("354 go on")
						for {
							l, err := r.ReadString('\n')
							if err != nil || l == ".\r\n" {
								break
							}
						}
						say("250 queued")
					case cmd == "QUIT":
						say("221 bye")
						return
					default: // NOOP, RSET
						say("250 OK")
					}
				}
			}(c)
		}
	}()
	return l.Addr().String()
}

// maildirFind returns the messages of a Maildir that contain token.
func maildirFind(t *testing.T, dir, token string) []*mail.Message {
	t.Helper()
	var out []*mail.Message
	for _, sub := range []string{"new", "cur"} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			if err != nil || !strings.Contains(string(b), token) {
				continue
			}
			m, err := mail.ReadMessage(strings.NewReader(string(b)))
			if err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			out = append(out, m)
		}
	}
	return out
}

// bodies returns the text and HTML parts of a multipart/alternative message.
func bodies(t *testing.T, m *mail.Message) (text, html string) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p) // multipart.Part decodes quoted-printable
		switch {
		case strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain"):
			text = string(b)
		case strings.HasPrefix(p.Header.Get("Content-Type"), "text/html"):
			html = string(b)
		}
	}
	return text, html
}
