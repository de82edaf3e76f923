package bridge

import (
	"context"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"passerelle/config"
	"passerelle/espaceclient"
)

// ClientService is what the inbound webhook needs from the customer space:
// the same validation, storage and outbox as its API.
type ClientService interface {
	CreateRequest(ctx context.Context, id espaceclient.Identity, in espaceclient.NewRequest, files []espaceclient.Upload, source string) (espaceclient.Request, error)
	AddMessageByReference(ctx context.Context, id espaceclient.Identity, reference, body string, files []espaceclient.Upload, source string) (espaceclient.Request, espaceclient.Message, error)
	// GetRequest reads a request with its thread as its author sees it: a
	// delivery stored but never answered gets its answer rebuilt from it.
	GetRequest(ctx context.Context, id espaceclient.Identity, requestID string) (espaceclient.Request, error)
}

// Identities finds clients by Kratos id or e-mail.
type Identities interface {
	ByID(ctx context.Context, id string) (espaceclient.Identity, error)
	ByEmail(ctx context.Context, email string) (espaceclient.Identity, error)
}

// Hooks serves POST /hooks/redmine and POST /hooks/inbound.
type Hooks struct {
	bridge     *Bridge
	holder     *config.Holder
	svc        ClientService
	identities Identities
	store      Store
	deliveries deliveryStore
	log        *logrus.Logger

	// Bounds against unauthenticated callers (hooks_guard.go); tests lower them.
	inboundSlots, redmineSlots             slots
	inboundReadTimeout, redmineReadTimeout time.Duration
}

// NewHooks returns the webhook handlers.
func NewHooks(b *Bridge, holder *config.Holder, svc ClientService, identities Identities, pool *pgxpool.Pool, log *logrus.Logger) *Hooks {
	return &Hooks{bridge: b, holder: holder, svc: svc, identities: identities, store: b.cfg.Store, deliveries: deliveryStore{pool: pool}, log: log,
		inboundSlots: newSlots(inboundConcurrency), redmineSlots: newSlots(redmineConcurrency),
		inboundReadTimeout: inboundReadTimeout, redmineReadTimeout: redmineReadTimeout}
}

// Register adds the hooks to mux.
func (h *Hooks) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /hooks/redmine", h.handleRedmineHook)
	mux.HandleFunc("POST /hooks/inbound", h.handleInbound)
}
