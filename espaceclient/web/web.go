// Package web is the customer space as server-rendered pages: the same
// Service as the JSON API behind it (one implementation of every rule, two
// front doors), html/template pages embedded in the binary, French first
// with every string in one catalogue (catalogue.go).
//
// The pages work without JavaScript; static/app.js only adds photo previews
// and a periodic refresh of a request's thread. Sign-in, recovery,
// verification and password changes are Kratos self-service browser flows
// whose forms these pages render (auth_*.go): Kratos' ui_urls point here.
//
// Passerelle sets no cookie of its own: the only cookies are Kratos' (its
// session, HttpOnly, and its CSRF cookie), Secure whenever Kratos runs
// without --dev. Every state-changing form of Passerelle's own is refused
// from another origin (http.CrossOriginProtection: Sec-Fetch-Site, then
// Origin), on top of the session cookie's SameSite=Lax.
package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/sirupsen/logrus"

	"passerelle/espaceclient"
	"passerelle/kratos"
)

// Flows is what the pages need of Kratos' self-service browser flows
// (kratos.Flows in production).
type Flows interface {
	// BrowserURL is where a browser starts a flow of kind (login, recovery,
	// verification, settings), to come back to returnTo ("" for Kratos'
	// default).
	BrowserURL(kind, returnTo string) string
	// Flow fetches flow id of kind, with the browser's cookies (Kratos checks
	// its CSRF cookie). kratos.ErrFlowGone when it expired or does not
	// exist, kratos.ErrUnavailable when Kratos cannot answer.
	Flow(ctx context.Context, kind, id string, r *http.Request) (kratos.Flow, error)
	// FlowError fetches the self-service error id.
	FlowError(ctx context.Context, id string) (kratos.FlowError, error)
	// LogoutURL returns the URL that ends the browser's session.
	LogoutURL(ctx context.Context, r *http.Request) (string, error)
}

// Config is what New needs. Service, Sessions and Flows are required.
type Config struct {
	Service  *espaceclient.Service
	Sessions espaceclient.Sessions
	Flows    Flows
	// PublicURL is the customer space's address (config public_url): the
	// return address given to Kratos' flows.
	PublicURL string
	Log       *logrus.Logger
}

// Pages serves the customer space's pages.
type Pages struct {
	svc       *espaceclient.Service
	sessions  espaceclient.Sessions
	flows     Flows
	publicURL string
	log       *logrus.Logger
	csrf      *http.CrossOriginProtection
	tpl       *templates
	cat       Catalogue
}

// New returns the pages; it panics if the embedded templates do not parse
// (a build defect, caught by every test).
func New(c Config) *Pages {
	if c.Log == nil {
		c.Log = logrus.New()
		c.Log.SetFormatter(&logrus.JSONFormatter{})
	}
	p := &Pages{svc: c.Service, sessions: c.Sessions, flows: c.Flows, log: c.Log,
		publicURL: strings.TrimRight(c.PublicURL, "/"), csrf: http.NewCrossOriginProtection(), cat: French}
	p.tpl = mustParseTemplates(p.cat, p.local)
	return p
}

// TrustOrigin lets another origin post Passerelle's forms (a portal that
// embeds them); see http.CrossOriginProtection.AddTrustedOrigin.
func (p *Pages) TrustOrigin(origin string) error { return p.csrf.AddTrustedOrigin(origin) }

// absolute returns the public address of path (for Kratos' return_to).
func (p *Pages) absolute(path string) string {
	if p.publicURL == "" {
		return path
	}
	return p.publicURL + path
}

// localPath keeps a return path only when it is a path of this site (never
// another host: no open redirect).
func localPath(raw string) string {
	if raw == "" || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || strings.HasPrefix(raw, "/\\") {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return ""
	}
	return u.RequestURI()
}
