package daemon

import (
	"time"

	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/metrics"
)

// observer passes the queue's counts on to the metrics and to the recent
// deliveries that status shows.
type observer struct {
	metrics *metrics.Metrics
	status  *statusRecorder
}

func (o *observer) JobAccepted(app string)  { o.metrics.CallFired(app) }
func (o *observer) JobDuplicate(app string) {}

// Attempt counts every attempt that did not deliver. A delivered one is
// counted by Delivered, which receives the job's age for the latency
// histogram.
func (o *observer) Attempt(app string, class delivery.Class, status int, latency time.Duration) {
	o.status.attempt(app, class, status, latency)
	if class != delivery.Delivered {
		o.metrics.Attempt(app, class, 0, false)
	}
}
func (o *observer) Delivered(app string, age time.Duration) {
	o.metrics.Attempt(app, delivery.Delivered, age, true)
}
func (o *observer) Dead(app string)       { o.metrics.DeadLetter(app) }
func (o *observer) WriteFailed(err error) {}
