package deadlines

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"passerelle/config"
	"passerelle/internal/testenv"
	"passerelle/redmine"
)

// newTestService builds a Service on a pool and a Redmine client that are
// never reached.
func newTestService(t *testing.T, holder *config.Holder) (*Service, error) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return New(Config{Holder: holder, Pool: pool, Redmine: redmine.New(redmine.Config{URL: "http://127.0.0.1:1"}),
		Directory: func(context.Context) (*redmine.Directory, error) { return nil, errors.New("no Redmine here") }})
}

// A reload whose mailer cannot be built (smtp.from: Agence, issue 11) is
// refused with the reason: the configuration in force and everything built
// from it stay. A good one is put in force with its rules and mailer.
func TestReloadAppliedOnlyWhenRulesAndMailerBuild(t *testing.T) {
	cfg := testenv.ExampleConfig(t)
	holder := config.NewHolder(cfg)
	s, err := newTestService(t, holder)
	if err != nil {
		t.Fatal(err)
	}
	before := s.rt.Load()
	if before.cfg != cfg || before.mailer == nil || before.rules == nil {
		t.Fatalf("runtime = %+v, want the example's rules and mailer", before)
	}

	bad := *cfg
	bad.SMTP.From = "Agence"
	err = holder.Apply(&bad)
	if err == nil || !strings.Contains(err.Error(), `smtp.from "Agence"`) {
		t.Fatalf("Apply = %v, want the mailer's refusal", err)
	}
	if holder.Get() != cfg || s.rt.Load() != before {
		t.Fatal("a refused configuration was put in force")
	}

	good := *cfg
	good.SMTP.Addr = ""
	good.Deadlines.WarnAt = "50%"
	if err := holder.Apply(&good); err != nil {
		t.Fatal(err)
	}
	after := s.rt.Load()
	if holder.Get() != &good || after.cfg != &good || after.mailer != nil || after.rules.version == before.rules.version {
		t.Errorf("after a good reload: runtime %+v (rules %s, was %s), want the new config, e-mail off, new rules",
			after, after.rules.version, before.rules.version)
	}
}

// A Service is not built on a configuration that cannot send mail.
func TestNewRefusesAConfigurationThatCannotSendMail(t *testing.T) {
	cfg := testenv.ExampleConfig(t)
	cfg.SMTP.From = "Agence"
	if _, err := newTestService(t, config.NewHolder(cfg)); err == nil || !strings.Contains(err.Error(), "smtp.from") {
		t.Fatalf("New = %v, want the smtp.from refusal", err)
	}
}
