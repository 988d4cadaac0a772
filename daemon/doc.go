// Package daemon wires postcall's parts into the running service: the
// Event Socket client feeds the call model, the call model submits jobs to
// the spool's queue, the queue delivers them through the REST and SOAP
// senders, and the admin listener serves metrics, health, status and the
// spool API.
//
// The event path never waits on delivery: the only place it may block is
// the queue's Submit, when the spool cannot keep up and applies
// backpressure.
package daemon
