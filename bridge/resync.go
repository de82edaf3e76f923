package bridge

import (
	"context"
	"fmt"
)

// Resync queues again the drain of every request that is not wholly in
// Redmine: without an issue, stopped by a permanent error or a spent retry
// budget (the error is cleared first), or with follow-ups and closings not
// mirrored. With references, only those requests. It is what an admin runs
// after fixing the cause `passerelle check --live` reported. The drain
// applies the request's actions in order, so the follow-ups and the close
// that waited behind a failed request are mirrored too, each exactly once;
// running resync twice only queues a drain that finds nothing to do.
func (b *Bridge) Resync(ctx context.Context, references []string) ([]string, error) {
	reqs, err := b.sync.unsynced(ctx, references)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range reqs {
		if r.mirrorError != "" {
			if err := b.cfg.Store.SetMirrorError(ctx, r.id, ""); err != nil {
				return out, err
			}
		}
		if _, err := b.river.Insert(ctx, MirrorRequestArgs{RequestID: r.id, Resync: true}, nil); err != nil {
			return out, fmt.Errorf("enqueuing %s: %w", r.reference, err)
		}
		line := fmt.Sprintf("%s: queued", r.reference)
		if !r.hasIssue {
			line += " (request"
		} else {
			line += " ("
		}
		switch {
		case !r.hasIssue && r.pending > 1: // the first message goes with the request
			line += fmt.Sprintf(" and %d follow-up(s) or close)", r.pending-1)
		case !r.hasIssue:
			line += ")"
		default:
			line += fmt.Sprintf("%d follow-up(s) or close)", r.pending)
		}
		if r.mirrorError != "" {
			line += "; was stopped: " + r.mirrorError
		}
		out = append(out, line)
	}
	return out, nil
}
