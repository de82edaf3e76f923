package espaceclient

import (
	"context"
	"fmt"
)

// StoredBytes returns the bytes of files the identity's own messages store on
// the request (0 when requestID is "") and on all its requests.
func (s *Store) StoredBytes(ctx context.Context, identityID, requestID string) (onRequest, byIdentity int64, err error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err = s.pool.QueryRow(ctx, `
		SELECT coalesce(sum(a.size) FILTER (WHERE $2 <> '' AND a.request_id::text = $2), 0)::bigint,
		       coalesce(sum(a.size), 0)::bigint
		FROM attachments a JOIN messages m ON m.id = a.message_id
		WHERE m.identity_id = $1 AND m.author_kind = 'client'`, identityID, requestID).Scan(&onRequest, &byIdentity)
	if err != nil {
		return 0, 0, fmt.Errorf("counting stored attachment bytes: %w", err)
	}
	return onRequest, byIdentity, nil
}
