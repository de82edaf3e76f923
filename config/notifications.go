package config

import (
	"fmt"
	"os"
	"time"
)

// Notifications tunes the mails to clients about their requests
// (notify/clientnotify).
type Notifications struct {
	// DigestTime is when clients who chose "une fois par jour" get their
	// digest, "HH:MM" in calendar.time_zone (default "08:00").
	DigestTime string `yaml:"digest_time"`
	// SweepInterval is how often new events are looked for (default 5s): an
	// immediate mail leaves within about this long.
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// Disabled stops every mail to clients (the events are still recorded).
	Disabled bool `yaml:"disabled"`
	// TemplatesDir overrides the embedded mail templates, every mail's: any
	// *.txt.tmpl or *.html.tmpl file there redefines the templates it
	// defines, by name — clients' mails "event.txt", "event.html",
	// "digest.txt", "digest.html" (notify/clientnotify/templates);
	// invitations "invitation.subject", "invitation.txt", "invitation.html";
	// staff alerts "deadline_warning.*", "deadline_escalation.*"
	// (notify/templates). A template that does not parse, or with which a mail
	// no longer renders, is refused by `passerelle check`, at start and at
	// reload.
	TemplatesDir string `yaml:"templates_dir"`
}

// Defaults of Notifications.
const (
	DefaultDigestTime        = "08:00"
	DefaultNotifySweepPeriod = 5 * time.Second
)

func (n *Notifications) applyDefaults() {
	if n.DigestTime == "" {
		n.DigestTime = DefaultDigestTime
	}
	if n.SweepInterval == 0 {
		n.SweepInterval = DefaultNotifySweepPeriod
	}
}

// DigestClock returns the digest's hour and minute.
func (n Notifications) DigestClock() (hour, minute int, err error) {
	t, err := time.Parse("15:04", n.DigestTime)
	if err != nil {
		return 0, 0, fmt.Errorf("%q: expected a time of day as HH:MM, such as 08:00", n.DigestTime)
	}
	return t.Hour(), t.Minute(), nil
}

func (n Notifications) validate(v *validator, path string) {
	if n.TemplatesDir != "" {
		if st, err := os.Stat(n.TemplatesDir); err != nil || !st.IsDir() {
			v.errf(path+".templates_dir", "%q is not a directory: expected the directory of the mail templates that override the embedded ones", n.TemplatesDir)
		}
	}
	if _, _, err := n.DigestClock(); err != nil {
		v.errf(path+".digest_time", "%v", err)
	}
	if n.SweepInterval < time.Second || n.SweepInterval > 10*time.Minute {
		v.errf(path+".sweep_interval", "%s: expected between 1s and 10m", n.SweepInterval)
	}
}
