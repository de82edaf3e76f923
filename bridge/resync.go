package bridge

import (
	"context"
	"fmt"
)

// Resync enqueues again the mirroring of what is not in Redmine yet: the
// requests without an issue (clearing their recorded error) and the client
// messages and closings not mirrored. With references, only those requests.
// It is what an admin runs after fixing the cause of a permanent error
// (`passerelle resync`); jobs already queued are not doubled (unique jobs).
func (b *Bridge) Resync(ctx context.Context, references []string) ([]string, error) {
	reqs, msgs, err := b.sync.unmirrored(ctx, references)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range reqs {
		if err := b.cfg.Store.SetMirrorError(ctx, r.id, ""); err != nil {
			return out, err
		}
		res, err := b.river.Insert(ctx, MirrorRequestArgs{RequestID: r.id, Resync: true}, nil)
		if err != nil {
			return out, fmt.Errorf("enqueuing %s: %w", r.reference, err)
		}
		out = append(out, fmt.Sprintf("%s: request enqueued%s", r.reference, skipped(res.UniqueSkippedAsDuplicate)))
	}
	for _, m := range msgs {
		res, err := b.river.Insert(ctx, MirrorMessageArgs{RequestID: m.requestID, MessageID: m.id, Close: m.close}, nil)
		if err != nil {
			return out, fmt.Errorf("enqueuing a message of %s: %w", m.reference, err)
		}
		what := "message"
		if m.close {
			what = "closing"
		}
		out = append(out, fmt.Sprintf("%s: %s %s enqueued%s", m.reference, what, m.id, skipped(res.UniqueSkippedAsDuplicate)))
	}
	return out, nil
}

func skipped(dup bool) string {
	if dup {
		return " (already queued)"
	}
	return ""
}
