// Package identities is how the agency brings its clients in and lets them
// go: invitations (a Kratos identity with its role, lots and mandates, and a
// mail with a 48 h recovery link and code with which the client sets a
// password), invitations again, deactivations, now or at a date (a table of
// scheduled actions that a periodic job carries out once), and the import of
// the management software's CSV export. `passerelle identities …` drives it.
package identities

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/internal/fr"
	"passerelle/kratos"
	"passerelle/notify"
)

// InvitationTTL is how long an invitation's link and code work.
const InvitationTTL = 48 * time.Hour

// ErrExists is returned by Invite and ScheduleInvite when an identity
// already has the e-mail; the message tells the admin to use reinvite.
var ErrExists = errors.New("une identité existe déjà avec cette adresse")

// Config is what New needs. Holder is required; Pool only for scheduled
// actions.
type Config struct {
	Holder *config.Holder
	Pool   *pgxpool.Pool
	Log    *logrus.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service carries out the agency's identity actions. The Kratos directory
// and the mailer are built from the configuration in force at each call, so
// a reload applies.
type Service struct {
	holder *config.Holder
	pool   *pgxpool.Pool
	log    *logrus.Logger
	now    func() time.Time
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Holder == nil {
		return nil, errors.New("identities: Holder is required")
	}
	if cfg.Log == nil {
		cfg.Log = logrus.StandardLogger()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{holder: cfg.Holder, pool: cfg.Pool, log: cfg.Log, now: cfg.Now}, nil
}

func (s *Service) directory() *kratos.Directory {
	return kratos.NewDirectory(s.holder.Get().Kratos.AdminURL, nil)
}

// Directory is the Kratos directory of the configuration in force.
func (s *Service) Directory() *kratos.Directory { return s.directory() }

// Location is the calendar's time zone (Europe/Paris by default), in which
// the agency's dates are read.
func (s *Service) Location() *time.Location {
	loc, err := s.holder.Get().Calendar.Location()
	if err != nil {
		return time.UTC
	}
	return loc
}

// Invited is what an invitation did.
type Invited struct {
	ID    string
	Email string
	// Created is true when the identity was created by this call.
	Created   bool
	ExpiresAt time.Time
	// Link is the recovery link (a secret: the mail's; shown to the admin
	// only on request, never logged).
	Link string
}

// Invite creates the client's identity and mails the invitation. ErrExists
// (and nothing changed) when an identity already has the e-mail. When the
// mail cannot be sent the identity stays and the error says to reinvite.
func (s *Service) Invite(ctx context.Context, c kratos.ClientRecord) (Invited, error) {
	if err := Validate(&c); err != nil {
		return Invited{}, err
	}
	mailer, err := s.mailer()
	if err != nil {
		return Invited{}, err
	}
	dir := s.directory()
	id, err := dir.CreateClient(ctx, c)
	if errors.Is(err, kratos.ErrExists) {
		return Invited{}, fmt.Errorf("%s : %w ; pour lui envoyer un nouveau lien : passerelle identities reinvite --email %s", c.Email, ErrExists, c.Email)
	}
	if err != nil {
		return Invited{}, err
	}
	s.log.WithFields(logrus.Fields{"identity_id": id, "role": c.Role}).Info("client identity created")
	inv, err := s.sendInvitation(ctx, dir, mailer, id, c)
	inv.Created = true
	if err != nil {
		return inv, fmt.Errorf("identité %s créée, mais l'invitation n'est pas partie (%w) ; relancez : passerelle identities reinvite --email %s", id, err, c.Email)
	}
	return inv, nil
}

// Reinvite mails a fresh invitation (a new 48 h link and code) to an
// existing identity; the earlier codes stay valid until they expire.
func (s *Service) Reinvite(ctx context.Context, email string) (Invited, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return Invited{}, err
	}
	mailer, err := s.mailer()
	if err != nil {
		return Invited{}, err
	}
	dir := s.directory()
	c, err := dir.FindClient(ctx, email)
	if errors.Is(err, kratos.ErrNotFound) {
		return Invited{}, fmt.Errorf("aucune identité avec l'adresse %s ; pour l'inviter : passerelle identities invite --email %s …", email, email)
	}
	if err != nil {
		return Invited{}, err
	}
	if c.State != "active" {
		return Invited{}, fmt.Errorf("l'identité %s (%s) est désactivée : réactivez-la d'abord (passerelle identities activate %s)", c.ID, email, email)
	}
	return s.sendInvitation(ctx, dir, mailer, c.ID, c.ClientRecord)
}

// sendInvitation creates a recovery code valid InvitationTTL and mails it.
func (s *Service) sendInvitation(ctx context.Context, dir *kratos.Directory, mailer *notify.Mailer, id string, c kratos.ClientRecord) (Invited, error) {
	out := Invited{ID: id, Email: c.Email}
	rec, err := dir.RecoveryCode(ctx, id, InvitationTTL)
	if err != nil {
		return out, err
	}
	if rec.ExpiresAt.IsZero() {
		rec.ExpiresAt = s.now().Add(InvitationTTL)
	}
	out.ExpiresAt, out.Link = rec.ExpiresAt, rec.Link
	cfg := s.holder.Get()
	tpl, err := notify.LoadTemplates(cfg.Notifications.TemplatesDir)
	if err != nil {
		return out, err
	}
	r, err := tpl.Invitation(notify.Invitation{
		Agency:   agencyName(cfg.SMTP.From),
		Name:     c.Name(),
		Email:    c.Email,
		Link:     rec.Link,
		Code:     rec.Code,
		Expires:  fr.LongDateTime(rec.ExpiresAt.In(s.Location())),
		LoginURL: strings.TrimRight(cfg.PublicURL, "/") + "/connexion",
	})
	if err != nil {
		return out, err
	}
	if _, err := mailer.Notify(ctx, notify.Message{To: []string{c.Email}, Subject: r.Subject, Text: r.Text, HTML: r.HTML,
		Headers: map[string]string{"X-Passerelle-Kind": "invitation"}}); err != nil {
		return out, fmt.Errorf("envoi de l'invitation : %w", err)
	}
	s.log.WithFields(logrus.Fields{"identity_id": id, "expires_at": rec.ExpiresAt.UTC().Format(time.RFC3339)}).Info("invitation mailed")
	return out, nil
}

func (s *Service) mailer() (*notify.Mailer, error) {
	m, err := notify.NewMailer(s.holder.Get().SMTP)
	if errors.Is(err, notify.ErrDisabled) {
		return nil, errors.New("l'envoi de courriels est désactivé (smtp.addr vide) : impossible d'envoyer une invitation")
	}
	if err != nil {
		return nil, fmt.Errorf("smtp : %w", err)
	}
	return m, nil
}

// agencyName is the display name of smtp.from ("Agence Exemple <…>"), else
// "Votre agence".
func agencyName(from string) string {
	if a, err := mail.ParseAddress(from); err == nil && strings.TrimSpace(a.Name) != "" {
		return strings.TrimSpace(a.Name)
	}
	return "Votre agence"
}
