package bridge

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"
)

// The redrive sweep gives a SIGKILLed process's work back within seconds.
//
// River facts (river@v0.51.1, internal/maintenance/job_rescuer.go): a job
// whose process died stays "running" until the leader's rescuer sees it older
// than RescueStuckJobsAfter (here JobTimeout + 10 s, 50 s with the default
// redmine.timeout); the rescuer runs every 30 s (JobRescuerIntervalDefault, not
// configurable), and the rescued job is then retried after the retry policy's
// delay for its attempt. Measured on the running binary (e2e
// TestTwentyKillsDuringBurst, loaded machine): a request cut off by the last
// kill reached Redmine 2 min 18 s later, most of it waiting for the rescue.
//
// The work itself is never in the job: it is the request's pending client
// actions (messages.mirrored_at IS NULL), and the drain that applies them
// holds a session advisory lock that PostgreSQL releases the moment the dead
// process's connection drops. So a request with pending actions, no queued
// wake-up and a free lock has nobody working on it; the sweep queues a fresh
// wake-up for it. Exactly once is kept by the drain, not by the wake-up: a
// drain takes the lock, marks each action as it writes it and adopts an issue
// an earlier attempt created, so an extra wake-up finds nothing to do, and the
// stuck job rescued later is one more such no-op.
//
// A request waiting on purpose is never swept: during a Redmine outage its
// job is "retryable" (queued), and a request stopped by a permanent error or
// the retry budget carries mirror_error until `passerelle resync`.

// RedriveArgs is the periodic job of the sweep (leader only).
type RedriveArgs struct{}

// Kind names the job in River.
func (RedriveArgs) Kind() string { return "redrive_stranded" }

// InsertOpts: one attempt (the next tick sweeps again) and no uniqueness: a
// sweep left "running" by a dead leader must not block the next one (River's
// unique states always include running). Two sweeps overlapping queue at most
// one extra wake-up per request, which finds nothing to do.
func (RedriveArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1} }

// RedriveInterval is how often the leader sweeps for stranded requests.
const RedriveInterval = 10 * time.Second

// redriveGrace is how old a pending action must be before the sweep takes it
// for stranded: a wake-up is queued in the transaction that stores an action,
// so only a job fetched but not yet at its lock could look like nobody's work;
// this leaves it ample time.
const redriveGrace = 5 * time.Second

// redriveBatch bounds one sweep; the next tick takes the rest.
const redriveBatch = 500

// redrive queues a wake-up for each stranded request and returns how many.
func (b *Bridge) redrive(ctx context.Context) (int, error) {
	ids, err := b.sync.strandedRequests(ctx, redriveGrace, redriveBatch)
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: MirrorRequestArgs{RequestID: id}}
	}
	if _, err := b.river.InsertMany(ctx, params); err != nil {
		return 0, fmt.Errorf("queueing %d stranded requests again: %w", len(ids), err)
	}
	for _, id := range ids {
		b.log.WithFields(logrus.Fields{"request_id": id}).
			Info("request had pending actions and nobody working on them (a stopped process's job): queued again")
	}
	b.metrics.redriven.Add(float64(len(ids)))
	return len(ids), nil
}

// redrivePeriodicJob returns the sweep's periodic job.
func (b *Bridge) redrivePeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(RedriveInterval),
		func() (river.JobArgs, *river.InsertOpts) { return RedriveArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true, ID: "redrive_stranded"})
}
