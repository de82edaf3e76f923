package web

import (
	"errors"
	"net/http"

	"passerelle/kratos"
)

// flowErrorData is what templates/auth_error.html receives.
type flowErrorData struct {
	Text string
	// Ref is Kratos' error id, for the agency to find it in Kratos' log.
	Ref string
}

// handleFlowError serves GET /erreur?id=: Kratos' self-service error page
// (selfservice.flows.error.ui_url), in French, with the way back to the
// login page. Kratos' own English reason is never shown: it is for the log.
func (p *Pages) handleFlowError(w http.ResponseWriter, r *http.Request) error {
	id := r.URL.Query().Get("id")
	fe, err := p.flows.FlowError(r.Context(), id)
	status := http.StatusOK
	text := "auth.error.generic"
	switch {
	case errors.Is(err, kratos.ErrFlowGone):
		status, text = http.StatusNotFound, "auth.error.unknown"
	case err != nil:
		return err
	default:
		p.log.WithField("kratos_error_id", fe.ID).WithField("code", fe.Code).WithField("reason", fe.Reason).
			Info("kratos self-service error shown")
		switch {
		case fe.Code == http.StatusForbidden:
			text = "auth.error.forbidden"
		case fe.Code == http.StatusGone || fe.Code == http.StatusNotFound:
			text = "auth.error.expired"
		case fe.Code >= 500:
			text = "auth.error.server"
		}
		if fe.Code >= 400 && fe.Code <= 599 {
			status = fe.Code
		}
	}
	p.render(w, status, "auth_error", page{Title: p.cat.T("auth.error.title"),
		Data: flowErrorData{Text: p.cat.T(text), Ref: fe.ID}})
	return nil
}
