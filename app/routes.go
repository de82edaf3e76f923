package app

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"passerelle/bridge"
	"passerelle/espaceclient"
	"passerelle/espaceclient/web"
)

// routes mounts every route of the daemon, on the customer-facing handler
// and on the admin one. One place to read them all (each group's own
// Register mounts exactly these, in the file named):
//
//	customer-facing (listen)
//	  the JSON API, X-Session-Token or the session cookie (espaceclient/api.go)
//	    GET  /api/v1/me, /api/v1/categories
//	    POST /api/v1/requests                       file a request (multipart, photos)
//	    GET  /api/v1/requests, /api/v1/requests/{id}
//	    POST /api/v1/requests/{id}/messages         follow-up (reopens a closed request)
//	    POST /api/v1/requests/{id}/close
//	    GET  /api/v1/requests/{id}/attachments/{aid}
//	    any other /api/v1/ path: JSON 404, or 405 with Allow
//	  the pages, the session cookie (espaceclient/web/routes.go)
//	    GET  /  GET /demandes/nouvelle  POST /demandes  GET /demandes/{id}[/envoyee|/fil]
//	    POST /demandes/{id}/messages  POST /demandes/{id}/cloture  GET, POST /preferences
//	    GET  /connexion /recuperation /verification /parametres /erreur  POST /deconnexion (Kratos flows)
//	    GET, POST /desabonnement/{token}            one-click unsubscribe, no session
//	    GET  /static/…; any other path: the 404 page
//	  hooks, no session
//	    POST /hooks/inbound    signed messages from other systems (espaceclient/inbound.go)
//	    POST /hooks/redmine    Redmine's webhook nudges (bridge/hooks.go)
//	  GET /healthz, /readyz    liveness; readiness (the database answers)
//	admin (admin_listen, loopback by default)
//	  GET /metrics             Prometheus (the App's own registry)
//	  GET /healthz, /readyz
func (a *App) routes(sessions espaceclient.Sessions, directory espaceclient.IdentityDirectory) (public, admin http.Handler) {
	mux := http.NewServeMux()
	espaceclient.NewAPI(a.service, sessions, a.log).Register(mux)
	espaceclient.NewInbound(a.service, directory, a.log).WithMetrics(a.hooks).Register(mux)
	bridge.NewHooks(a.bridge, a.holder, a.log).WithMetrics(a.hooks).Register(mux)
	web.New(web.Config{Service: a.service, Sessions: sessions, Flows: a.flows,
		PublicURL: a.holder.Get().PublicURL, Log: a.log}).Register(mux)
	a.health(mux)

	adminMux := http.NewServeMux()
	// As promhttp.Handler() does for the default registry: the scrapes are
	// counted too (promhttp_metric_handler_requests_total).
	adminMux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(a.registry,
		promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{})))
	a.health(adminMux)
	return mux, adminMux
}

// health mounts /healthz (the process answers) and /readyz (the database
// answers too).
func (a *App) health(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := a.pool.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database unreachable\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}
