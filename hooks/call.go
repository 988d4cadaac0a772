package hooks

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/esl"
)

// The values of call.termination.
const (
	TerminationIVRExit      = "ivr_exit"
	TerminationCallerHangup = "caller_hangup"
	TerminationNotAnswered  = "not_answered"
)

// maxLoggedName bounds how much of a caller-set name goes into one log entry.
const maxLoggedName = 128

// handleHangup fires the call that a CHANNEL_HANGUP_COMPLETE ends, merged
// with the exit event of the same channel when one is waiting.
func (e *Engine) handleHangup(ev *esl.Event) {
	uid := ev.Get("Unique-ID")
	if uid == "" {
		e.stats.invalid.Add(1)
		e.log.Debug("ignoring a hangup event without Unique-ID")
		return
	}

	key := callKey(ev.Get("Core-UUID"), uid)
	if e.fired.contains(key) {
		e.stats.duplicates.Add(1)
		e.log.WithField("call_id", uid).Debug("ignoring a repeated hangup of a call that already fired")
		return
	}

	var exit *esl.Event
	if p := e.pending.take(key); p != nil {
		exit = p.event
		e.stats.pending.Store(int64(e.pending.len()))
	}

	name := AppName(&e.cfg, ev, exit)
	if name == "" {
		e.stats.notIVR.Add(1)
		return
	}
	if IsOriginatedLeg(ev) {
		e.stats.legsSkipped.Add(1)
		e.log.WithFields(logrus.Fields{"app": clip(name), "call_id": uid}).
			Debug("ignoring the hangup of an originated leg; the originating leg fires the call")
		return
	}

	e.fire(key, name, ev, exit)
}

// handleExit keeps an exit event until the hangup of its channel arrives or
// its grace ends.
func (e *Engine) handleExit(ev *esl.Event) {
	uid := ev.Get("Unique-ID")
	if uid == "" {
		e.stats.invalid.Add(1)
		e.log.Debug("ignoring an exit event without Unique-ID")
		return
	}

	key := callKey(ev.Get("Core-UUID"), uid)
	if e.fired.contains(key) {
		e.stats.duplicates.Add(1)
		e.log.WithField("call_id", uid).Debug("ignoring an exit event of a call that already fired")
		return
	}
	if e.pending.has(key) {
		e.stats.duplicates.Add(1)
		e.log.WithField("call_id", uid).Info("ignoring a repeated exit event; the first exit event of the channel is kept")
		return
	}

	name := AppName(&e.cfg, nil, ev)
	if name == "" {
		e.stats.notIVR.Add(1)
		e.log.WithField("call_id", uid).
			Debugf("ignoring an exit event without %s; set it on the channel or in the event", e.cfg.AppVar)
		return
	}
	if IsOriginatedLeg(ev) {
		e.stats.legsSkipped.Add(1)
		e.log.WithFields(logrus.Fields{"app": clip(name), "call_id": uid}).
			Debug("ignoring the exit event of an originated leg; the originating leg fires the call")
		return
	}
	if e.lookupApp(name, uid) == nil {
		return
	}

	if e.pending.full() {
		e.fireOldestExit()
	}
	e.pending.add(key, cloneEvent(ev), e.cfg.Now().Add(e.cfg.ExitGrace))
	e.stats.pending.Store(int64(e.pending.len()))
}

// fireOldestExit fires the oldest waiting exit event before its grace ends,
// to make room for a new one.
func (e *Engine) fireOldestExit() {
	oldest := e.pending.popOldest()
	if oldest == nil {
		return
	}
	e.stats.exitsForced.Add(1)
	e.log.WithField("call_id", oldest.event.Get("Unique-ID")).
		Warnf("%d exit events are waiting for their hangup; firing the oldest before its grace ends", e.cfg.PendingExits)
	e.fireWithoutHangup(oldest, "the bound of waiting exit events was reached")
}

// fireWithoutHangup fires a waiting exit event with its own data only.
func (e *Engine) fireWithoutHangup(p *pendingExit, reason string) {
	e.stats.exitsWithoutHangup.Add(1)
	name := AppName(&e.cfg, nil, p.event)
	e.log.WithFields(logrus.Fields{"app": clip(name), "call_id": p.event.Get("Unique-ID")}).
		Debugf("firing an exit event with its own data: %s", reason)
	e.fire(p.key, name, nil, p.event)
}

// fire builds the call's job and submits it. Only a job that Submit accepted
// is remembered as fired. So after a failure, a later event of the same
// channel tries again: a repeated hangup, or the hangup after an exit event
// whose job failed. If the first copy did reach the spool, the spool drops
// the second by its key.
func (e *Engine) fire(key [keySize]byte, name string, hangup, exit *esl.Event) {
	primary := hangup
	if primary == nil {
		primary = exit
	}
	uid := primary.Get("Unique-ID")
	log := e.log.WithFields(logrus.Fields{"app": clip(name), "call_id": uid})

	app := e.lookupApp(name, uid)
	if app == nil {
		return
	}

	termination := Termination(&e.cfg, hangup, exit)
	job, err := e.build(app, Variables(&e.cfg, app, hangup, exit, termination))
	if err != nil {
		e.stats.buildErrors.Add(1)
		if app.Private {
			log.Error("rendering the request failed; the error is withheld because the application is private")
		} else {
			log.WithError(err).Error("rendering the request failed; check the application file with postcall check")
		}
		return
	}

	now := e.cfg.Now()
	job.Key = formatKey(key)
	job.App = app.Name
	job.CallID = validUTF8(uid)
	job.CoreUUID = validUTF8(primary.Get("Core-UUID"))
	job.Termination = termination
	job.CreatedAt = now
	job.State = delivery.StatePending
	job.NextAt = now
	job.UpdatedAt = now

	if err := e.cfg.Submit(job); err != nil {
		e.stats.submitErrors.Add(1)
		log.WithError(err).Error("handing the job to the spool failed; the call is lost unless its event repeats")
		return
	}
	e.fired.add(key)
	e.stats.fired.Add(1)
	log.WithField("termination", termination).Debug("job submitted")
}

// build calls the application's builder and checks what it returns.
func (e *Engine) build(app *App, vars map[string]string) (*delivery.Job, error) {
	if app.Build == nil {
		return nil, errors.New("the application has no request builder")
	}
	job, err := app.Build(vars)
	if err != nil {
		return nil, fmt.Errorf("render application %q: %w", app.Name, err)
	}
	if job == nil {
		return nil, fmt.Errorf("render application %q: the builder returned no job and no error", app.Name)
	}
	return job, nil
}

// lookupApp returns the configured application called name. An unknown name
// is counted, and logged once per name and application set.
func (e *Engine) lookupApp(name, callID string) *App {
	set := e.apps.Load()
	if app := set.apps[name]; app != nil {
		return app
	}
	e.stats.unknownApps.Add(1)

	if set != e.warnedFor {
		e.warned = make(map[string]struct{})
		e.warnedFor = set
		e.warnedOverflow = false
	}
	if _, ok := e.warned[name]; ok {
		return nil
	}
	if len(e.warned) >= maxWarnedNames {
		if !e.warnedOverflow {
			e.warnedOverflow = true
			e.log.Warnf("more than %d unknown application names; further ones are only counted", maxWarnedNames)
		}
		return nil
	}
	e.warned[name] = struct{}{}
	e.log.WithFields(logrus.Fields{"app": clip(name), "call_id": callID}).
		Warnf("no application is configured under this name, so the call fires nothing; add an application file with this name or fix the %s value in the dialplan", e.cfg.AppVar)
	return nil
}

// AppName returns the application a call belongs to, or "" when the channel
// is not an IVR call. The exit event's own header wins over the channel
// variable, because the IVR set it in the exit event on purpose.
func AppName(cfg *Config, hangup, exit *esl.Event) string {
	if exit != nil {
		if v := exit.Get(cfg.AppVar); v != "" {
			return v
		}
		if v := exit.Get("variable_" + cfg.AppVar); v != "" {
			return v
		}
	}
	if hangup != nil {
		return hangup.Get("variable_" + cfg.AppVar)
	}
	return ""
}

// IsOriginatedLeg reports whether ev is from an outbound channel that another
// channel originated, such as the B leg of a bridge. Such a leg never fires,
// because an exported application variable puts the IVR mark on both legs.
// call_uuid is not used: on some B legs it equals the leg's own uuid.
func IsOriginatedLeg(ev *esl.Event) bool {
	direction, ok := ev.Lookup("Call-Direction")
	if !ok {
		direction = ev.Get("variable_direction")
	}
	if !strings.EqualFold(direction, "outbound") {
		return false
	}
	if ev.Get("variable_originating_leg_uuid") != "" {
		return true
	}
	return ev.Get("Other-Type") == "originator" && ev.Get("Other-Leg-Unique-ID") != ""
}

// Termination returns why the call ended: not_answered when the channel was
// never answered, else ivr_exit when the IVR ended it, else caller_hangup.
// The channel data comes from hangup, or from exit when hangup is nil. The
// IVR ended the call when an exit event or the exit variable was seen, when
// FreeSWITCH sent the BYE, CANCEL or rejection itself
// (sip_hangup_disposition send_*), or when the last application was hangup.
func Termination(cfg *Config, hangup, exit *esl.Event) string {
	c := cfg.withDefaults()
	channel := hangup
	if channel == nil {
		channel = exit
	}
	if channel == nil {
		return ""
	}

	answered := positive(channel.Get("Caller-Channel-Answered-Time")) ||
		positive(channel.Get("variable_answer_uepoch"))
	if !answered {
		return TerminationNotAnswered
	}
	if exit != nil || channel.Get("variable_"+c.ExitVar) != "" {
		return TerminationIVRExit
	}
	switch channel.Get("variable_sip_hangup_disposition") {
	case "send_bye", "send_cancel", "send_refuse":
		return TerminationIVRExit
	}
	if channel.Get("variable_last_app") == "hangup" {
		return TerminationIVRExit
	}
	return TerminationCallerHangup
}

// positive reports whether s is an integer greater than zero. FreeSWITCH
// writes 0 for a time that never happened.
func positive(s string) bool {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return err == nil && n > 0
}

// cloneEvent returns a copy of ev that shares no slice with it.
func cloneEvent(ev *esl.Event) *esl.Event {
	return &esl.Event{
		Headers: append([]esl.Header(nil), ev.Headers...),
		Body:    append([]byte(nil), ev.Body...),
	}
}

// clip shortens a caller-set value for a log entry.
func clip(s string) string {
	if len(s) <= maxLoggedName {
		return s
	}
	return strings.ToValidUTF8(s[:maxLoggedName], "") + "..."
}
