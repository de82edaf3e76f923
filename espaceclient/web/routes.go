package web

import (
	"io/fs"
	"net/http"
)

// Register mounts every page on mux:
//
//	GET  /                              dashboard (mes demandes)
//	GET  /demandes/nouvelle             new request form
//	POST /demandes                      file it → 303 to its confirmation
//	GET  /demandes/{id}                 request page (thread, reply, close)
//	GET  /demandes/{id}/envoyee         confirmation with the dossier reference
//	POST /demandes/{id}/messages        reply (with files) → 303 to the request
//	POST /demandes/{id}/cloture         close → 303 to the request
//	GET  /demandes/{id}/fil             the thread alone (live refresh)
//	GET  /preferences, POST /preferences
//	GET  /connexion[?flow=][&return_to=] login (auth_login.go)
//	GET  /recuperation[?flow=]          recovery by code (auth_recovery.go)
//	GET  /verification[?flow=]          e-mail verification by code (auth_verification.go)
//	GET  /parametres[?flow=]            password change, signed in only (auth_settings.go)
//	GET  /erreur?id=                    Kratos' self-service error (auth_error.go)
//	POST /deconnexion                   logout through Kratos (auth_logout.go)
//	GET, POST /desabonnement/{token}    one-click unsubscribe from the mails (RFC 8058), no session
//	GET  /static/…                      style sheet and script
//
// Attachments download from the API (GET /api/v1/requests/{id}/attachments/{aid}),
// which accepts the same session cookie: one implementation of that rule.
func (p *Pages) Register(mux *http.ServeMux) {
	mux.Handle("GET /{$}", p.authed("page_dashboard", p.handleDashboard))
	mux.Handle("GET /demandes/nouvelle", p.authed("page_request_new", p.handleRequestNew))
	mux.Handle("POST /demandes", p.authed("page_request_create", p.handleRequestCreate))
	mux.Handle("GET /demandes/{id}", p.authed("page_request", p.handleRequest))
	mux.Handle("GET /demandes/{id}/envoyee", p.authed("page_request_done", p.handleRequestDone))
	mux.Handle("POST /demandes/{id}/messages", p.authed("page_message_create", p.handleMessageCreate))
	mux.Handle("POST /demandes/{id}/cloture", p.authed("page_request_close", p.handleRequestClose))
	mux.Handle("GET /demandes/{id}/fil", p.authed("page_thread", p.handleThread))
	mux.Handle("GET /preferences", p.authed("page_preferences", p.handlePreferences))
	mux.Handle("POST /preferences", p.authed("page_preferences_save", p.handlePreferencesSave))
	mux.Handle("GET /connexion", p.public("auth_login", p.handleLogin))
	mux.Handle("GET /recuperation", p.public("auth_recovery", p.handleRecovery))
	mux.Handle("GET /verification", p.public("auth_verification", p.handleVerification))
	mux.Handle("GET /parametres", p.public("auth_settings", p.handleSettings))
	mux.Handle("GET /erreur", p.public("auth_error", p.handleFlowError))
	mux.Handle("POST /deconnexion", p.public("auth_logout", p.handleLogout))
	mux.HandleFunc("GET /desabonnement/{token}", p.handleUnsubscribe)
	mux.HandleFunc("POST /desabonnement/{token}", p.handleUnsubscribe)

	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(http.FileServerFS(static))))
	// Every other path of the site: the 404 page.
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.notFound(w, nil) }))
}

// staticHandler lets browsers cache the style sheet and script for an hour.
func staticHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}
