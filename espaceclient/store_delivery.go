package espaceclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// deliveryStore records inbound webhook deliveries by webhook-id (table
// inbound_deliveries). All of its SQL is in this file.
//
// A row is written in one of two ways:
//   - by claimDeliveryTx, in the transaction that stores the delivery's
//     request or message, with status_code 0 and the ids of what it stored;
//     finish then records the answer. A row left at 0 with ids means the
//     process died after the commit and before the answer was recorded.
//   - by recordRefusal, for a 4xx answer (nothing stored), in one statement.
//
// A 5xx answer writes nothing, so the sender's retry is processed again. A row
// at 0 without ids comes only from the previous version, which claimed the id
// in a transaction of its own before storing anything.
type deliveryStore struct{ pool *pgxpool.Pool }

// delivery is one row of inbound_deliveries.
type delivery struct {
	status    int
	response  []byte
	kind      string
	requestID string
	messageID string
	// age is how long ago the row was written, by the database's clock.
	age time.Duration
}

// errDeliveryClaimed is returned by claimDeliveryTx, and so by the Service,
// when another delivery of the same webhook-id committed its claim first; the
// transaction must be rolled back so nothing is stored twice.
var errDeliveryClaimed = errors.New("inbound delivery already claimed by a concurrent delivery")

// claimDeliveryTx claims the inbound delivery carried by ctx (see
// withDeliveryClaim), if any, in tx: the transaction that stores requestID's
// new request or its message messageID. A concurrent delivery of the same id
// that is still in flight makes it wait for that one's commit or rollback; a
// committed claim makes it fail with errDeliveryClaimed.
func claimDeliveryTx(ctx context.Context, tx pgx.Tx, requestID, messageID string) error {
	c, ok := deliveryClaimFrom(ctx)
	if !ok {
		return nil
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO inbound_deliveries (webhook_id, status_code, response, kind, request_id, message_id)
		VALUES ($1, 0, '', $2, $3, $4)
		ON CONFLICT (webhook_id) DO NOTHING`, c.id, c.kind, requestID, messageID)
	if err != nil {
		return fmt.Errorf("claiming inbound delivery %s: %w", c.id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("claiming inbound delivery %s: %w", c.id, errDeliveryClaimed)
	}
	return nil
}

// lookup returns delivery id's row; found is false when there is none.
func (s deliveryStore) lookup(ctx context.Context, id string) (d delivery, found bool, err error) {
	var response string
	var ageMicros int64
	err = s.pool.QueryRow(ctx, `
		SELECT status_code, response, kind, COALESCE(request_id::text, ''), COALESCE(message_id::text, ''),
		       (EXTRACT(EPOCH FROM now() - received_at) * 1e6)::bigint
		FROM inbound_deliveries WHERE webhook_id = $1`, id).
		Scan(&d.status, &response, &d.kind, &d.requestID, &d.messageID, &ageMicros)
	if errors.Is(err, pgx.ErrNoRows) {
		return delivery{}, false, nil
	}
	if err != nil {
		return delivery{}, false, fmt.Errorf("reading inbound delivery %s: %w", id, err)
	}
	d.response = []byte(response)
	d.age = time.Duration(ageMicros) * time.Microsecond
	return d, true, nil
}

// finish records the answer of a delivery whose claim is committed, unless an
// answer is recorded already (a concurrent delivery rebuilt it first). It
// returns the answer recorded, which every later delivery of id gets.
func (s deliveryStore) finish(ctx context.Context, id string, status int, response []byte) (int, []byte, error) {
	var got int
	var resp string
	err := s.pool.QueryRow(ctx, `
		UPDATE inbound_deliveries SET status_code = $2, response = $3
		WHERE webhook_id = $1 AND status_code = 0
		RETURNING status_code, response`, id, status, string(response)).Scan(&got, &resp)
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.pool.QueryRow(ctx, `SELECT status_code, response FROM inbound_deliveries WHERE webhook_id = $1`, id).Scan(&got, &resp)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil, fmt.Errorf("recording the answer of inbound delivery %s: no claim", id)
		}
	}
	if err != nil {
		return 0, nil, fmt.Errorf("recording the answer of inbound delivery %s: %w", id, err)
	}
	return got, []byte(resp), nil
}

// recordRefusal records a 4xx answer (nothing was stored) for delivery id, so
// a repeat gets the same bytes. inserted is false when the id already has a
// row (a concurrent delivery claimed or answered it first); nothing is
// changed then.
func (s deliveryStore) recordRefusal(ctx context.Context, id string, status int, response []byte) (inserted bool, err error) {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO inbound_deliveries (webhook_id, status_code, response) VALUES ($1, $2, $3)
		ON CONFLICT (webhook_id) DO NOTHING`, id, status, string(response))
	if err != nil {
		return false, fmt.Errorf("recording the refusal of inbound delivery %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// dropStaleClaim deletes delivery id's row when it is a claim of the previous
// version (status 0, nothing stored with it) older than maxAge, so the
// delivery can be processed again. dropped is false when the row is no
// longer such a claim.
func (s deliveryStore) dropStaleClaim(ctx context.Context, id string, maxAge time.Duration) (dropped bool, err error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM inbound_deliveries
		WHERE webhook_id = $1 AND status_code = 0 AND request_id IS NULL AND message_id IS NULL
		  AND received_at < now() - make_interval(secs => $2)`, id, maxAge.Seconds())
	if err != nil {
		return false, fmt.Errorf("dropping the stale claim of inbound delivery %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// PurgeInboundDeliveries deletes the inbound deliveries received before
// before and returns how many. A sender's retry of one that old is refused by
// its timestamp anyway (webhooks.inbound_tolerance, minutes), so the row no
// longer guards anything; the retention only keeps a trace for admins.
func (s *Store) PurgeInboundDeliveries(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM inbound_deliveries WHERE received_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purging old inbound deliveries: %w", err)
	}
	return tag.RowsAffected(), nil
}
