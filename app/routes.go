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
// and on the admin one. One place to read them all:
//
//	customer-facing (listen)
//	  /api/v1/...            the customer-space JSON API (espaceclient.API.Register)
//	  POST /hooks/inbound    signed messages from other systems (espaceclient.Inbound)
//	  POST /hooks/redmine    Redmine's webhook nudges (bridge.Hooks)
//	  GET /healthz, /readyz  liveness; readiness (the database answers)
//	admin (admin_listen, loopback by default)
//	  GET /metrics           Prometheus
//	  GET /healthz, /readyz
func (a *App) routes(sessions espaceclient.Sessions, directory espaceclient.IdentityDirectory) (public, admin http.Handler) {
	mux := http.NewServeMux()
	espaceclient.NewAPI(a.service, sessions, a.log).Register(mux)
	espaceclient.NewInbound(a.service, directory, a.log).Register(mux)
	bridge.NewHooks(a.bridge, a.holder, a.log).Register(mux)
	web.New(web.Config{Service: a.service, Sessions: sessions, Flows: a.flows,
		PublicURL: a.holder.Get().PublicURL, Log: a.log}).Register(mux)
	a.health(mux)

	adminMux := http.NewServeMux()
	adminMux.Handle("GET /metrics", promhttp.Handler())
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
