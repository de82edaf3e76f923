package espaceclient

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"passerelle/config"
	"passerelle/kratos"
	"passerelle/kratos/kratostest"
)

// writeRefused checks a write answered 403 rights_changed.
func writeRefused(t *testing.T, what string, res response) {
	t.Helper()
	if res.status != http.StatusForbidden || res.errCode(t) != "rights_changed" {
		t.Fatalf("%s: %d %s, want 403 rights_changed", what, res.status, res.body)
	}
}

// An author whose rights changed in Kratos (mandate removed, switched to
// tenant, lot removed) can no longer write to an old request (follow-up,
// close, reopen, linked request), through the API or the service the
// inbound webhook uses, and nothing is stored; reading it still works.
func TestWritesRecheckCurrentRights(t *testing.T) {
	tests := []struct {
		name     string
		mode     string // on_client_message_after_close
		role     string // the author's role when filing
		lots     []string
		mandates []string
		file     func(*client) response
		// after is the author's metadata_public once its rights changed.
		after map[string]any
	}{
		{"owner's mandate removed, reopen", "reopen", "owner", []string{"L1"}, []string{"M-1"}, fileRIB,
			map[string]any{"role": "owner", "lots": []string{"L1"}, "mandates": []string{}}},
		{"owner's mandate removed, new_request", "new_request", "owner", []string{"L1"}, []string{"M-1"}, fileRIB,
			map[string]any{"role": "owner", "lots": []string{"L1"}, "mandates": []string{}}},
		{"owner switched to tenant, reopen", "reopen", "owner", []string{"L1"}, []string{"M-1"}, fileRIB,
			map[string]any{"role": "tenant", "lots": []string{}, "mandates": []string{}}},
		{"owner switched to tenant, new_request", "new_request", "owner", []string{"L1"}, []string{"M-1"}, fileRIB,
			map[string]any{"role": "tenant", "lots": []string{}, "mandates": []string{}}},
		{"tenant's lot removed, new_request", "new_request", "tenant", []string{"L1"}, nil,
			func(c *client) response { return c.postMultipart("/api/v1/requests", repairFields("L1"), nil) },
			map[string]any{"role": "tenant", "lots": []string{"L2"}, "mandates": []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *config.Config) { c.Redmine.OnClientMessageAfterClose = tt.mode })
			author := e.newClient(tt.role, tt.lots, tt.mandates)
			open, closed := tt.file(author), tt.file(author)
			if open.status != http.StatusCreated || closed.status != http.StatusCreated {
				t.Fatalf("filing: %d %s / %d %s", open.status, open.body, closed.status, closed.body)
			}
			openID, closedID := str(t, open.json(t), "id"), str(t, closed.json(t), "id")
			if res := author.do(http.MethodPost, "/api/v1/requests/"+closedID+"/close", nil, ""); res.status != http.StatusOK {
				t.Fatalf("closing while entitled: %d %s", res.status, res.body)
			}
			kratostest.SetMetadataPublic(t, author.id, tt.after)
			requests, messages, attachments := e.rowCounts()
			created, added, closedCalls := e.outbox.counts()

			writeRefused(t, "follow-up on the closed request",
				author.postMultipart("/api/v1/requests/"+closedID+"/messages",
					map[string]string{"body": "Voici mon nouveau RIB."}, []Upload{{"rib.pdf", pdfBytes()}}))
			writeRefused(t, "follow-up on the open request",
				author.postJSON("/api/v1/requests/"+openID+"/messages", map[string]string{"body": "Et celui-ci ?"}))
			writeRefused(t, "closing the open request", author.do(http.MethodPost, "/api/v1/requests/"+openID+"/close", nil, ""))
			writeRefused(t, "closing the closed request again", author.do(http.MethodPost, "/api/v1/requests/"+closedID+"/close", nil, ""))

			// The service itself refuses, with the identity as Kratos gives it
			// now (what the inbound webhook acts with).
			id, err := kratos.NewDirectory(kratostest.AdminURL(t), nil).ByID(context.Background(), author.id)
			if err != nil {
				t.Fatal(err)
			}
			for _, reqID := range []string{closedID, openID} {
				_, err := e.svc.AddMessage(context.Background(), id, reqID, "Nouveau RIB (canal entrant).", nil, SourceInbound)
				var ae *Error
				if !errors.As(err, &ae) || ae.Code != "rights_changed" || ae.Status != http.StatusForbidden {
					t.Fatalf("service AddMessage on %s: %v, want 403 rights_changed", reqID, err)
				}
			}
			if _, err := e.svc.Close(context.Background(), id, openID); err == nil || !strings.Contains(err.Error(), "rights_changed") {
				t.Fatalf("service Close: %v, want rights_changed", err)
			}

			e.expectRows(requests, messages, attachments)
			if c, a, cl := e.outbox.counts(); c != created || a != added || cl != closedCalls {
				t.Fatalf("outbox calls went from %d %d %d to %d %d %d", created, added, closedCalls, c, a, cl)
			}

			// Reading stays allowed, and says why replying is not.
			for _, reqID := range []string{openID, closedID} {
				res := author.get("/api/v1/requests/" + reqID)
				if res.status != http.StatusOK {
					t.Fatalf("reading %s: %d %s", reqID, res.status, res.body)
				}
				got := res.json(t)
				if at(t, got, "can_reply") != false || !strings.Contains(str(t, got, "reply_refusal"), "Vous ne pouvez plus écrire") {
					t.Fatalf("reading %s: can_reply/reply_refusal: %s", reqID, res.body)
				}
			}
			if l := author.get("/api/v1/requests").json(t); length(t, l, "requests") != 2 {
				t.Fatalf("listing: %v", l)
			}
		})
	}
}

func fileRIB(c *client) response {
	return c.postJSON("/api/v1/requests", map[string]string{
		"category": "changement-rib", "subject": "RIB", "body": "Nouveau RIB ci-joint.", "mandate": "M-1"})
}

// A linked request (new_request mode) goes through the validation of a new
// request: with its rights intact the author gets one, on the same mandate.
func TestLinkedRequestKeepsValidatedMandate(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Redmine.OnClientMessageAfterClose = "new_request" })
	owner := e.newClient("owner", []string{"L1"}, []string{"M-1", "M-2"})
	res := fileRIB(owner)
	id := str(t, res.json(t), "id")
	if res := owner.do(http.MethodPost, "/api/v1/requests/"+id+"/close", nil, ""); res.status != http.StatusOK {
		t.Fatalf("close: %d %s", res.status, res.body)
	}
	res = owner.postJSON("/api/v1/requests/"+id+"/messages", map[string]string{"body": "Encore un changement."})
	if res.status != http.StatusCreated {
		t.Fatalf("linked: %d %s", res.status, res.body)
	}
	m := res.json(t)
	if str(t, m, "request.mandate") != "M-1" || str(t, m, "request.linked_request_id") != id ||
		!strings.HasPrefix(str(t, m, "request.subject"), "Suite D-") || at(t, m, "request.can_reply") != true {
		t.Fatalf("linked request: %s", res.body)
	}
}

// Owners read, on their lots, only the requests of categories shared with
// owners (travaux in the test config): a tenant's rent or neighbour request
// on the owner's lot stays hidden (404, not listed, no download); tenants are
// told which of their requests the landlord reads.
func TestOwnerSeesOnlySharedCategories(t *testing.T) {
	e := newEnv(t)
	owner := e.newClient("owner", []string{"L1"}, []string{"M-1"})
	tenant := e.newClient("tenant", []string{"L1"}, nil)
	repair := tenant.postMultipart("/api/v1/requests", repairFields("L1"), nil)
	rent := tenant.postMultipart("/api/v1/requests", map[string]string{
		"category": "loyer-charges", "subject": "Régularisation contestée", "body": "Je conteste le montant.", "lot": "L1"},
		[]Upload{{"quittance.pdf", pdfBytes()}})
	neighbour := tenant.postJSON("/api/v1/requests", map[string]string{
		"category": "voisinage", "subject": "Bruit", "body": "Le voisin du dessus.", "lot": "L1", "location": "Chambre"})
	for n, r := range map[string]response{"repair": repair, "rent": rent, "neighbour": neighbour} {
		if r.status != http.StatusCreated {
			t.Fatalf("filing %s: %d %s", n, r.status, r.body)
		}
	}
	repairID := str(t, repair.json(t), "id")
	rentView := rent.json(t)
	rentID, neighbourID := str(t, rentView, "id"), str(t, neighbour.json(t), "id")

	list := owner.get("/api/v1/requests").json(t)
	if length(t, list, "requests") != 1 || str(t, list, "requests.0.id") != repairID {
		t.Fatalf("owner lists %v, want only the repair", list)
	}
	res := owner.get("/api/v1/requests/" + repairID)
	if res.status != http.StatusOK || at(t, res.json(t), "can_reply") != false || str(t, res.json(t), "visibility") != VisibilityOwnerReader {
		t.Fatalf("owner reading the repair: %d %s", res.status, res.body)
	}
	for _, id := range []string{rentID, neighbourID} {
		if res := owner.get("/api/v1/requests/" + id); res.status != http.StatusNotFound {
			t.Fatalf("owner reading %s: %d %s", id, res.status, res.body)
		}
		if res := owner.postJSON("/api/v1/requests/"+id+"/messages", map[string]string{"body": "?"}); res.status != http.StatusNotFound {
			t.Fatalf("owner posting on %s: %d", id, res.status)
		}
	}
	if dl := owner.get(str(t, rentView, "messages.0.attachments.0.url")); dl.status != http.StatusNotFound {
		t.Fatalf("owner downloading the rent request's file: %d", dl.status)
	}

	// What the tenant is told, on the request and on the form.
	for id, want := range map[string]string{rentID: VisibilityPrivate, neighbourID: VisibilityPrivate} {
		if got := str(t, tenant.get("/api/v1/requests/"+id).json(t), "visibility"); got != want {
			t.Errorf("tenant's %s visibility %q, want %q", id, got, want)
		}
	}
	rv := tenant.get("/api/v1/requests/" + repairID).json(t)
	if at(t, rv, "shared_with_owners") != true || !strings.Contains(str(t, rv, "visibility"), "Le propriétaire du lot « L1 » peut lire") {
		t.Errorf("tenant's repair: %v", rv)
	}
	cats := tenant.get("/api/v1/categories").json(t)
	for i := 0; i < length(t, cats, "categories"); i++ {
		c := at(t, cats, "categories."+strconv.Itoa(i)).(map[string]any)
		want := VisibilityPrivateCategory
		if c["id"] == "travaux" {
			want = VisibilitySharedCategory
		}
		if c["visibility"] != want || c["shared_with_owners"] != (c["id"] == "travaux") {
			t.Errorf("category %v: visibility %v shared %v", c["id"], c["visibility"], c["shared_with_owners"])
		}
	}
}
