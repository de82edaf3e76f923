package bridge

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"

	"passerelle/deadlines"
)

// deadlineUpdater is what the sync engine's jobs need from the deadlines
// product (package deadlines, *deadlines.Service): computing a new request's
// deadlines in the transaction that stores it, and again once something that
// may move them is stored.
type deadlineUpdater interface {
	InitTx(ctx context.Context, tx pgx.Tx, requestID string) error
	AfterEvent(ctx context.Context, log *logrus.Entry, requestID string, issueDue *string)
}

// Deadlines returns the deadlines service the bridge runs (its workers and
// periodic job are on the bridge's River client).
func (b *Bridge) Deadlines() *deadlines.Service { return b.deadlinesSvc }
