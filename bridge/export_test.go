package bridge

// What the integration tests need of the bridge's internals. They are in the
// external package bridge_test because their harness builds the daemon
// through app.New (the production wiring), and app imports bridge. Compiled
// for tests only; each entry only forwards to the unexported code it names.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"passerelle/internal/hookguard"
	"passerelle/redmine"
)

// IssueIDs lists the ids of issues (issueIDs); MessageMarker is the marker a
// message's Redmine note carries (messageMarker).
var (
	IssueIDs      = issueIDs
	MessageMarker = messageMarker
	// LiveFingerprintSQL is the rewind guard's fingerprint expression.
	LiveFingerprintSQL = liveFingerprintSQL
)

// SetNow moves the bridge's clock (its jobs' and the deadlines'); set it
// before Start.
func (b *Bridge) SetNow(now func() time.Time) { b.cfg.Now = now }

// SetCrashAfterIssueCreated and SetCrashAfterNoteWritten set the crash
// points (crashPoints): f fails the job right after Redmine kept the write.
func (b *Bridge) SetCrashAfterIssueCreated(f func(req any) error) { b.crashes.afterIssueCreated = f }
func (b *Bridge) SetCrashAfterNoteWritten(f func(msg any) error)  { b.crashes.afterNoteWritten = f }

// RefreshIssue runs what a refresh_issue job does (a webhook nudge's fetch).
func (b *Bridge) RefreshIssue(ctx context.Context, id redmine.IssueID) error {
	return b.refreshIssue(ctx, id)
}

// ApplyIssue applies issue to the request (the caller holds its lock).
func (b *Bridge) ApplyIssue(ctx context.Context, requestID string, issue redmine.Issue) error {
	return b.applyIssue(ctx, requestID, issue)
}

// WithRequestLock runs fn under the request's lock; false when another holds it.
func (b *Bridge) WithRequestLock(ctx context.Context, requestID string, fn func() error) (bool, error) {
	return b.sync.withRequestLock(ctx, requestID, fn)
}

// IssuesCursor is the poll's cursor; false when no poll has set it.
func (b *Bridge) IssuesCursor(ctx context.Context) (time.Time, bool, error) {
	return b.sync.cursor(ctx, issuesCursor)
}

// IssuesCursorName and WideCursorName are the rows of sync_cursors of the
// poll's cursor and of its overlap re-read's (poller_wide.go).
const (
	IssuesCursorName = issuesCursor
	WideCursorName   = wideCursor
)

// WideCursor is the overlap re-read's cursor; false when none is stored.
func (b *Bridge) WideCursor(ctx context.Context) (time.Time, bool, error) {
	return b.sync.cursor(ctx, wideCursor)
}

// StrandedRequests are the requests the redrive sweep would requeue now.
func (b *Bridge) StrandedRequests(ctx context.Context) ([]string, error) {
	return b.sync.strandedRequests(ctx, redriveGrace, redriveBatch)
}

// Redrive, Purge and AfterPoll run the redrive sweep, the deliveries' purge
// and what follows a poll (waking the jobs that waited for Redmine) once.
func (b *Bridge) Redrive(ctx context.Context) (int, error) { return b.redrive(ctx) }
func (b *Bridge) Purge(ctx context.Context) error          { return b.purge(ctx) }
func (b *Bridge) AfterPoll(ctx context.Context, pollErr error) (int, error) {
	return b.afterPoll(ctx, pollErr)
}

// Bounds returns the Redmine hook's bounds, for tests to lower before it
// serves (as espaceclient.Inbound.Bounds).
func (h *Hooks) Bounds() *hookguard.Bounds { return &h.redmine }

// HMACHex is the hex HMAC-SHA256 of body under secret, as Redmine's webhook
// plugin signs (X-Redmine-Signature-256).
func HMACHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
