package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"passerelle/config"
)

// Message is one e-mail to send. From is the Mailer's.
type Message struct {
	To []string
	Cc []string
	// Subject is plain text (encoded by the mailer).
	Subject string
	// Text is the plain-text body; HTML, when set, an alternative.
	Text string
	HTML string
	// MessageID is the Message-ID without angle brackets. Set it to a value
	// derived from what the message is about (StableMessageID) so that a mail
	// sent again after a crash carries the same id and mail clients show it
	// once. Empty: a random one.
	MessageID string
	// Date is the Date header (zero: now).
	Date time.Time
	// Headers are extra headers, such as X-Passerelle-Reference.
	Headers map[string]string
}

// Mailer sends e-mail through the configured SMTP server. It is safe for
// concurrent use: each Notify opens its own connection (alerts are rare).
// The password is never logged nor put in an error.
type Mailer struct {
	host     string
	port     int
	tls      string
	username string
	password config.Secret
	from     string
	domain   string
	timeout  time.Duration
	now      func() time.Time
}

// ErrDisabled is returned by NewMailer when smtp.addr is empty: e-mail is
// turned off.
var ErrDisabled = errors.New("notify: e-mail disabled (smtp.addr is empty)")

// Option tunes a Mailer.
type Option func(*Mailer)

// WithTimeout bounds connecting and each SMTP exchange (default 30s).
func WithTimeout(d time.Duration) Option { return func(m *Mailer) { m.timeout = d } }

// WithClock sets the clock of the Date header (default time.Now).
func WithClock(now func() time.Time) Option { return func(m *Mailer) { m.now = now } }

// NewMailer builds a Mailer from the smtp section of the configuration:
// addr (host:port), tls (none, starttls: mandatory STARTTLS, tls: implicit
// TLS), username and password (SMTP AUTH, the best mechanism the server
// offers), from. ErrDisabled when addr is empty.
func NewMailer(c config.SMTP, opts ...Option) (*Mailer, error) {
	if strings.TrimSpace(c.Addr) == "" {
		return nil, ErrDisabled
	}
	host, portS, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtp.addr %q: expected host:port", c.Addr)
	}
	port, err := strconv.Atoi(portS)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("smtp.addr %q: bad port", c.Addr)
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("smtp.from %q: %v", c.From, err)
	}
	domain := "passerelle.local"
	if i := strings.LastIndex(from.Address, "@"); i >= 0 && i < len(from.Address)-1 {
		domain = from.Address[i+1:]
	}
	tls := c.TLS
	if tls == "" {
		tls = "starttls"
	}
	switch tls {
	case "none", "starttls", "tls":
	default:
		return nil, fmt.Errorf("smtp.tls %q: expected none, starttls or tls", c.TLS)
	}
	m := &Mailer{host: host, port: port, tls: tls, username: c.Username, password: c.Password,
		from: from.String(), domain: domain, timeout: 30 * time.Second, now: time.Now}
	for _, o := range opts {
		o(m)
	}
	return m, nil
}

// String describes the mailer without its password.
func (m *Mailer) String() string {
	auth := "no auth"
	if m.username != "" {
		auth = "auth as " + m.username
	}
	return fmt.Sprintf("smtp %s:%d (tls=%s, %s)", m.host, m.port, m.tls, auth)
}

// Domain is the domain of the sender address, used in Message-IDs.
func (m *Mailer) Domain() string { return m.domain }

// StableMessageID derives a Message-ID (without brackets) from the parts
// that identify what a message is about, such as a request id, a deadline id
// and the alert kind: the same parts give the same id.
func StableMessageID(domain string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "passerelle." + hex.EncodeToString(h[:12]) + "@" + domain
}

// Notify sends one message. Like Alertmanager's notifiers, it says whether a
// failure is worth retrying: retry is true when the server could not be
// reached, timed out, refused the login (a configuration being fixed) or
// answered a temporary 4xx; false when the message itself was refused for
// good (5xx on a recipient or the data) or cannot be built (a malformed
// address). The caller (a River job) retries with backoff, so a mail server
// that is down delays mail but never loses it.
func (m *Mailer) Notify(ctx context.Context, msg Message) (retry bool, err error) {
	if len(msg.To) == 0 && len(msg.Cc) == 0 {
		return false, errors.New("notify: no recipient")
	}
	gm, err := m.build(msg)
	if err != nil {
		return false, err
	}
	client, err := m.client()
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout+5*time.Second)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, gm); err != nil {
		return classify(err)
	}
	return false, nil
}

func (m *Mailer) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(m.port), gomail.WithTimeout(m.timeout)}
	switch m.tls {
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "tls":
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if m.username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(m.username), gomail.WithPassword(m.password.Reveal()))
	}
	c, err := gomail.NewClient(m.host, opts...)
	if err != nil {
		return nil, fmt.Errorf("notify: smtp client: %w", err)
	}
	return c, nil
}

func (m *Mailer) build(msg Message) (*gomail.Msg, error) {
	gm := gomail.NewMsg()
	if err := gm.From(m.from); err != nil {
		return nil, fmt.Errorf("notify: from: %w", err)
	}
	if len(msg.To) > 0 {
		if err := gm.To(msg.To...); err != nil {
			return nil, fmt.Errorf("notify: to: %w", err)
		}
	}
	if len(msg.Cc) > 0 {
		if err := gm.Cc(msg.Cc...); err != nil {
			return nil, fmt.Errorf("notify: cc: %w", err)
		}
	}
	gm.Subject(msg.Subject)
	id := msg.MessageID
	if id == "" {
		id = StableMessageID(m.domain, strconv.FormatInt(m.now().UnixNano(), 10), msg.Subject, strings.Join(msg.To, ","))
	}
	gm.SetMessageIDWithValue(strings.Trim(id, "<>"))
	date := msg.Date
	if date.IsZero() {
		date = m.now()
	}
	gm.SetDateWithValue(date)
	gm.SetGenHeader("Auto-Submitted", "auto-generated")
	gm.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	gm.SetGenHeader(gomail.HeaderXMailer, "Passerelle")
	for k, v := range msg.Headers {
		gm.SetGenHeader(gomail.Header(k), v)
	}
	gm.SetBodyString(gomail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		gm.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}
	return gm, nil
}

// classify tells whether a send error may pass on a retry.
func classify(err error) (bool, error) {
	var se *gomail.SendError
	if errors.As(err, &se) {
		switch se.Reason {
		case gomail.ErrSMTPMailFrom, gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
			if code := se.ErrorCode(); code >= 500 && code < 600 {
				return false, fmt.Errorf("notify: refused by the mail server: %w", err)
			}
		case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
			return false, fmt.Errorf("notify: message cannot be sent: %w", err)
		}
		return true, fmt.Errorf("notify: %w", err)
	}
	// Dial errors, timeouts, TLS and AUTH failures: the server or its
	// configuration may come back.
	return true, fmt.Errorf("notify: %w", err)
}
