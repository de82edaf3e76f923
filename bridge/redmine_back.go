package bridge

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sirupsen/logrus"
)

// When Redmine comes back after an outage, the work that waited for it
// resumes at once rather than at each job's next backoff step.
//
// A job failing because Redmine is down is retried with exponential backoff,
// capped at redmine.max_retry_delay (5 min by default). Measured on the
// running binary before this (e2e TestRedmineStoppedWhileClientsWrite, Redmine
// stopped 60 s): everything reached Redmine 50 s to 1 min 53 s after Redmine
// was started again, most of it waiting for retries scheduled during the
// outage; after a long outage each job would wait up to the 5-minute cap.
//
// The poll (leader only, every poll_interval) is the probe: a poll that
// succeeds after one that failed, or the first successful poll of a process
// (a new leader knows nothing of what happened before it), makes every
// retryable Redmine job available now (River's JobRetry: a job already
// queued is not moved back, a running one is not touched). Backoff still
// spaces retries while Redmine stays down, and a job failing for its own
// reason (one issue Redmine refuses) is pulled forward at most once per
// outage, not once per poll.

// redmineJobKinds are the jobs that wait for Redmine.
var redmineJobKinds = []string{
	MirrorRequestArgs{}.Kind(), MirrorMessageArgs{}.Kind(), RefreshIssueArgs{}.Kind(), RetryIssueArgs{}.Kind(),
}

// redmineBackBatch bounds one wake-up; a larger backlog is woken by the next
// successful polls (each after a failed one) or by its own backoff.
const redmineBackBatch = 1000

// redmineState remembers, for the leader's poll, whether Redmine may have
// been unreachable since the last successful poll.
type redmineState struct {
	// mayHaveBeenDown is true at start and after a failed poll.
	mayHaveBeenDown atomic.Bool
}

func newRedmineState() *redmineState {
	s := &redmineState{}
	s.mayHaveBeenDown.Store(true)
	return s
}

// afterPoll records a poll's outcome and, when Redmine is back, wakes the
// jobs that waited for it. It returns how many were woken.
func (b *Bridge) afterPoll(ctx context.Context, pollErr error) (int, error) {
	if pollErr != nil {
		b.redmine.mayHaveBeenDown.Store(true)
		return 0, nil
	}
	if !b.redmine.mayHaveBeenDown.Swap(false) {
		return 0, nil
	}
	res, err := b.river.JobList(ctx, river.NewJobListParams().
		Kinds(redmineJobKinds...).States(rivertype.JobStateRetryable).First(redmineBackBatch))
	if err != nil {
		b.redmine.mayHaveBeenDown.Store(true) // try again after the next poll
		return 0, fmt.Errorf("listing the jobs waiting for Redmine: %w", err)
	}
	woken := 0
	for _, job := range res.Jobs {
		if _, err := b.river.JobRetry(ctx, job.ID); err != nil {
			return woken, fmt.Errorf("making job %d available again: %w", job.ID, err)
		}
		woken++
	}
	if woken > 0 {
		b.log.WithFields(logrus.Fields{"jobs": woken}).Info("Redmine answers again: the jobs waiting for it resume now")
	}
	return woken, nil
}
