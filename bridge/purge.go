package bridge

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"
)

// The inbound webhook remembers every delivery's answer by webhook-id so a
// repeat gets the same bytes (espaceclient/inbound_delivery.go). Without a
// purge the table only grows (issue 10, "found by reading"); a repeat older
// than the signature's timestamp tolerance is refused anyway, so a delivery
// is kept InboundRetention, for admins' traces, then deleted by this hourly
// job on the leader.

// InboundRetention is how long an inbound delivery's answer is kept.
const InboundRetention = 30 * 24 * time.Hour

// PurgeArgs is the hourly purge job.
type PurgeArgs struct{}

// Kind names the job in River.
func (PurgeArgs) Kind() string { return "purge_inbound_deliveries" }

// InsertOpts: one attempt; the next hour purges again.
func (PurgeArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1} }

func (b *Bridge) purge(ctx context.Context) error {
	n, err := b.cfg.Store.PurgeInboundDeliveries(ctx, b.now().Add(-InboundRetention))
	if err != nil {
		return err
	}
	if n > 0 {
		b.log.WithFields(logrus.Fields{"deleted": n, "retention": InboundRetention.String()}).Info("old inbound deliveries purged")
	}
	return nil
}

func (b *Bridge) purgePeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return PurgeArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true, ID: "purge_inbound_deliveries"})
}
