package hooks

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/render"
)

// The documented variable names. docs/variables.md describes each one, and a
// test keeps that page and this list in step.
const (
	VarSessionID    = "session.id"
	VarSessionName  = "session.name"
	VarANI          = "session.connection.ani"
	VarDNIS         = "session.connection.dnis"
	VarCallKey      = "call.key"
	VarTermination  = "call.termination"
	VarHangupCause  = "call.hangup_cause"
	VarStart        = "call.start"
	VarAnswer       = "call.answer"
	VarEnd          = "call.end"
	VarDuration     = "call.duration"
	VarBillsec      = "call.billsec"
	VarCallerName   = "call.caller_name"
	VarOtherLegANI  = "call.other_leg.ani"
	VarOtherLegDNIS = "call.other_leg.dnis"
	SIPHeaderPrefix = "session.connection.protocol.sip.headers."
	ChannelPrefix   = "channel."
	EventPrefix     = "event."
	ExitPrefix      = "exit."
)

const (
	// channelVarPrefix starts every channel variable in an event.
	channelVarPrefix = "variable_"
	// sipHeaderVarPrefix starts the channel variables that hold SIP headers.
	sipHeaderVarPrefix = "sip_h_"
)

// documentedNames lists the fixed names that Variables always sets, empty
// when the events do not carry the value.
var documentedNames = []string{
	VarSessionID, VarSessionName, VarANI, VarDNIS,
	VarCallKey, VarTermination, VarHangupCause,
	VarStart, VarAnswer, VarEnd, VarDuration, VarBillsec,
	VarCallerName, VarOtherLegANI, VarOtherLegDNIS,
}

// sipHeaderAliases maps a SIP header to the channel variable in which
// FreeSWITCH (mod_sofia) stores it when it is not exposed as sip_h_NAME.
// A sip_h_NAME variable of the same name wins over the alias.
var sipHeaderAliases = []struct{ header, variable string }{
	{"Call-ID", "sip_call_id"},
	{"From", "sip_full_from"},
	{"To", "sip_full_to"},
	{"Via", "sip_full_via"},
	{"Route", "sip_full_route"},
	{"Contact", "sip_contact_uri"},
	{"User-Agent", "sip_user_agent"},
	{"Allow", "sip_allow"},
	{"Remote-Party-ID", "sip_Remote-Party-ID"},
	{"P-Asserted-Identity", "sip_P-Asserted-Identity"},
}

// DocumentedNames returns the fixed variable names that every call sets, in
// the order of docs/variables.md. Prefixed names (channel.NAME and the
// like) and IVR variables are not included.
func DocumentedNames() []string {
	return append([]string(nil), documentedNames...)
}

// Variables returns the variable set of one call. The channel data comes
// from hangup, or from exit when hangup is nil; either may be nil. app may be
// nil, and then session.name comes from the events. termination is the value
// of call.termination, usually Termination(cfg, hangup, exit).
//
// A later layer overrides an earlier one:
//  1. IVR variables: variable_PREFIXname becomes name, and then a header
//     PREFIXname of the exit event overrides it.
//  2. Raw names: channel.NAME for every variable_NAME, event.NAME for every
//     header of the channel's event, exit.NAME for every exit event header,
//     and the SIP headers.
//  3. The documented names.
//  4. The application's [variables] table.
//
// A repeated header gives its first value. Invalid UTF-8 in a value becomes
// U+FFFD.
func Variables(cfg *Config, app *App, hangup, exit *esl.Event, termination string) render.Vars {
	c := cfg.withDefaults()
	channel := hangup
	if channel == nil {
		channel = exit
	}

	size := len(documentedNames) + 16
	if app.rawNames() == nil {
		if channel != nil {
			size += 2 * len(channel.Headers)
		}
		if exit != nil {
			size += len(exit.Headers)
		}
	}
	vars := make(render.Vars, size)

	if channel != nil {
		addIVRVariables(vars, c.Prefix, channel, exit)
		addRawVariables(vars, app.rawNames(), channel, exit)
	}
	addDocumented(vars, &c, app, channel, exit, termination)
	if app != nil {
		addTable(vars, app.Variables, channel, exit)
	}
	return vars
}

// addIVRVariables sets the IVR variables. Headers are visited last to first
// so that the first of repeated headers is the value that stays.
func addIVRVariables(vars render.Vars, prefix string, channel, exit *esl.Event) {
	varPrefix := channelVarPrefix + prefix
	for i := len(channel.Headers) - 1; i >= 0; i-- {
		h := channel.Headers[i]
		if name, ok := strings.CutPrefix(h.Name, varPrefix); ok && name != "" {
			vars[name] = validUTF8(h.Value)
		}
	}
	if exit == nil {
		return
	}
	for i := len(exit.Headers) - 1; i >= 0; i-- {
		h := exit.Headers[i]
		if name, ok := strings.CutPrefix(h.Name, prefix); ok && name != "" {
			vars[name] = validUTF8(h.Value)
		}
	}
}

// addRawVariables sets channel.NAME, event.NAME, exit.NAME and the SIP
// headers, visiting headers last to first as addIVRVariables does. With
// need set, only the names it lists are set.
func addRawVariables(vars render.Vars, need *rawNeeds, channel, exit *esl.Event) {
	for i := len(channel.Headers) - 1; i >= 0; i-- {
		h := channel.Headers[i]
		if need == nil || need.event[h.Name] {
			vars[EventPrefix+h.Name] = validUTF8(h.Value)
		}

		name, ok := strings.CutPrefix(h.Name, channelVarPrefix)
		if !ok {
			continue
		}
		if need == nil || need.channel[name] {
			vars[ChannelPrefix+name] = validUTF8(h.Value)
		}
		if header, ok := strings.CutPrefix(name, sipHeaderVarPrefix); ok && header != "" {
			if need == nil || need.sip[header] {
				vars[SIPHeaderPrefix+header] = validUTF8(h.Value)
			}
		}
	}

	for _, alias := range sipHeaderAliases {
		if need != nil && !need.sip[alias.header] {
			continue
		}
		name := SIPHeaderPrefix + alias.header
		if _, ok := vars[name]; ok {
			continue
		}
		if v, ok := channel.Lookup(channelVarPrefix + alias.variable); ok {
			vars[name] = validUTF8(v)
		}
	}

	if exit == nil {
		return
	}
	for i := len(exit.Headers) - 1; i >= 0; i-- {
		h := exit.Headers[i]
		if need == nil || need.exit[h.Name] {
			vars[ExitPrefix+h.Name] = validUTF8(h.Value)
		}
	}
}

// addDocumented sets every documented name, empty when the events lack it.
func addDocumented(vars render.Vars, c *Config, app *App, channel, exit *esl.Event, termination string) {
	get := func(names ...string) string {
		if channel == nil {
			return ""
		}
		for _, name := range names {
			if v := channel.Get(name); v != "" {
				return validUTF8(v)
			}
		}
		return ""
	}

	name := ""
	if app != nil {
		name = app.Name
	} else if channel != nil {
		name = validUTF8(AppName(c, channel, exit))
	}

	vars[VarSessionID] = get("Unique-ID")
	vars[VarSessionName] = name
	vars[VarANI] = get("Caller-Caller-ID-Number")
	vars[VarDNIS] = get("Caller-Destination-Number")
	vars[VarCallKey] = ""
	if channel != nil && channel.Get("Unique-ID") != "" {
		vars[VarCallKey] = Key(channel.Get("Core-UUID"), channel.Get("Unique-ID"))
	}
	vars[VarTermination] = termination
	vars[VarHangupCause] = get("Hangup-Cause", "variable_hangup_cause")
	vars[VarCallerName] = get("Caller-Caller-ID-Name")
	vars[VarOtherLegANI] = get("Other-Leg-Caller-ID-Number")
	vars[VarOtherLegDNIS] = get("Other-Leg-Destination-Number")

	start := microTime(get, "variable_start_uepoch", "Caller-Channel-Created-Time")
	answer := microTime(get, "variable_answer_uepoch", "Caller-Channel-Answered-Time")
	end := microTime(get, "variable_end_uepoch", "Caller-Channel-Hangup-Time")
	vars[VarStart] = formatTime(start)
	vars[VarAnswer] = formatTime(answer)
	vars[VarEnd] = formatTime(end)
	vars[VarDuration] = seconds(get("variable_duration"), start, end)
	vars[VarBillsec] = billsec(get("variable_billsec"), answer, end)
}

// microTime returns the first of the named headers that holds a positive
// microsecond epoch, as a time, or the zero time. The local-time *_stamp
// variables are never used, because they carry no zone.
func microTime(get func(...string) string, names ...string) time.Time {
	for _, name := range names {
		us, err := strconv.ParseInt(strings.TrimSpace(get(name)), 10, 64)
		if err == nil && us > 0 {
			return time.UnixMicro(us).UTC()
		}
	}
	return time.Time{}
}

// formatTime formats t as RFC 3339 in UTC with at most microseconds and no
// trailing zeros, or "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// seconds returns reported when it is a whole number of seconds, else the
// whole seconds from start to end, else "".
func seconds(reported string, start, end time.Time) string {
	if n, err := strconv.ParseUint(strings.TrimSpace(reported), 10, 63); err == nil {
		return strconv.FormatUint(n, 10)
	}
	if start.IsZero() || end.IsZero() || end.Before(start) {
		return ""
	}
	return strconv.FormatInt(int64(end.Sub(start)/time.Second), 10)
}

// billsec is seconds for the answered part of the call: 0 for a call that
// ended without being answered.
func billsec(reported string, answer, end time.Time) string {
	if s := seconds(reported, answer, end); s != "" {
		return s
	}
	if answer.IsZero() && !end.IsZero() {
		return "0"
	}
	return ""
}

// addTable applies the application's [variables] table. A source that the
// events do not carry removes the name, so it renders empty and the job
// lists it as missing rather than keeping a value the operator replaced.
func addTable(vars render.Vars, table map[string]string, channel, exit *esl.Event) {
	for name, source := range table {
		if v, ok := lookupSource(source, channel, exit); ok {
			vars[name] = validUTF8(v)
		} else {
			delete(vars, name)
		}
	}
}

// lookupSource returns the value of a [variables] source and whether the
// events carry it.
func lookupSource(source string, channel, exit *esl.Event) (string, bool) {
	kind, name, ok := strings.Cut(source, ":")
	if !ok {
		return "", false
	}
	switch kind {
	case sourceText:
		return name, true
	case sourceChannel:
		if channel == nil || name == "" {
			return "", false
		}
		return channel.Lookup(channelVarPrefix + name)
	case sourceEvent:
		if channel == nil || name == "" {
			return "", false
		}
		return channel.Lookup(name)
	case sourceExit:
		if exit == nil || name == "" {
			return "", false
		}
		return exit.Lookup(name)
	}
	return "", false
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
