package bridge

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"passerelle/espaceclient"
)

// Outbox implements espaceclient.Outbox: it enqueues the mirroring jobs in
// the transaction that stores the client's action, so a message the client saw
// accepted is always mirrored, and one that was not stored never is. (The
// customer space claims an inbound webhook delivery in that transaction
// itself, before calling the Outbox.)
func (b *Bridge) Outbox() espaceclient.Outbox { return outbox{b} }

type outbox struct{ b *Bridge }

func (o outbox) RequestCreated(ctx context.Context, tx pgx.Tx, req espaceclient.Request, first espaceclient.Message) error {
	if err := o.b.deadlines.InitTx(ctx, tx, req.ID); err != nil {
		return fmt.Errorf("computing the deadlines of %s: %w", req.Reference, err)
	}
	if _, err := o.b.river.InsertTx(ctx, tx, MirrorRequestArgs{RequestID: req.ID}, nil); err != nil {
		return fmt.Errorf("enqueuing the mirroring of %s: %w", req.Reference, err)
	}
	return nil
}

func (o outbox) MessageAdded(ctx context.Context, tx pgx.Tx, req espaceclient.Request, msg espaceclient.Message, reopen bool) error {
	if _, err := o.b.river.InsertTx(ctx, tx, MirrorMessageArgs{RequestID: req.ID, MessageID: msg.ID, Reopen: reopen}, nil); err != nil {
		return fmt.Errorf("enqueuing the mirroring of a message on %s: %w", req.Reference, err)
	}
	return nil
}

func (o outbox) RequestClosed(ctx context.Context, tx pgx.Tx, req espaceclient.Request, msg espaceclient.Message) error {
	if _, err := o.b.river.InsertTx(ctx, tx, MirrorMessageArgs{RequestID: req.ID, MessageID: msg.ID, Close: true}, nil); err != nil {
		return fmt.Errorf("enqueuing the closing of %s: %w", req.Reference, err)
	}
	return nil
}
