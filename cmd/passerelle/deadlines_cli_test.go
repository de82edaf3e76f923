package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"passerelle/config"
	"passerelle/espaceclient"
	"passerelle/internal/testenv"
)

type noOutbox struct{}

func (noOutbox) RequestCreated(context.Context, pgx.Tx, espaceclient.Request, espaceclient.Message) error {
	return nil
}
func (noOutbox) MessageAdded(context.Context, pgx.Tx, espaceclient.Request, espaceclient.Message, bool) error {
	return nil
}
func (noOutbox) RequestClosed(context.Context, pgx.Tx, espaceclient.Request, espaceclient.Message) error {
	return nil
}

// captureStdout runs fn with os.Stdout redirected and returns what it wrote.
func captureStdout(t *testing.T, fn func() int) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	code := fn()
	w.Close()
	os.Stdout = old
	return code, <-done
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// explain and report sla against a real database: a request filed a week
// ago and never answered is explained interval by interval and counted late.
func TestExplainAndReportOnARealDatabase(t *testing.T) {
	env := testenv.Env(t, "PASSERELLE_CONFIG", "REDMINE_SYNC_API_KEY")
	storePool, dbURL := testenv.NewPool(t)
	t.Setenv("PASSERELLE_DATABASE_URL", dbURL)
	t.Setenv("PASSERELLE_REDMINE_API_KEY", env[1])
	cfg, err := config.Load(env[0])
	if err != nil {
		t.Fatal(err)
	}
	filed := time.Now().AddDate(0, 0, -7)
	svc := espaceclient.NewService(espaceclient.NewStore(storePool), config.NewHolder(cfg), noOutbox{}, func() time.Time { return filed })
	req, err := svc.CreateRequest(context.Background(), espaceclient.Identity{ID: uuid(), Email: "c@test", Name: "Camille Test", Role: config.RoleTenant},
		espaceclient.NewRequest{Category: "autre", Subject: "Badge perdu", Body: "J'ai perdu mon badge."}, nil, espaceclient.SourceAPI)
	if err != nil {
		t.Fatal(err)
	}

	code, out := captureStdout(t, func() int { return cmdExplain([]string{strings.ToLower(req.Reference), "--config", env[0]}) })
	if code != 0 {
		t.Fatalf("explain: exit %d\n%s", code, out)
	}
	for _, want := range []string{"Demande " + req.Reference + " — Badge perdu", "Autre demande (autre)", "Camille Test, locataire",
		"1. La première réponse au client — EN RETARD (en cours)", "DU", "POURQUOI", "heures ouvrées — échéance dépassée"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
	if code, _ := captureStdout(t, func() int { return cmdExplain([]string{"D-1999-000001", "--config", env[0]}) }); code != 1 {
		t.Errorf("unknown reference: exit %d, want 1", code)
	}

	loc, _ := cfg.Calendar.Location()
	day := filed.In(loc).Format("2006-01-02")
	code, out = captureStdout(t, func() int {
		return cmdReport([]string{"sla", "--from", day, "--to", day, "--csv", "--config", env[0]})
	})
	if code != 0 {
		t.Fatalf("report: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "category,autre,Autre demande,1,0,0,1,0,0,0.0000,,") || !strings.Contains(out, "total,,Total,1,0,0,1,0,0,0.0000,,") {
		t.Errorf("report csv:\n%s", out)
	}
	code, out = captureStdout(t, func() int {
		return cmdReport([]string{"sla", "--from", day, "--to", day, "--config", env[0]})
	})
	if code != 0 || !strings.Contains(out, "Par rôle") || !strings.Contains(out, "0,0 %") {
		t.Errorf("report tables: exit %d\n%s", code, out)
	}
	if code := cmdReport([]string{"sla", "--from", day, "--config", env[0]}); code != 2 {
		t.Errorf("report without --to: exit %d, want 2", code)
	}
}
