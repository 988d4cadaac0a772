package esl

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		name     string
		random   float64
		failures int
		want     time.Duration
	}{
		{"first failure low jitter", 0, 1, time.Second},
		{"first failure high jitter", 0.999, 1, time.Second},
		{"second failure low jitter", 0, 2, time.Second},
		{"second failure high jitter", 0.5, 2, 1500 * time.Millisecond},
		{"fourth failure", 0.5, 4, 6 * time.Second},
		{"capped", 0.999, 30, time.Duration(float64(30*time.Second) * (0.5 + 0.5*0.999))},
		{"capped low jitter", 0, 100, 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Config{Rand: func() float64 { return tt.random }})
			if got := c.backoff(tt.failures); got != tt.want {
				t.Errorf("backoff(%d) = %s, want %s", tt.failures, got, tt.want)
			}
		})
	}
}
