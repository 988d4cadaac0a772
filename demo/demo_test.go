package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestDemoDeliversEveryCall(t *testing.T) {
	var out, log bytes.Buffer
	err := Run(context.Background(), Options{Out: &out, Log: &log, Timeout: 60 * time.Second, Version: "test"})
	if err != nil {
		t.Fatalf("demo failed: %v\noutput:\n%s\nlog:\n%s", err, out.String(), log.String())
	}
	text := out.String()
	for _, want := range []string{
		`"termination": "ivr_exit"`,
		`"termination": "caller_hangup"`,
		`"termination": "not_answered"`,
		`"score": "7"`,
		`"city": "café"`,
		`Content-Type: application/soap+xml; charset=utf-8; action="urn:postcall:demo:ticketing/CloseTicket"`,
		"all 5 calls delivered, each exactly once",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if n := strings.Count(text, "received by the webservice"); n != 5 {
		t.Errorf("the receiver printed %d requests, want 5", n)
	}
}
