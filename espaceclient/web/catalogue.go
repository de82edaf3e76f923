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
	"prefs.none":        "Aucun e-mail, sauf l'accusé de réception de chaque nouvelle demande",
	"prefs.follow_lots": "Recevoir aussi les nouvelles des demandes déposées sur mes lots",
	"prefs.submit":      "Enregistrer",
	"prefs.saved":       "Vos préférences sont enregistrées.",

	"unsub.title":     "Ne plus recevoir d'e-mails",
	"unsub.intro":     "Vous ne recevrez plus d'e-mails au sujet de vos demandes, sauf l'accusé de réception de chaque nouvelle demande. Vous suivrez vos demandes dans votre espace client.",
	"unsub.submit":    "Ne plus recevoir d'e-mails",
	"unsub.done":      "C'est fait : vous ne recevrez plus d'e-mails au sujet de vos demandes.",
	"unsub.done.more": "L'accusé de réception de chaque nouvelle demande vous parviendra toujours.",
	"unsub.prefs":     "Choisir autrement dans vos préférences",

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

	// --- Kratos self-service pages (auth_*.go, templates/auth_*.html) ---
	"auth.login.title":             "Connexion",
	"auth.login.intro":             "Connectez-vous avec l'adresse e-mail que l'agence a enregistrée pour vous.",
	"auth.login.forgot":            "Mot de passe oublié ?",
	"auth.recovery.title":          "Mot de passe oublié",
	"auth.recovery.intro":          "Indiquez votre adresse e-mail : vous recevrez un code pour choisir un nouveau mot de passe.",
	"auth.verification.title":      "Vérification de votre adresse e-mail",
	"auth.verification.intro":      "Indiquez votre adresse e-mail : vous recevrez un code pour la confirmer.",
	"auth.settings.title":          "Changer de mot de passe",
	"auth.settings.intro":          "Choisissez votre nouveau mot de passe. Vos autres sessions ouvertes seront fermées.",
	"auth.back_to_login":           "Retour à la connexion",
	"auth.back_to_dashboard":       "Retour à mes demandes",
	"auth.field.identifier":        "Adresse e-mail",
	"auth.field.email":             "Adresse e-mail",
	"auth.field.password":          "Mot de passe",
	"auth.field.new_password":      "Nouveau mot de passe",
	"auth.field.new_password.hint": "Au moins 10 caractères ; une phrase de quelques mots est facile à retenir.",
	"auth.field.code":              "Code reçu par e-mail",
	"auth.field.code.hint":         "Le code à 6 chiffres de l'e-mail que nous venons de vous envoyer.",
	"auth.error.title":             "Connexion impossible",
	"auth.error.generic":           "La connexion n'a pas pu aboutir. Recommencez depuis la page de connexion.",
	"auth.error.unknown":           "Cette erreur n'existe plus ou a expiré. Recommencez depuis la page de connexion.",
	"auth.error.forbidden":         "Pour des raisons de sécurité, la demande a été refusée. Rechargez la page de connexion et recommencez.",
	"auth.error.expired":           "Le délai pour terminer cette étape est dépassé. Recommencez depuis la page de connexion.",
	"auth.error.server":            "Le service de connexion a rencontré une erreur. Réessayez dans quelques instants ; si elle persiste, contactez l'agence.",
	"auth.error.ref":               "Référence de l'erreur, à donner à l'agence : %s",

	// Kratos' ui texts by id (Kratos v1.3.1 text/id.go); a missing id shows
	// Kratos' own text. 1070002 is not here on purpose: it is a label Kratos
	// takes from the identity schema's title, already in French.
	"kratos.1010001": "Se connecter",
	"kratos.1010003": "Pour continuer, confirmez votre identité en saisissant à nouveau votre mot de passe.",
	"kratos.1010013": "Continuer",
	"kratos.1010022": "Se connecter",
	"kratos.1050001": "Vos modifications sont enregistrées.",
	"kratos.1060001": "Votre compte est récupéré : choisissez dès maintenant un nouveau mot de passe.",
	"kratos.1060002": "Si cette adresse est celle de votre compte, un e-mail contenant un lien de récupération vient de vous être envoyé. Pensez à vérifier vos courriers indésirables.",
	"kratos.1060003": "Si cette adresse est celle de votre compte, un code de récupération vient de vous être envoyé par e-mail. Saisissez-le ci-dessous ; pensez à vérifier vos courriers indésirables.",
	"kratos.1070001": "Mot de passe",
	"kratos.1070003": "Enregistrer",
	"kratos.1070004": "Identifiant",
	"kratos.1070005": "Valider",
	"kratos.1070006": "Vérifier le code",
	"kratos.1070007": "Adresse e-mail",
	"kratos.1070008": "Renvoyer le code",
	"kratos.1070009": "Continuer",
	"kratos.1070010": "Code de récupération",
	"kratos.1070011": "Code de vérification",
	"kratos.1080001": "Un e-mail contenant un lien de vérification vient de vous être envoyé.",
	"kratos.1080002": "Votre adresse e-mail est vérifiée. Merci !",
	"kratos.1080003": "Un code de vérification vient de vous être envoyé par e-mail. Saisissez-le ci-dessous ; pensez à vérifier vos courriers indésirables.",
	"kratos.4000001": "Cette valeur n'est pas valide.",
	"kratos.4000002": "Ce champ est obligatoire.",
	"kratos.4000003": "Cette valeur est trop courte.",
	"kratos.4000004": "Cette valeur n'a pas le format attendu.",
	"kratos.4000005": "Ce mot de passe ne peut pas être utilisé : choisissez-en un autre, plus long et moins courant.",
	"kratos.4000006": "Adresse e-mail ou mot de passe incorrect. Vérifiez l'orthographe de l'un et de l'autre.",
	"kratos.4000010": "Votre compte n'est pas encore activé : vérifiez d'abord votre adresse e-mail.",
	"kratos.4000017": "Cette valeur est trop longue.",
	"kratos.4000031": "Ce mot de passe ressemble trop à votre adresse e-mail : choisissez-en un autre.",
	// 10 is kratos.yml's password.config.min_password_length.
	"kratos.4000032": "Ce mot de passe est trop court : il doit compter au moins 10 caractères.",
	"kratos.4000033": "Ce mot de passe est trop long.",
	"kratos.4000034": "Ce mot de passe figure dans des fuites de données connues : choisissez-en un autre.",
	"kratos.4000037": "Aucun compte ne correspond à cette adresse, ou il n'a pas de mot de passe.",
	"kratos.4010001": "Le délai de connexion est dépassé : recommencez.",
	"kratos.4010002": "Le formulaire de connexion est incomplet : saisissez votre adresse e-mail et votre mot de passe.",
	"kratos.4010003": "Le formulaire d'inscription est incomplet.",
	"kratos.4010004": "Le formulaire est incomplet : saisissez votre nouveau mot de passe.",
	"kratos.4010005": "Le formulaire est incomplet : saisissez votre adresse e-mail.",
	"kratos.4010006": "Le formulaire est incomplet : saisissez votre adresse e-mail.",
	"kratos.4010007": "Cette étape est déjà terminée.",
	"kratos.4050001": "Le délai pour changer de mot de passe est dépassé : recommencez.",
	"kratos.4060001": "Cette étape est déjà terminée.",
	"kratos.4060002": "La récupération du compte a échoué : recommencez.",
	"kratos.4060004": "Ce lien de récupération n'est plus valable ou a déjà servi : demandez-en un nouveau.",
	"kratos.4060005": "Le délai de récupération est dépassé : recommencez.",
	"kratos.4060006": "Ce code n'est pas valable ou a déjà servi. Vérifiez-le, ou demandez un nouveau code.",
	"kratos.4070001": "Ce lien de vérification n'est plus valable ou a déjà servi : demandez-en un nouveau.",
	"kratos.4070002": "Cette étape est déjà terminée.",
	"kratos.4070003": "La vérification a échoué : recommencez.",
	"kratos.4070005": "Le délai de vérification est dépassé : recommencez.",
	"kratos.4070006": "Ce code n'est pas valable ou a déjà servi. Vérifiez-le, ou demandez un nouveau code.",
	"kratos.5000001": "Le service de connexion a rencontré une erreur. Réessayez dans quelques instants.",
	// --- end of the Kratos self-service block ---
}
