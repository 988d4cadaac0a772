// Package delivery defines what postcall delivers and how an attempt ends:
// the self-contained Job that hooks builds for each finished IVR call, the
// rendered HTTP request it carries, and the Outcome that a sender reports
// for one attempt.
//
// A Job never refers back to the configuration it was rendered with, so a
// reload cannot change a request that is already waiting in the spool.
package delivery

import (
	"context"
	"time"
)

// Kind is the kind of webservice a job calls.
type Kind string

// The webservice kinds an application can use.
const (
	KindREST Kind = "rest"
	KindSOAP Kind = "soap"
)

// Field is one ordered name/value pair: an HTTP header or a request parameter.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Request is a fully rendered HTTP request. Header keeps the order of the
// application file and may repeat a name.
type Request struct {
	Method string  `json:"method"`
	URL    string  `json:"url"`
	Header []Field `json:"header,omitempty"`
	Body   []byte  `json:"body,omitempty"`
}

// SOAPCall holds the rendered parameter values of a SOAP job, in the order
// of the application file. The envelope is built for each attempt from the
// application's WSDL, because the WSDL may be unreadable when the call ends.
type SOAPCall struct {
	Params []Field `json:"params"`
}

// State is the delivery state of a job in the spool.
type State string

// The states of a job.
const (
	StatePending   State = "pending"
	StateDelivered State = "delivered"
	StateDead      State = "dead"
)

// Job is one post-call request for one IVR call, with its delivery record.
type Job struct {
	// Key identifies the call (derived from Core-UUID and Unique-ID). Every
	// attempt sends it as the idempotency key, and the spool uses it to drop
	// a repeated call.
	Key       string    `json:"key"`
	App       string    `json:"app"`
	CallID    string    `json:"call_id"`
	CoreUUID  string    `json:"core_uuid"`
	Kind      Kind      `json:"kind"`
	Private   bool      `json:"private"`
	CreatedAt time.Time `json:"created_at"`
	// Termination is the reason the call ended: ivr_exit, caller_hangup or
	// not_answered.
	Termination string `json:"termination"`
	// Missing lists the placeholders that named no variable and rendered empty.
	Missing []string  `json:"missing,omitempty"`
	Request *Request  `json:"request,omitempty"`
	SOAP    *SOAPCall `json:"soap,omitempty"`

	// The delivery record, kept by the spool.
	State      State     `json:"state"`
	Attempts   int       `json:"attempts"`
	NextAt     time.Time `json:"next_at"`
	LastError  string    `json:"last_error,omitempty"`
	LastStatus int       `json:"last_status,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Class is the outcome class of one attempt.
type Class int

// The outcome classes. The zero value is not a valid class.
const (
	Delivered Class = iota + 1
	Retryable
	Permanent
)

// String returns the lower-case name used in logs and metric labels.
func (c Class) String() string {
	switch c {
	case Delivered:
		return "delivered"
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	}
	return "unknown"
}

// Outcome is the result of one delivery attempt.
type Outcome struct {
	Class Class
	// Status is the HTTP status code, 0 when no response arrived.
	Status int
	// RetryAfter is the delay the webservice asked for with Retry-After,
	// already capped by the sender; 0 when it asked for none or sent an
	// invalid value.
	RetryAfter time.Duration
	// Err explains a failed attempt. For a private application it holds no
	// path, query, header value, parameter, body or response.
	Err      error
	Duration time.Duration
}

// Sender makes one delivery attempt of a job. Send must return by the
// deadline of ctx or the application's timeout, whichever comes first, and
// must be safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, j *Job) Outcome
}

// SenderFunc adapts a function to the Sender interface.
type SenderFunc func(ctx context.Context, j *Job) Outcome

// Send calls f(ctx, j).
func (f SenderFunc) Send(ctx context.Context, j *Job) Outcome { return f(ctx, j) }
