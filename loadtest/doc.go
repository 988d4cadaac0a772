// Package loadtest is postcall's load harness: it drives a daemon with
// realistic FreeSWITCH traffic and measures what comes out. A fake
// FreeSWITCH (package esltest) sends CHANNEL_HANGUP_COMPLETE and CUSTOM
// fuse::exit events cloned from real FreeSWITCH 1.10.12 captures, each call
// with its own Unique-ID and IVR values. An HTTP sink replaces the
// webservice and records when each call's request arrives. The report gives
// delivered calls per second, latency from event to request, missing and
// duplicated deliveries, dropped events, reader lag, and the daemon's CPU
// time and memory, next to the bare limits of the same machine (a plain
// net/http client, and a reader that only decodes events).
//
// Command postcall-load is its command line. The harness listens on the
// addresses the caller gives, loopback by default, and connects only to its
// own listeners and to the daemon's admin listener. It must never be used
// with a production postcall, whose spool and webservices would receive its
// fake calls.
package loadtest
