package web

import "net/http"

// registerAuth mounts the Kratos self-service pages (auth_*.go).
func (p *Pages) registerAuth(mux *http.ServeMux) {
}
