package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"passerelle/kratos/kratostest"
)

// route is one API call on a request: what a client may try on another's.
type requestRoute struct {
	name   string
	method string
	path   string
	send   func(c *customer, base, path string) hResp
}

// routesOn lists every route of the API that names a request (and one of its
// files): read, download, follow-up (JSON and with a file), close.
func routesOn(t *testing.T, requestID, attachmentURL, marker string) []requestRoute {
	jpg := photoJPEG(t, 8, 8)
	get := func(c *customer, base, path string) hResp { return c.getRaw(base, path) }
	return []requestRoute{
		{"GET request", http.MethodGet, "/api/v1/requests/" + requestID, get},
		{"GET attachment", http.MethodGet, attachmentURL, get},
		{"POST message (JSON)", http.MethodPost, "/api/v1/requests/" + requestID + "/messages", func(c *customer, base, path string) hResp {
			return c.rawJSON(base, path, []byte(`{"body":"Message glissé `+marker+`"}`))
		}},
		{"POST message (multipart, a file)", http.MethodPost, "/api/v1/requests/" + requestID + "/messages", func(c *customer, base, path string) hResp {
			return c.postMultipart(base, path, []formField{{"body", "Pièce glissée " + marker}}, []clientFile{{"glisse.jpg", jpg}})
		}},
		{"POST close", http.MethodPost, "/api/v1/requests/" + requestID + "/close", func(c *customer, base, path string) hResp {
			return sendAs(c.token, base, http.MethodPost, path, "", nil)
		}},
	}
}

// IDOR on every route of a request: another tenant, an owner of the lot on a
// category not shared with owners, an owner of another lot: 404 not_found
// everywhere, nothing listed, nothing changed for the author nor in Redmine.
// The lot's owner reads a shared category's request (200) and is refused
// writing to it (403 read_only): the 404s are the access rule's.
func TestHostileIDOR(t *testing.T) {
	t.Parallel()
	e := newHostileEnv(t, nil)
	tag := e.d.prefix
	marker := "IDOR-" + tag
	lot := uniqueLot()
	author, _ := newKratosClient(t, "tenant", []string{lot}, nil)
	otherTenant, _ := newKratosClient(t, "tenant", []string{uniqueLot()}, nil)
	lotOwner, _ := newKratosClient(t, "owner", []string{lot}, nil)
	otherOwner, _ := newKratosClient(t, "owner", []string{uniqueLot()}, nil)
	jpg := photoJPEG(t, 16, 16)

	private := author.createWithFiles(e.base, map[string]string{"category": "loyer-charges", "lot": lot,
		"subject": "Contestation de la régularisation " + tag, "body": "Je conteste le décompte de charges."}, []clientFile{{"decompte.jpg", jpg}})
	shared := author.createWithFiles(e.base, map[string]string{"category": "travaux", "lot": lot, "location": "cuisine",
		"payer": "owner", "urgency": "normal", "subject": "Fuite sous l'évier " + tag, "body": "Ça goutte."}, []clientFile{{"fuite.jpg", jpg}})
	own := otherTenant.create(e.base, "Ma propre demande "+tag, "Pour tenter d'y lire les pièces d'autrui.")
	issues := map[string]int{}
	for _, r := range []apiRequest{private, shared} {
		issues[r.ID] = author.waitIssue(e.base, r.ID, 60*time.Second)
	}
	otherTenant.waitIssue(e.base, own.ID, 60*time.Second)
	fileOf := func(id string) apiFile {
		th := getThread(author, e.base, id)
		if len(th.Messages) == 0 || len(th.Messages[0].Attachments) != 1 {
			t.Fatalf("request %s: no file on its first message:\n%s", id, th.summary())
		}
		return th.Messages[0].Attachments[0]
	}
	privateFile, sharedFile := fileOf(private.ID), fileOf(shared.ID)
	before := clientState(author, e.base)

	notFound := refusal{404, "not_found", ""}
	type attempt struct {
		who     string
		label   string
		c       *customer
		request apiRequest
		file    apiFile
	}
	for _, a := range []attempt{
		{"another tenant", "rent request", otherTenant, private, privateFile},
		{"another tenant", "repair request", otherTenant, shared, sharedFile},
		{"the lot's owner, category not shared", "rent request", lotOwner, private, privateFile},
		{"an owner of another lot", "repair request", otherOwner, shared, sharedFile},
	} {
		for _, rt := range routesOn(t, a.request.ID, a.file.URL, marker) {
			t.Run(a.who+"/"+a.label+"/"+rt.name, func(t *testing.T) {
				rt.send(a.c, e.base, rt.path).check(t, fmt.Sprintf("%s: %s %s of %s", a.who, rt.method, rt.path, a.request.Reference), notFound)
			})
		}
		for _, r := range a.c.list(e.base) {
			if r.ID == a.request.ID {
				t.Errorf("%s lists %s (%s)", a.who, a.request.Reference, a.request.Subject)
			}
		}
	}
	t.Run("another tenant, the author's file under its own request", func(t *testing.T) {
		path := "/api/v1/requests/" + own.ID + "/attachments/" + privateFile.ID
		otherTenant.getRaw(e.base, path).check(t, "GET "+path, notFound)
	})
	t.Run("ids that are not one", func(t *testing.T) {
		for _, id := range []string{"00000000-0000-0000-0000-000000000000", "not-a-uuid", private.Reference, "%2e%2e", private.ID + "'--"} {
			otherTenant.getRaw(e.base, "/api/v1/requests/"+id).check(t, "GET request "+id, notFound)
		}
	})
	t.Run("the lot's owner on a shared category: reads, may not write", func(t *testing.T) {
		for _, rt := range routesOn(t, shared.ID, sharedFile.URL, marker) {
			r := rt.send(lotOwner, e.base, rt.path)
			if rt.method == http.MethodGet {
				if r.status != http.StatusOK {
					t.Errorf("the lot's owner: %s %s: %s, want 200", rt.method, rt.path, r)
				}
				continue
			}
			r.check(t, "the lot's owner: "+rt.method+" "+rt.path, refusal{403, "read_only", ""})
		}
	})

	unchanged(t, "the attempts of others", author, e.base, before)
	time.Sleep(2 * pollInterval)
	for id, issue := range issues {
		if got := e.rm.issue(issue).notesContaining(marker); len(got) != 0 {
			t.Errorf("issue #%d (request %s) got %d note(s) from the attempts of others", issue, id, len(got))
		}
		if n := len(e.rm.issueAttachments(issue)); n != 1 {
			t.Errorf("issue #%d has %d files, want the author's one", issue, n)
		}
	}
	e.settleRedmine(3)
}

// A deactivated identity's session is refused on every route (401
// unauthenticated), and /hooks/inbound does not act for it (422
// unknown_identity); nothing is stored: once active again and logged in
// anew, the client finds its requests as they were. Deactivated through
// Kratos' admin API (state inactive) and through `passerelle identities
// deactivate`, which also revokes the sessions (the old token stays refused
// after `identities activate`).
func TestHostileDeactivatedIdentity(t *testing.T) {
	t.Parallel()
	e := newHostileEnv(t, nil)
	tag := e.d.prefix
	for _, how := range []string{"Kratos admin API", "passerelle identities"} {
		t.Run(how, func(t *testing.T) {
			lot := uniqueLot()
			id := kratostest.NewIdentity(t, kratostest.Options{Verified: true,
				MetadataPublic: map[string]any{"role": "tenant", "lots": []string{lot}, "mandates": []string{}}})
			c := &customer{t: t, token: kratostest.Login(t, id.Email, id.Password), lot: lot}
			req := c.createWithFiles(e.base, newRequestFields("Avant la désactivation "+tag, "Une demande et sa photo."),
				[]clientFile{{"photo.jpg", photoJPEG(t, 16, 16)}})
			c.waitIssue(e.base, req.ID, 60*time.Second)
			file := getThread(c, e.base, req.ID).Messages[0].Attachments[0]
			before := clientState(c, e.base)

			if how == "Kratos admin API" {
				setIdentityState(t, id.ID, "inactive")
			} else if code, out := e.d.run("identities", "deactivate", "--config", e.srv.in.path, id.ID); code != 0 || !strings.Contains(out, "every session revoked") {
				t.Fatalf("passerelle identities deactivate: exit %d\n%s", code, out)
			}
			unauth := refusal{401, "unauthenticated", ""}
			c.getRaw(e.base, "/api/v1/me").check(t, "GET /api/v1/me", unauth)
			c.getRaw(e.base, "/api/v1/requests").check(t, "GET /api/v1/requests", unauth)
			c.rawJSON(e.base, "/api/v1/requests", []byte(`{"category":"autre","subject":"Après `+tag+`","body":"x"}`)).check(t, "POST /api/v1/requests", unauth)
			for _, rt := range routesOn(t, req.ID, file.URL, "désactivé "+tag) {
				rt.send(c, e.base, rt.path).check(t, rt.method+" "+rt.path, unauth)
			}
			body, _ := json.Marshal(map[string]any{"type": "message", "identity": map[string]string{"id": id.ID},
				"reference": req.Reference, "body": "Par la passerelle, après la désactivation " + tag})
			e.postInbound(e.signed(body)).check(t, "/hooks/inbound naming the deactivated identity", refusal{422, "unknown_identity", "identity"})

			old := c.token
			if how == "Kratos admin API" {
				setIdentityState(t, id.ID, "active")
			} else {
				if code, out := e.d.run("identities", "activate", "--config", e.srv.in.path, id.ID); code != 0 {
					t.Fatalf("passerelle identities activate: exit %d\n%s", code, out)
				}
				c.getRaw(e.base, "/api/v1/me").check(t, "the session revoked at deactivation, after activate", unauth)
			}
			c.token = kratostest.Login(t, id.Email, id.Password)
			if old == c.token {
				t.Fatal("the new login gave the old session token")
			}
			unchanged(t, "the deactivated identity's attempts", c, e.base, before)
		})
	}
	e.settleRedmine(2)
}

// setIdentityState sets a Kratos identity's state ("active", "inactive")
// through the admin API (JSON Patch), as an admin would.
func setIdentityState(t *testing.T, identityID, state string) {
	t.Helper()
	patch := []byte(`[{"op":"replace","path":"/state","value":"` + state + `"}]`)
	req, err := http.NewRequest(http.MethodPatch, kratostest.AdminURL(t)+"/admin/identities/"+identityID, bytes.NewReader(patch))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if r := doRaw(req); r.err != nil || r.status != http.StatusOK {
		t.Fatalf("Kratos: setting identity %s %s: %s", identityID, state, r)
	}
}
