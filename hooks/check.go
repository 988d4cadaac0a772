package hooks

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/render"
)

// The kinds of source in an application's [variables] table.
const (
	sourceChannel = "channel"
	sourceEvent   = "event"
	sourceExit    = "exit"
	sourceText    = "text"
)

// KnownName reports whether a placeholder name can be set for a call of app:
// a documented name, a name under channel., event., exit. or
// session.connection.protocol.sip.headers., or a key of the application's
// [variables] table. It reports false for any other bare name such as q1,
// even though the dialplan may set it as an IVR variable (fuse_var_q1):
// `postcall check` should list those names as warnings worded by
// UnknownNameWarning, not reject the file.
func KnownName(cfg *Config, app *App, name string) bool {
	for _, documented := range documentedNames {
		if name == documented {
			return true
		}
	}
	for _, prefix := range []string{ChannelPrefix, EventPrefix, ExitPrefix, SIPHeaderPrefix} {
		if len(name) > len(prefix) && strings.HasPrefix(name, prefix) {
			return true
		}
	}
	if app != nil {
		if _, ok := app.Variables[name]; ok {
			return true
		}
	}
	return false
}

// UnknownNameWarning returns the warning that `postcall check` prints for a
// placeholder name that KnownName rejects.
func UnknownNameWarning(cfg *Config, name string) string {
	c := cfg.withDefaults()
	for _, namespace := range []string{"session.", "call."} {
		if strings.HasPrefix(name, namespace) {
			return fmt.Sprintf("%q is not a documented variable: the %s names are listed in docs/variables.md; or is it set by the dialplan as %s%s?",
				name, namespace, c.Prefix, name)
		}
	}
	return fmt.Sprintf("%q is not a documented variable: set by the dialplan as %s%s?", name, c.Prefix, name)
}

// Sample returns the variables of a made-up call of app, for `postcall check`:
// an answered inbound SIP call that the IVR ended with an exit event, with a
// plausible value for every documented name, the common SIP headers, one
// custom SIP header (X-Account) and every name of the application's
// [variables] table. Some values hold characters that need escaping (a "+"
// in the number, quotes and "&" in the caller's name), so a rendered sample
// shows whether each placeholder is escaped for its place. IVR variables are
// free-form and not included; check may give a bare name its own sample
// value.
func Sample(cfg *Config, app *App) render.Vars {
	c := cfg.withDefaults()
	hangup, exit := sampleEvents(&c, app)
	return Variables(&c, app, hangup, exit, Termination(&c, hangup, exit))
}

// sampleEvents builds the hangup and exit events of the sample call.
func sampleEvents(c *Config, app *App) (hangup, exit *esl.Event) {
	const (
		coreUUID  = "5c152b99-2101-4e7b-b102-34a4cd452155"
		uniqueID  = "ac02a81c-4ce0-42ef-a5c5-10fa409f5617"
		start     = int64(1796412546518125)
		answerAt  = start + 540
		end       = start + 61_992_364
		ani       = "+15550100001"
		dnis      = "1000"
		otherDNIS = "15550100099"
	)
	name := "sample"
	if app != nil && app.Name != "" {
		name = app.Name
	}
	micro := func(us int64) string { return strconv.FormatInt(us, 10) }

	hangup = &esl.Event{Headers: []esl.Header{
		{Name: "Event-Name", Value: eventHangupComplete},
		{Name: "Core-UUID", Value: coreUUID},
		{Name: "Event-Date-Timestamp", Value: micro(end)},
		{Name: "Hangup-Cause", Value: "NORMAL_CLEARING"},
		{Name: "Unique-ID", Value: uniqueID},
		{Name: "Call-Direction", Value: "inbound"},
		{Name: "Caller-Caller-ID-Name", Value: `Jane "JJ" O'Neil & Sons`},
		{Name: "Caller-Caller-ID-Number", Value: ani},
		{Name: "Caller-Destination-Number", Value: dnis},
		{Name: "Caller-Channel-Created-Time", Value: micro(start)},
		{Name: "Caller-Channel-Answered-Time", Value: micro(answerAt)},
		{Name: "Caller-Channel-Hangup-Time", Value: micro(end)},
		{Name: "Other-Type", Value: "originatee"},
		{Name: "Other-Leg-Caller-ID-Number", Value: ani},
		{Name: "Other-Leg-Destination-Number", Value: otherDNIS},
		{Name: "variable_" + c.AppVar, Value: name},
		{Name: "variable_" + c.ExitVar, Value: "completed"},
		{Name: "variable_sip_call_id", Value: "a84b4c76e66710@pc33.example.com"},
		{Name: "variable_sip_full_from", Value: `"Jane O'Neil" <sip:` + ani + `@example.com>;tag=1928301774`},
		{Name: "variable_sip_full_to", Value: "<sip:" + dnis + "@example.com>;tag=a6c85cf"},
		{Name: "variable_sip_full_via", Value: "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK776asdhds;rport=5060"},
		{Name: "variable_sip_full_route", Value: "<sip:proxy.example.com;lr>"},
		{Name: "variable_sip_contact_uri", Value: ani + "@127.0.0.1:5060"},
		{Name: "variable_sip_user_agent", Value: "Example-Phone/1.0"},
		{Name: "variable_sip_allow", Value: "INVITE, ACK, BYE, CANCEL, OPTIONS"},
		{Name: "variable_sip_Remote-Party-ID", Value: `"Jane O'Neil" <sip:` + ani + `@example.com>;party=calling`},
		{Name: "variable_sip_P-Asserted-Identity", Value: "<sip:" + ani + "@example.com>"},
		{Name: "variable_sip_h_X-Account", Value: "AB/12?x=1#frag"},
		{Name: "variable_sip_hangup_disposition", Value: "send_bye"},
		{Name: "variable_last_app", Value: "hangup"},
		{Name: "variable_start_uepoch", Value: micro(start)},
		{Name: "variable_answer_uepoch", Value: micro(answerAt)},
		{Name: "variable_end_uepoch", Value: micro(end)},
		{Name: "variable_duration", Value: "62"},
		{Name: "variable_billsec", Value: "61"},
	}}
	exit = &esl.Event{Headers: []esl.Header{
		{Name: "Event-Subclass", Value: c.ExitSubclass},
		{Name: "Core-UUID", Value: coreUUID},
		{Name: "Event-Name", Value: eventCustom},
		{Name: c.AppVar, Value: name},
		{Name: c.ExitVar, Value: "completed"},
		{Name: "Unique-ID", Value: uniqueID},
	}}

	if app != nil {
		addSampleSources(hangup, exit, app.Variables)
	}
	return hangup, exit
}

// addSampleSources gives every source of a [variables] table a value in the
// sample events, so that each of the table's names is set.
func addSampleSources(hangup, exit *esl.Event, table map[string]string) {
	for name, source := range table {
		kind, header, ok := strings.Cut(source, ":")
		if !ok || header == "" {
			continue
		}
		value := "sample " + name
		switch kind {
		case sourceChannel:
			addHeaderIfMissing(hangup, channelVarPrefix+header, value)
		case sourceEvent:
			addHeaderIfMissing(hangup, header, value)
		case sourceExit:
			addHeaderIfMissing(exit, header, value)
		}
	}
}

func addHeaderIfMissing(ev *esl.Event, name, value string) {
	if _, ok := ev.Lookup(name); !ok {
		ev.Headers = append(ev.Headers, esl.Header{Name: name, Value: value})
	}
}
