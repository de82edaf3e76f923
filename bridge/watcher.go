package bridge

import "github.com/riverqueue/river"

// registerDeadlineWorkers adds the deadline jobs' workers (see issue 5).
func (b *Bridge) registerDeadlineWorkers(workers *river.Workers) {}

// deadlinePeriodicJobs returns the deadline watcher's periodic jobs.
func (b *Bridge) deadlinePeriodicJobs() []*river.PeriodicJob { return nil }
