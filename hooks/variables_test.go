package hooks

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/postcall/postcall/esl"
)

// ivrExitVars returns the variables of the ivr_exit capture's IVR leg with
// extra headers appended to the hangup, and the exit event when exitHeaders
// is not nil.
func ivrExitVars(t *testing.T, app *App, extra []esl.Header, exitHeaders []esl.Header) map[string]string {
	t.Helper()
	hangup := readEvent(t, "hangup_complete_ivr_exit.json")
	hangup.Headers = append(hangup.Headers, extra...)
	var exit *esl.Event
	if exitHeaders != nil {
		e := readEvent(t, "custom_fuse_exit.json")
		e.Headers = append(e.Headers, exitHeaders...)
		exit = &e
	}
	return Variables(nil, app, &hangup, exit, Termination(nil, &hangup, exit))
}

func TestVariablesTable(t *testing.T) {
	survey := &App{Name: "survey"}
	cases := []struct {
		name    string
		app     *App
		noApp   bool
		extra   []esl.Header
		exit    []esl.Header
		varName string
		want    string
		absent  bool
	}{
		// The documented names, from the capture.
		{name: "session id", varName: VarSessionID, want: ivrExitUUID},
		{name: "session name", varName: VarSessionName, want: "survey"},
		{name: "ani", varName: VarANI, want: "15550100001"},
		{name: "dnis", varName: VarDNIS, want: "1000"},
		{name: "call key", varName: VarCallKey, want: ivrExitKey},
		{name: "termination", varName: VarTermination, want: TerminationIVRExit},
		{name: "hangup cause", varName: VarHangupCause, want: "NORMAL_CLEARING"},
		{name: "start", varName: VarStart, want: "2026-12-04T19:29:06.518125Z"},
		{name: "answer", varName: VarAnswer, want: "2026-12-04T19:29:06.518665Z"},
		{name: "end", varName: VarEnd, want: "2026-12-04T19:29:07.510489Z"},
		{name: "duration", varName: VarDuration, want: "1"},
		{name: "billsec", varName: VarBillsec, want: "1"},
		{name: "caller name", varName: VarCallerName, want: "Test Caller One"},
		{name: "other leg ani empty without other leg", varName: VarOtherLegANI, want: ""},
		{name: "other leg dnis empty without other leg", varName: VarOtherLegDNIS, want: ""},
		{name: "other leg ani", extra: []esl.Header{hdr("Other-Leg-Caller-ID-Number", "+15550100077")}, varName: VarOtherLegANI, want: "+15550100077"},
		{name: "session name from the event without app", noApp: true, varName: VarSessionName, want: "survey"},

		// Times and durations fall back to the Caller-Channel-* headers.
		{
			name:    "start from channel created time",
			extra:   []esl.Header{hdr("variable_start_uepoch", "0")},
			varName: VarStart, want: "2026-12-04T19:29:06.518125Z",
		},

		// IVR variables.
		{name: "ivr variable", varName: "q2", want: "yes"},
		{name: "ivr variable with dots", extra: []esl.Header{hdr("variable_fuse_var_request.data.name", "Ann")}, varName: "request.data.name", want: "Ann"},
		{name: "ivr variable keeps case", extra: []esl.Header{hdr("variable_fuse_var_Survey_Q1", "3")}, varName: "Survey_Q1", want: "3"},
		{name: "ivr variable with punctuation", extra: []esl.Header{hdr("variable_fuse_var_weird(x)/y", "z")}, varName: "weird(x)/y", want: "z"},
		{name: "empty ivr name ignored", extra: []esl.Header{hdr("variable_fuse_var_", "z")}, varName: "", absent: true},
		{name: "repeated variable keeps the first", extra: []esl.Header{hdr("variable_fuse_var_q1", "9")}, varName: "q1", want: "5"},
		{name: "exit header overrides channel", exit: []esl.Header{hdr("fuse_var_q1", "8")}, varName: "q1", want: "8"},
		{name: "documented name wins over ivr variable", extra: []esl.Header{hdr("variable_fuse_var_session.id", "forged")}, varName: VarSessionID, want: ivrExitUUID},
		{name: "invalid utf-8 replaced", extra: []esl.Header{hdr("variable_fuse_var_bad", "a\xffb")}, varName: "bad", want: "a\uFFFDb"},

		// Raw names.
		{name: "channel raw", varName: "channel.fuse_app", want: "survey"},
		{name: "channel odd punctuation", extra: []esl.Header{hdr("variable_fish,(sticks)~_1", "chips")}, varName: "channel.fish,(sticks)~_1", want: "chips"},
		{name: "event raw", varName: "event.Event-Sequence", want: "453"},
		{name: "event odd punctuation", extra: []esl.Header{hdr("variable_fish,(sticks)~_1", "chips")}, varName: "event.variable_fish,(sticks)~_1", want: "chips"},
		{name: "event repeated keeps the first", extra: []esl.Header{hdr("Hangup-Cause", "USER_BUSY")}, varName: "event.Hangup-Cause", want: "NORMAL_CLEARING"},
		{name: "exit raw", exit: []esl.Header{}, varName: "exit.fuse_note", want: "done ok"},
		{name: "exit channel variable raw", exit: []esl.Header{}, varName: "exit.variable_fuse_var_q1", want: "4"},
		{name: "exit odd punctuation", exit: []esl.Header{hdr("odd:name (x)", "y")}, varName: "exit.odd:name (x)", want: "y"},
		{name: "no exit names without exit event", varName: "exit.fuse_note", absent: true},

		// SIP headers.
		{name: "sip custom header", extra: []esl.Header{hdr("variable_sip_h_X-Account", "AB/12")}, varName: SIPHeaderPrefix + "X-Account", want: "AB/12"},
		{name: "sip call id alias", extra: []esl.Header{hdr("variable_sip_call_id", "abc@host")}, varName: SIPHeaderPrefix + "Call-ID", want: "abc@host"},
		{name: "sip from alias", extra: []esl.Header{hdr("variable_sip_full_from", "<sip:1@h>;tag=1")}, varName: SIPHeaderPrefix + "From", want: "<sip:1@h>;tag=1"},
		{name: "sip contact alias", extra: []esl.Header{hdr("variable_sip_contact_uri", "1@127.0.0.1")}, varName: SIPHeaderPrefix + "Contact", want: "1@127.0.0.1"},
		{
			name:    "sip_h variable wins over alias",
			extra:   []esl.Header{hdr("variable_sip_user_agent", "alias"), hdr("variable_sip_h_User-Agent", "direct")},
			varName: SIPHeaderPrefix + "User-Agent", want: "direct",
		},
		{name: "sip alias absent", varName: SIPHeaderPrefix + "Call-ID", absent: true},

		// The application's [variables] table.
		{
			name:    "table text",
			app:     &App{Name: "survey", Variables: map[string]string{"account": "text:ACME"}},
			varName: "account", want: "ACME",
		},
		{
			name:    "table empty text",
			app:     &App{Name: "survey", Variables: map[string]string{"blank": "text:"}},
			varName: "blank", want: "",
		},
		{
			name:    "table channel",
			app:     &App{Name: "survey", Variables: map[string]string{"cid": "channel:caller_id"}},
			varName: "cid", want: `"Test Caller One" <15550100001>`,
		},
		{
			name:    "table event",
			app:     &App{Name: "survey", Variables: map[string]string{"seq": "event:Event-Sequence"}},
			varName: "seq", want: "453",
		},
		{
			name:    "table exit",
			app:     &App{Name: "survey", Variables: map[string]string{"score": "exit:fuse_score"}},
			exit:    []esl.Header{},
			varName: "score", want: "7",
		},
		{
			name:    "table overrides documented",
			app:     &App{Name: "survey", Variables: map[string]string{VarCallerName: "channel:effective_caller_id_name"}},
			extra:   []esl.Header{hdr("variable_effective_caller_id_name", "Override")},
			varName: VarCallerName, want: "Override",
		},
		{
			name:    "table overrides ivr variable",
			app:     &App{Name: "survey", Variables: map[string]string{"q1": "text:fixed"}},
			varName: "q1", want: "fixed",
		},
		{
			name:    "table source absent removes name",
			app:     &App{Name: "survey", Variables: map[string]string{VarHangupCause: "channel:no_such_variable"}},
			varName: VarHangupCause, absent: true,
		},
		{
			name:    "table exit source without exit event",
			app:     &App{Name: "survey", Variables: map[string]string{"score": "exit:fuse_score"}},
			varName: "score", absent: true,
		},
		{
			name:    "table invalid source",
			app:     &App{Name: "survey", Variables: map[string]string{"x": "nonsense"}},
			varName: "x", absent: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := tc.app
			if app == nil && !tc.noApp {
				app = survey
			}
			vars := ivrExitVars(t, app, tc.extra, tc.exit)

			got, ok := vars[tc.varName]
			if tc.absent {
				if ok {
					t.Errorf("%q = %q, want it unset", tc.varName, got)
				}
				return
			}
			if !ok {
				t.Fatalf("%q is not set", tc.varName)
			}
			if got != tc.want {
				t.Errorf("%q = %q, want %q", tc.varName, got, tc.want)
			}
		})
	}
}

func TestVariablesExitOnly(t *testing.T) {
	exit := readEvent(t, "custom_fuse_exit.plain")
	vars := Variables(nil, &App{Name: "survey"}, nil, &exit, TerminationIVRExit)

	checks := map[string]string{
		VarSessionID:           customExitUUID,
		VarANI:                 "15550100004",
		VarDNIS:                "4000",
		VarCallerName:          "Test Caller Four",
		VarStart:               "2026-12-04T19:29:19.530512Z",
		VarEnd:                 "",
		VarDuration:            "",
		VarBillsec:             "",
		"q1":                   "4",
		"channel.fuse_app":     "survey",
		"event.Event-Subclass": "fuse::exit",
		"exit.fuse_note":       "done ok",
		"exit.Event-Subclass":  "fuse::exit",
	}
	for name, want := range checks {
		if got, ok := vars[name]; !ok || got != want {
			t.Errorf("%s = %q (set %v), want %q", name, got, ok, want)
		}
	}
}

func TestVariablesWithoutEvents(t *testing.T) {
	vars := Variables(nil, nil, nil, nil, "")
	for _, name := range documentedNames {
		got, ok := vars[name]
		if !ok {
			t.Errorf("%s is not set", name)
		}
		if got != "" {
			t.Errorf("%s = %q, want empty", name, got)
		}
	}
}

// Durations come from the reported whole seconds, else from the times.
func TestVariablesDurations(t *testing.T) {
	const start, answer, end = "1796412546000000", "1796412550000000", "1796412607900000"
	cases := []struct {
		name                   string
		headers                []string
		wantDuration, wantBill string
	}{
		{"reported", []string{"variable_duration", "42", "variable_billsec", "40"}, "42", "40"},
		{"computed", []string{"variable_start_uepoch", start, "variable_answer_uepoch", answer, "variable_end_uepoch", end}, "61", "57"},
		{"reported wins", []string{"variable_duration", "7", "variable_start_uepoch", start, "variable_end_uepoch", end}, "7", "0"},
		{"invalid reported computed", []string{"variable_duration", "x", "variable_start_uepoch", start, "variable_end_uepoch", end}, "61", "0"},
		{"not answered billsec zero", []string{"variable_start_uepoch", start, "variable_end_uepoch", end}, "61", "0"},
		{"end before start", []string{"variable_start_uepoch", end, "variable_end_uepoch", start}, "", "0"},
		{"no end", []string{"variable_start_uepoch", start, "variable_answer_uepoch", answer}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := event(tc.headers...)
			vars := Variables(nil, nil, &ev, nil, "")
			if vars[VarDuration] != tc.wantDuration {
				t.Errorf("%s = %q, want %q", VarDuration, vars[VarDuration], tc.wantDuration)
			}
			if vars[VarBillsec] != tc.wantBill {
				t.Errorf("%s = %q, want %q", VarBillsec, vars[VarBillsec], tc.wantBill)
			}
		})
	}
}

func TestVariablesTimeFormat(t *testing.T) {
	cases := []struct{ name, micros, want string }{
		{"microseconds", "1796412546518125", "2026-12-04T19:29:06.518125Z"},
		{"trailing zeros trimmed", "1796412546500000", "2026-12-04T19:29:06.5Z"},
		{"whole second", "1796412546000000", "2026-12-04T19:29:06Z"},
		{"zero is empty", "0", ""},
		{"negative is empty", "-5", ""},
		{"garbage is empty", "2026-12-04 19:29:06", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := event("variable_start_uepoch", tc.micros, "variable_start_stamp", "2026-12-04 19:29:06")
			if got := Variables(nil, nil, &ev, nil, "")[VarStart]; got != tc.want {
				t.Errorf("%s = %q, want %q", VarStart, got, tc.want)
			}
		})
	}
}

func TestVariablesCustomConfig(t *testing.T) {
	cfg := &Config{AppVar: "ivr_app", Prefix: "ivr_", ExitVar: "ivr_done"}
	hangup := event(
		"Unique-ID", "u1",
		"Caller-Channel-Answered-Time", "1796412546518665",
		"variable_ivr_app", "menu",
		"variable_ivr_choice", "2",
		"variable_fuse_var_choice", "ignored",
		"variable_ivr_done", "yes",
	)
	vars := Variables(cfg, nil, &hangup, nil, Termination(cfg, &hangup, nil))
	if vars["choice"] != "2" {
		t.Errorf("choice = %q, want 2 from the custom prefix", vars["choice"])
	}
	if vars[VarSessionName] != "menu" {
		t.Errorf("%s = %q, want menu from the custom application variable", VarSessionName, vars[VarSessionName])
	}
	if vars[VarTermination] != TerminationIVRExit {
		t.Errorf("%s = %q, want ivr_exit from the custom exit variable", VarTermination, vars[VarTermination])
	}
}

func TestKeyStable(t *testing.T) {
	if got := Key(ivrExitCore, ivrExitUUID); got != ivrExitKey {
		t.Errorf("Key = %q, want %q", got, ivrExitKey)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(Key("a", "b")) {
		t.Errorf("Key(a, b) = %q, want 32 lowercase hex digits", Key("a", "b"))
	}
	if Key("ab", "c") == Key("a", "bc") {
		t.Error(`Key("ab", "c") equals Key("a", "bc")`)
	}
	if Key("core-1", "u") == Key("core-2", "u") {
		t.Error("the key ignores the Core-UUID")
	}

	// The exit event and the hangup of one channel give one key.
	exit := readEvent(t, "custom_fuse_exit.json")
	hangup := readEvent(t, "hangup_complete_custom_exit.plain")
	if Key(exit.Get("Core-UUID"), exit.Get("Unique-ID")) != Key(hangup.Get("Core-UUID"), hangup.Get("Unique-ID")) {
		t.Error("the exit event and the hangup of one channel have different keys")
	}
}

func TestSampleCoversDocumentedNames(t *testing.T) {
	app := &App{Name: "survey", Variables: map[string]string{
		"account":  "channel:sip_h_X-Account-Id",
		"seq":      "event:Event-Sequence",
		"score":    "exit:fuse_score",
		"brand":    "text:ACME",
		"override": "channel:effective_caller_id_name",
	}}
	vars := Sample(nil, app)

	for _, name := range DocumentedNames() {
		if vars[name] == "" {
			t.Errorf("sample %s is empty", name)
		}
	}
	for _, alias := range sipHeaderAliases {
		if vars[SIPHeaderPrefix+alias.header] == "" {
			t.Errorf("sample SIP header %s is empty", alias.header)
		}
	}
	for name := range app.Variables {
		if vars[name] == "" {
			t.Errorf("sample table variable %s is empty", name)
		}
	}
	for name := range vars {
		if !KnownName(nil, app, name) {
			t.Errorf("sample name %q is not a known name", name)
		}
	}
	if vars[VarSessionName] != "survey" {
		t.Errorf("sample %s = %q, want survey", VarSessionName, vars[VarSessionName])
	}
	if vars[VarTermination] != TerminationIVRExit {
		t.Errorf("sample %s = %q, want ivr_exit", VarTermination, vars[VarTermination])
	}
}

// docs/variables.md documents every fixed name and every SIP alias, and
// names no call. or session. variable that the code does not set.
func TestVariablesDocumented(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "docs", "variables.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)

	for _, name := range documentedNames {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/variables.md does not document %s", name)
		}
	}
	for _, alias := range sipHeaderAliases {
		row := regexp.MustCompile("`" + regexp.QuoteMeta(alias.header) + "`.*`" + regexp.QuoteMeta(alias.variable) + "`")
		if !row.MatchString(doc) {
			t.Errorf("docs/variables.md has no row mapping %s to %s", alias.header, alias.variable)
		}
	}
	for _, m := range regexp.MustCompile("`((?:call|session)\\.[a-z_.]+)`").FindAllStringSubmatch(doc, -1) {
		name := m[1]
		if slices.Contains(documentedNames, name) || strings.HasPrefix(name+".", SIPHeaderPrefix) || strings.HasPrefix(name, SIPHeaderPrefix) {
			continue
		}
		t.Errorf("docs/variables.md names %s, which no call sets", name)
	}
}

func TestKnownName(t *testing.T) {
	app := &App{Name: "survey", Variables: map[string]string{"account": "text:x"}}
	cases := []struct {
		name string
		want bool
	}{
		{VarSessionID, true},
		{VarOtherLegDNIS, true},
		{"channel.fuse_app", true},
		{"channel.fish,(sticks)~_1", true},
		{"event.Event-Name", true},
		{"exit.fuse_score", true},
		{SIPHeaderPrefix + "X-Account", true},
		{"account", true},
		{"channel.", false},
		{SIPHeaderPrefix, false},
		{"q1", false},
		{"session.bogus", false},
		{"", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := KnownName(nil, app, tc.name); got != tc.want {
				t.Errorf("KnownName(%q) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

func TestUnknownNameWarning(t *testing.T) {
	cases := []struct {
		name, placeholder string
		cfg               *Config
		want              []string
	}{
		{"bare name", "q1", nil, []string{`"q1" is not a documented variable`, "fuse_var_q1?"}},
		{"custom prefix", "q1", &Config{Prefix: "ivr_"}, []string{"ivr_q1?"}},
		{"call namespace", "call.bogus", nil, []string{"docs/variables.md", "fuse_var_call.bogus?"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := UnknownNameWarning(tc.cfg, tc.placeholder)
			for _, part := range tc.want {
				if !strings.Contains(got, part) {
					t.Errorf("warning %q does not contain %q", got, part)
				}
			}
		})
	}
}
