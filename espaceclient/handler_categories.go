package espaceclient

import "net/http"

// categoryView is one category offered to the caller.
type categoryView struct {
	ID          string `json:"id"`
	Label       string `json:"label"`
	Description string `json:"description"`
	// Requires lists the fields the client must fill, among lot, location,
	// payer, urgency and mandate.
	Requires []string `json:"requires"`
	// SharedWithOwners tells whether the owners of the lot will read a request
	// of this category filed by someone else (categories[].shared_with_owners).
	SharedWithOwners bool `json:"shared_with_owners"`
	// Visibility tells a tenant, in French, whether the landlord will read a
	// request of this category; empty for owners.
	Visibility string `json:"visibility,omitempty"`
}

// categoriesView is GET /api/v1/categories. Payers and Urgencies give the
// allowed values of the payer and urgency fields with their French labels.
type categoriesView struct {
	Categories []categoryView `json:"categories"`
	Payers     []Option       `json:"payers"`
	Urgencies  []Option       `json:"urgencies"`
}

// requestFieldOrder is the order the required fields are listed in.
var requestFieldOrder = []string{"lot", "mandate", "location", "payer", "urgency"}

// handleCategories answers GET /api/v1/categories: only those the caller's
// role may use.
func (a *API) handleCategories(w http.ResponseWriter, r *http.Request, id Identity) error {
	cats, err := a.svc.Categories(id)
	if err != nil {
		return err
	}
	out := categoriesView{Categories: []categoryView{}, Payers: Payers, Urgencies: Urgencies}
	for _, c := range cats {
		v := categoryView{ID: c.ID, Label: c.Label, Description: c.Description, Requires: []string{},
			SharedWithOwners: c.SharedWithOwners, Visibility: categoryVisibility(id.Role, c)}
		for _, f := range requestFieldOrder {
			if c.Needs(f) {
				v.Requires = append(v.Requires, f)
			}
		}
		out.Categories = append(out.Categories, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
