package web

import (
	"net/http"

	"passerelle/config"
	"passerelle/espaceclient"
)

// dashboardColumn is one of the seeds' four columns.
type dashboardColumn struct {
	ID       config.ClientStatus
	Title    string
	Requests []espaceclient.RequestSummary
}

type dashboardData struct {
	Columns []dashboardColumn
	// OnLots are, for an owner, the requests filed on the owner's lots by
	// others (read-only).
	OnLots []espaceclient.RequestSummary
	Total  int
}

// handleDashboard answers GET /: the client's requests in the seeds' columns
// (à traiter, en cours, en attente de votre réponse, clôturés), and for an
// owner the requests filed on their lots, read-only. One indexed query
// (Service.ListRequests).
func (p *Pages) handleDashboard(w http.ResponseWriter, r *http.Request, id espaceclient.Identity) error {
	reqs, err := p.svc.ListRequests(r.Context(), id, "")
	if err != nil {
		return err
	}
	d := dashboardData{}
	for _, cs := range []config.ClientStatus{config.StatusNew, config.StatusInProgress, config.StatusWaitingClient, config.StatusClosed} {
		d.Columns = append(d.Columns, dashboardColumn{ID: cs, Title: p.cat.T("dashboard.col." + string(cs))})
	}
	for _, req := range reqs {
		s := p.svc.Summary(id, req)
		if req.IdentityID != id.ID {
			d.OnLots = append(d.OnLots, s)
			continue
		}
		d.Total++
		for i := range d.Columns {
			if d.Columns[i].ID == req.Status {
				d.Columns[i].Requests = append(d.Columns[i].Requests, s)
			}
		}
	}
	p.render(w, http.StatusOK, "dashboard", page{Title: p.cat.T("dashboard.title"), Identity: &id, Nav: "dashboard", Data: d})
	return nil
}
