package web

import (
	"fmt"
	"strconv"

	"passerelle/kratos"
)

// Catalogue holds every string the pages show, by key, for one language.
// Templates write {{t "key"}} or {{t "key" arg…}} (fmt verbs); Go code calls
// T. French is the only catalogue today; another language is another
// Catalogue with the same keys (TestCatalogueHasEveryKeyTheTemplatesUse).
type Catalogue map[string]string

// T returns the string of key, formatted with args; a missing key shows
// as "⟦key⟧" so it is seen at once (and the catalogue test fails).
func (c Catalogue) T(key string, args ...any) string {
	s, ok := c[key]
	if !ok {
		return "⟦" + key + "⟧"
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// kratosText translates a Kratos ui text by its id ("kratos.<id>" in the
// catalogue, with Kratos' own English text as the fallback).
func kratosText(c Catalogue, v any) string {
	t, ok := v.(kratos.Text)
	if !ok {
		return fmt.Sprint(v)
	}
	if s, ok := c["kratos."+strconv.FormatInt(t.ID, 10)]; ok {
		return s
	}
	return t.Text
}

// French is the customer space in French.
var French = Catalogue{
	"site.name":      "Espace client",
	"site.agency":    "Votre agence",
	"site.skip":      "Aller au contenu",
	"nav.label":      "Menu principal",
	"nav.dashboard":  "Mes demandes",
	"nav.new":        "Nouvelle demande",
	"nav.prefs":      "Préférences",
	"nav.settings":   "Mot de passe",
	"nav.logout":     "Se déconnecter",
	"nav.signed_in":  "Connecté : %s",
	"form.errors":    "Le formulaire contient %d erreur(s) :",
	"form.error_one": "Le formulaire contient une erreur :",
	"form.required":  "(obligatoire)",
	"form.optional":  "(facultatif)",

	"dashboard.title":              "Mes demandes",
	"dashboard.empty":              "Aucune demande.",
	"dashboard.none_yet":           "Vous n'avez encore déposé aucune demande.",
	"dashboard.new":                "Déposer une demande",
	"dashboard.col.new":            "À traiter",
	"dashboard.col.in_progress":    "En cours",
	"dashboard.col.waiting_client": "En attente de votre réponse",
	"dashboard.col.closed":         "Clôturés",
	"dashboard.count":              "%d demande(s)",
	"dashboard.reference":          "Dossier %s",
	"dashboard.last_activity":      "Dernière activité : %s",
	"dashboard.due":                "Réponse attendue avant le %s",
	"dashboard.lots.title":         "Demandes déposées sur vos lots",
	"dashboard.lots.hint":          "Demandes de vos locataires, en lecture seule.",
	"dashboard.filed_by":           "Déposée par %s",

	"new.title":           "Nouvelle demande",
	"new.intro":           "Décrivez votre demande : l'agence la reçoit aussitôt et vous répond ici et par e-mail.",
	"new.category":        "Catégorie",
	"new.category.choose": "Choisissez une catégorie",
	"new.subject":         "Objet",
	"new.subject.hint":    "En quelques mots, par exemple « Fuite sous l'évier ».",
	"new.body":            "Description",
	"new.body.hint":       "Ce qui se passe, depuis quand, ce que vous avez déjà essayé.",
	"new.location":        "Emplacement exact",
	"new.location.hint":   "Logement ou partie commune, pièce, étage…",
	"new.urgency":         "Urgence",
	"new.payer":           "Qui prend en charge les frais ?",
	"new.payer.unknown":   "Je ne sais pas",
	"new.payer.hint":      "Si vous ne savez pas, l'agence le détermine : c'est sa première étape.",
	"new.lot":             "Lot concerné",
	"new.lot.choose":      "Choisissez le lot",
	"new.mandate":         "Mandat concerné",
	"new.mandate.choose":  "Choisissez le mandat",
	"new.files":           "Photos, devis ou documents",
	"new.files.hint":      "JPEG, PNG, WebP, HEIC ou PDF ; jusqu'à %d fichiers de %s chacun.",
	"new.files.again":     "Pour des raisons de sécurité, votre navigateur ne garde pas les fichiers choisis : choisissez-les à nouveau.",
	"new.needs":           "Champs demandés pour cette catégorie : %s",
	"new.submit":          "Envoyer la demande",
	"new.visibility":      "Qui lira cette demande",
	"new.no_category":     "Aucune catégorie de demande n'est ouverte à votre profil : contactez l'agence.",

	"done.title":     "Demande envoyée",
	"done.reference": "Votre numéro de dossier",
	"done.text":      "Conservez ce numéro : il figure dans chaque e-mail de l'agence au sujet de cette demande.",
	"done.see":       "Voir la demande",
	"done.back":      "Retour à mes demandes",

	"request.title":        "Demande %s",
	"request.reference":    "Numéro de dossier",
	"request.redmine":      "Numéro de suivi à l'agence",
	"request.category":     "Catégorie",
	"request.status":       "Statut",
	"request.transmission": "Transmission",
	"request.location":     "Emplacement",
	"request.urgency":      "Urgence",
	"request.payer":        "Prise en charge des frais",
	"request.lot":          "Lot",
	"request.mandate":      "Mandat",
	"request.due":          "Réponse attendue",
	"request.created":      "Déposée le",
	"request.linked":       "Suite de la demande",
	"request.thread":       "Échanges",
	"request.history":      "Historique du statut",
	"request.you":          "Vous",
	"request.agency":       "Agence",
	"request.files":        "Pièces jointes",
	"request.download":     "Télécharger %s (%s)",
	"request.reply":        "Répondre",
	"request.reply.body":   "Votre message",
	"request.reply.files":  "Joindre des fichiers",
	"request.reply.submit": "Envoyer le message",
	"request.reply.reopen": "Cette demande est clôturée : votre message la rouvrira.",
	"request.reply.linked": "Cette demande est clôturée : votre message ouvrira une nouvelle demande liée à celle-ci.",
	"request.close":        "Clôturer la demande",
	"request.close.hint":   "Votre demande est réglée ? Clôturez-la : vous pourrez toujours écrire à nouveau.",
	"request.sent":         "Votre message a été envoyé à l'agence.",
	"request.sent_linked":  "Votre message a ouvert cette nouvelle demande, liée à la précédente.",
	"request.closed":       "La demande est clôturée.",
	"request.refresh":      "Les nouveaux messages s'affichent d'eux-mêmes.",

	"prefs.title":       "Préférences",
	"prefs.intro":       "Choisissez quand l'agence vous écrit au sujet de vos demandes.",
	"prefs.mode":        "E-mails",
	"prefs.immediate":   "À chaque nouvelle (réponse, changement de statut)",
	"prefs.daily":       "Une fois par jour, à 8 h, un résumé de la veille",
	"prefs.ack_note":    "L'accusé de réception d'une nouvelle demande part toujours aussitôt.",
	"prefs.follow_lots": "Recevoir aussi les nouvelles des demandes déposées sur mes lots",
	"prefs.submit":      "Enregistrer",
	"prefs.saved":       "Vos préférences sont enregistrées.",

	"error.not_found.title":   "Page introuvable",
	"error.not_found.text":    "Cette page n'existe pas, ou vous n'y avez pas accès.",
	"error.back":              "Retour à mes demandes",
	"error.kratos.title":      "Connexion momentanément indisponible",
	"error.kratos.text":       "Le service de connexion ne répond pas pour l'instant. Vos demandes sont conservées : réessayez dans quelques instants.",
	"error.db.title":          "Service momentanément indisponible",
	"error.db.text":           "L'espace client ne peut pas répondre pour l'instant. Rien de ce que vous avez envoyé n'est perdu : réessayez dans quelques instants.",
	"error.no_role.title":     "Accès non ouvert",
	"error.no_role.text":      "Votre compte n'est pas encore rattaché à un logement ou à un mandat. Contactez l'agence.",
	"error.forbidden.title":   "Action refusée",
	"error.cross_origin.text": "Cette action doit être faite depuis l'espace client de l'agence. Rechargez la page et recommencez.",
	"error.internal.title":    "Erreur",
	"error.internal.text":     "Une erreur est survenue de notre côté. Réessayez ; si elle persiste, contactez l'agence.",
	"error.retry":             "Réessayer",
}
