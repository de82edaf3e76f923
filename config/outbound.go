package config

import (
	"net/url"
	"regexp"
	"strconv"
)

// OutboundWebhook is an endpoint every client-visible event is POSTed to as
// JSON, signed per Standard Webhooks (webhook-id, webhook-timestamp,
// webhook-signature): an existing portal, an SMS gateway.
type OutboundWebhook struct {
	// Name identifies the endpoint in logs, in the database and in
	// `passerelle notifications webhooks` (lower-case letters, digits, - and _).
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
	// SecretFile holds the signing secret ("whsec_" + base64, or raw bytes).
	SecretFile string `yaml:"secret_file"`
	Secret     Secret `yaml:"-"`
}

var webhookNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

func (w *Webhooks) loadOutboundSecrets(v *validator) {
	for i := range w.Outbound {
		o := &w.Outbound[i]
		path := "webhooks.outbound[" + strconv.Itoa(i) + "].secret_file"
		if o.SecretFile == "" {
			v.errf(path, "required: expected the file holding this endpoint's signing secret")
			continue
		}
		s, err := loadSecret("", o.SecretFile)
		if err != nil {
			v.errf(path, "%v", err)
			continue
		}
		o.Secret = s
	}
}

func (w Webhooks) validateOutbound(v *validator) {
	seen := map[string]bool{}
	for i, o := range w.Outbound {
		path := "webhooks.outbound[" + strconv.Itoa(i) + "]"
		if !webhookNameRe.MatchString(o.Name) {
			v.errf(path+".name", "%q: expected 1 to 40 lower-case letters, digits, - or _, such as portail", o.Name)
		} else if seen[o.Name] {
			v.errf(path+".name", "%q is used by two endpoints: expected each name once", o.Name)
		}
		seen[o.Name] = true
		u, err := url.Parse(o.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errf(path+".url", "%q is not an http(s) URL such as https://portail.agence.example/hooks/passerelle", o.URL)
		}
	}
}
