package espaceclient

import (
	"net/http"
	"strings"
	"testing"

	"passerelle/config"
)

func TestValidateNewRequest(t *testing.T) {
	cfg := testConfig()
	tenant := Identity{ID: "7c1c1a52-58d6-4b8e-9d2b-7f1d3a1e9b01", Role: config.RoleTenant, Lots: []string{"A12"}}
	owner := Identity{ID: "7c1c1a52-58d6-4b8e-9d2b-7f1d3a1e9b02", Role: config.RoleOwner,
		Lots: []string{"A12", "B3"}, Mandates: []string{"M-001", "M-002"}}
	repair := NewRequest{Category: "travaux", Subject: "Fuite sous l'évier", Body: "L'eau coule.", Location: "Cuisine",
		Payer: "owner", Urgency: "high", Lot: "A12"}
	with := func(f func(*NewRequest)) NewRequest { r := repair; f(&r); return r }

	tests := []struct {
		name   string
		id     Identity
		in     NewRequest
		status int
		code   string
		field  string
		msg    string
	}{
		{"valid repair", tenant, repair, 0, "", "", ""},
		{"unknown category", tenant, with(func(r *NewRequest) { r.Category = "piscine" }),
			422, "unknown_category", "category", "La catégorie « piscine » n'existe pas."},
		{"missing category", tenant, with(func(r *NewRequest) { r.Category = " " }),
			422, "required", "category", "Choisissez la catégorie de votre demande."},
		{"owner-only category for a tenant", tenant, NewRequest{Category: "changement-rib", Subject: "RIB", Body: "Nouveau RIB"},
			403, "category_not_allowed", "category", "La catégorie « Changement de RIB » est réservée aux propriétaires."},
		{"tenant-only category for an owner", owner, with(func(r *NewRequest) { r.Category = "voisinage" }),
			403, "category_not_allowed", "category", "La catégorie « Trouble de voisinage » est réservée aux locataires."},
		{"empty subject", tenant, with(func(r *NewRequest) { r.Subject = " \n " }),
			422, "required", "subject", "Indiquez l'objet de votre demande."},
		{"subject too long", tenant, with(func(r *NewRequest) { r.Subject = strings.Repeat("é", 151) }),
			422, "too_long", "subject", "L'objet ne doit pas dépasser 150 caractères (il en compte 151)."},
		{"empty body", tenant, with(func(r *NewRequest) { r.Body = "" }),
			422, "required", "body", "Écrivez votre message."},
		{"body too long", tenant, with(func(r *NewRequest) { r.Body = strings.Repeat("x", 10001) }),
			422, "too_long", "body", "Le message ne doit pas dépasser 10000 caractères (il en compte 10001)."},
		{"body not utf-8", tenant, with(func(r *NewRequest) { r.Body = "caf\xe9" }),
			422, "invalid_text", "body", "Le message contient des caractères illisibles : le texte doit être encodé en UTF-8."},
		{"NUL in the subject", tenant, with(func(r *NewRequest) { r.Subject = "Fuite\x00" }),
			422, "invalid_text", "subject", "L'objet contient un caractère nul (U+0000) : retirez-le et envoyez à nouveau."},
		{"missing location", tenant, with(func(r *NewRequest) { r.Location = "" }),
			422, "required", "location", "Précisez l'emplacement exact (logement ou partie commune, pièce, étage…)."},
		{"missing payer", tenant, with(func(r *NewRequest) { r.Payer = "" }),
			422, "required", "payer", "Indiquez qui prend en charge les frais : le locataire, le propriétaire, le syndic ou un autre intervenant."},
		{"bad payer", tenant, with(func(r *NewRequest) { r.Payer = "mairie" }),
			422, "invalid_value", "payer", "« mairie » n'est pas une valeur possible pour qui prend en charge les frais : choisissez parmi tenant, owner, syndic, other, unknown."},
		{"bad urgency", tenant, with(func(r *NewRequest) { r.Urgency = "hier" }),
			422, "invalid_value", "urgency", "« hier » n'est pas une valeur possible pour l'urgence : choisissez parmi urgent, high, normal."},
		{"missing urgency", tenant, with(func(r *NewRequest) { r.Urgency = "" }),
			422, "required", "urgency", "Indiquez l'urgence : urgent, élevée ou normale."},
		{"lot not held", tenant, with(func(r *NewRequest) { r.Lot = "Z9" }),
			422, "unknown_lot", "lot", "Le lot « Z9 » ne fait pas partie de vos lots."},
		{"owner with two lots must pick one", owner, with(func(r *NewRequest) { r.Lot = "" }),
			422, "required", "lot", "Indiquez le lot concerné parmi les vôtres : A12, B3."},
		{"identity without lots", Identity{ID: tenant.ID, Role: config.RoleTenant}, with(func(r *NewRequest) { r.Lot = "" }),
			422, "required", "lot", "Cette catégorie demande un lot, mais aucun lot n'est rattaché à votre compte. Merci de contacter l'agence."},
		{"mandate not held", owner, NewRequest{Category: "changement-rib", Subject: "RIB", Body: "Nouveau RIB", Mandate: "M-999"},
			422, "unknown_mandate", "mandate", "Le mandat « M-999 » ne fait pas partie de vos mandats."},
		{"owner with two mandates must pick one", owner, NewRequest{Category: "changement-rib", Subject: "RIB", Body: "Nouveau RIB"},
			422, "required", "mandate", "Indiquez le mandat concerné parmi les vôtres : M-001, M-002."},
		{"valid RIB change", owner, NewRequest{Category: "changement-rib", Subject: "RIB", Body: "Nouveau RIB", Mandate: "M-002"}, 0, "", "", ""},
		{"lot given on a category without lot must still be held", tenant, NewRequest{Category: "comptabilite", Subject: "Loyer", Body: "?", Lot: "Z9"},
			422, "unknown_lot", "lot", "Le lot « Z9 » ne fait pas partie de vos lots."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := validateNewRequest(cfg, tt.id, tt.in)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Status != tt.status || err.Code != tt.code || err.Field != tt.field || err.Message != tt.msg {
				t.Fatalf("got  %d %s [%s] %q\nwant %d %s [%s] %q", err.Status, err.Code, err.Field, err.Message, tt.status, tt.code, tt.field, tt.msg)
			}
		})
	}
}

func TestValidateNewRequestNormalizes(t *testing.T) {
	cfg := testConfig()
	id := Identity{ID: "7c1c1a52-58d6-4b8e-9d2b-7f1d3a1e9b01", Role: config.RoleTenant, Lots: []string{"A12"}}
	out, _, err := validateNewRequest(cfg, id, NewRequest{
		Category: " travaux ", Subject: "  Fuite\r\nurgente ", Body: "Ligne 1\r\nLigne 2\x07\u202e ",
		Location: "Cuisine\n", Payer: "Propriétaire", Urgency: "URGENT",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := NewRequest{Category: "travaux", Subject: "Fuite urgente", Body: "Ligne 1\nLigne 2", Location: "Cuisine",
		Payer: "owner", Urgency: "urgent", Lot: "A12"}
	if out != want {
		t.Fatalf("got  %+v\nwant %+v", out, want)
	}
}

func TestStatusAndLabels(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"new", StatusLabel(config.StatusNew), "à traiter"},
		{"in progress", StatusLabel(config.StatusInProgress), "en cours"},
		{"waiting", StatusLabel(config.StatusWaitingClient), "en attente de votre réponse"},
		{"closed", StatusLabel(config.StatusClosed), "clôturé"},
		{"payer", PayerLabel("syndic"), "Le syndic de copropriété"},
		{"urgency", UrgencyLabel("high"), "Élevée"},
		{"reference", FormatReference("D", 2026, 123), "D-2026-000123"},
		{"reference past a million", FormatReference("D", 2026, 1234567), "D-2026-1234567"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestErrorJSONShape(t *testing.T) {
	e := invalid("required", "subject", "Indiquez l'objet de votre demande.")
	if e.Status != http.StatusUnprocessableEntity {
		t.Fatal(e.Status)
	}
	if got := asError(ErrNotFound); got.Status != 404 || got.Code != "not_found" {
		t.Fatalf("%+v", got)
	}
}
