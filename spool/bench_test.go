package spool

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postcall/postcall/delivery"
)

func BenchmarkBoltAdd(b *testing.B) {
	b.Run("sequential", func(b *testing.B) {
		s := openTestBolt(b, b.TempDir())
		defer s.Close()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.Add(context.Background(), []*delivery.Job{testJob(fmt.Sprintf("seq-%d", i), "survey")}); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	})
	b.Run("parallel", func(b *testing.B) {
		s := openTestBolt(b, b.TempDir())
		defer s.Close()
		var next atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				key := fmt.Sprintf("par-%d", next.Add(1))
				if _, err := s.Add(context.Background(), []*delivery.Job{testJob(key, "survey")}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	})
}

// countDelivered is an Observer that closes done once n jobs are
// delivered.
type countDelivered struct {
	NopObserver
	n         int64
	delivered atomic.Int64
	done      chan struct{}
}

func (c *countDelivered) Delivered(string, time.Duration) {
	if c.delivered.Add(1) == c.n {
		close(c.done)
	}
}

// BenchmarkSubmitDeliver measures jobs submitted, written, sent by an
// instant sender and recorded as delivered, with the bolt store and the
// real clock.
func BenchmarkSubmitDeliver(b *testing.B) {
	store := openTestBolt(b, b.TempDir())
	defer store.Close()
	obs := &countDelivered{n: int64(b.N), done: make(chan struct{})}
	sender := delivery.SenderFunc(func(context.Context, *delivery.Job) delivery.Outcome {
		return delivery.Outcome{Class: delivery.Delivered, Status: 200}
	})
	q, err := NewQueue(Options{
		Store:    store,
		Apps:     map[string]*AppPolicy{"survey": {Sender: sender}},
		Logger:   discardLogger(),
		Observer: obs,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)

	jobs := make([]*delivery.Job, b.N)
	for i := range jobs {
		jobs[i] = testJob(fmt.Sprintf("bench-%d", i), "survey")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for _, j := range jobs {
		if err := q.Submit(j); err != nil {
			b.Fatal(err)
		}
	}
	<-obs.done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")

	shutdownCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := q.Shutdown(shutdownCtx); err != nil {
		b.Fatal(err)
	}
}
