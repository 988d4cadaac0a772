package conf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestCheckErrors(t *testing.T) {
	tests := []struct {
		name string
		// main replaces the main file when set.
		main string
		apps map[string]string
		env  map[string]string
		// file is the file the error is in, relative to the test folder.
		file    string
		key     string
		line    int
		message string
		remedy  string
	}{
		{
			name: "unknown key", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "follow_redirect = true\n"},
			key:  "follow_redirect", line: 5,
			message: "unknown key follow_redirect", remedy: `did you mean "follow_redirects"?`,
		},
		{
			name: "key under the wrong table", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[retry]\nmax_attempts = 3\ntimeout = 5\n"},
			key:  "retry.timeout", line: 7,
			message: "unknown key retry.timeout", remedy: "timeout belongs at the top of the file, before the first [table] header",
		},
		{
			name: "key that belongs in another table", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "ca_file = \"ca.pem\"\n"},
			key:  "ca_file", line: 5,
			message: "unknown key ca_file", remedy: "ca_file belongs in [tls]",
		},
		{
			name: "same app in two files", file: "apps.d/b.toml",
			apps: map[string]string{"a.toml": restApp, "b.toml": restApp},
			key:  "name", line: 1,
			message: `application "survey" is defined twice, here and in `, remedy: "give each application file its own name",
		},
		{
			name: "placeholder in host", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": strings.Replace(restApp, "crm.example.com", "{{tenant}}.example.com", 1)},
			key:  "url", line: 4,
			message: "url has a placeholder in its host", remedy: "write the host literally",
		},
		{
			name: "placeholder in port", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": strings.Replace(restApp, "crm.example.com", "crm.example.com:{{port}}", 1)},
			key:  "url", line: 4,
			message: "url has a placeholder in its port", remedy: "write the port literally",
		},
		{
			name: "placeholder in scheme", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": strings.Replace(restApp, "https", "{{scheme}}", 1)},
			key:  "url", line: 4,
			message: "url has a placeholder in its scheme", remedy: "write the scheme literally",
		},
		{
			name: "placeholder in userinfo", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": strings.Replace(restApp, "https://", "https://{{user}}:pw@", 1)},
			key:  "url", line: 4,
			message: "url has a placeholder in its userinfo", remedy: "write the userinfo literally",
		},
		{
			name: "url not http", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": strings.Replace(restApp, "https://", "ftp://", 1)},
			key:  "url", line: 4,
			message: `url scheme "ftp" is not supported`, remedy: "use https:// or http://",
		},
		{
			name: "url missing", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": "name = \"survey\"\ntype = \"rest\"\nrequest_type = \"GET\"\n"},
			key:  "url", line: 0,
			message: "url is missing", remedy: "http(s) URL",
		},
		{
			name: "invalid request type", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": strings.Replace(restApp, `"POST"`, `"PATCH"`, 1)},
			key:  "request_type", line: 3,
			message: `request_type "PATCH" is not valid`, remedy: "use GET, POST, POST RAW, PUT or DELETE",
		},
		{
			name: "request type in lower case", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": strings.Replace(restApp, `"POST"`, `"post raw"`, 1)},
			key:  "request_type", line: 3,
			message: `request_type "post raw" is not valid`, remedy: `write it in capitals: "POST RAW"`,
		},
		{
			name: "body with POST", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "body = \"{}\"\n"},
			key:  "body", line: 5,
			message: `body is set, but request_type "POST" sends no raw body`, remedy: `use request_type "POST RAW" or "PUT"`,
		},
		{
			name: "SOAP without method", file: "apps.d/log.toml",
			apps: map[string]string{"log.toml": "name = \"log\"\ntype = \"soap\"\nwsdl = \"https://crm.example.com/svc?wsdl\"\n"},
			key:  "method", line: 0,
			message: "method is missing", remedy: "name the WSDL operation to call",
		},
		{
			name: "SOAP with url", file: "apps.d/log.toml",
			apps: map[string]string{"log.toml": "name = \"log\"\ntype = \"soap\"\nwsdl = \"https://crm.example.com/svc?wsdl\"\nmethod = \"LogCall\"\nurl = \"https://crm.example.com/\"\n"},
			key:  "url", line: 5,
			message: "url is set in a SOAP application", remedy: "the WSDL gives the address",
		},
		{
			name: "SOAP version as a number", file: "apps.d/log.toml",
			apps: map[string]string{"log.toml": "name = \"log\"\ntype = \"soap\"\nwsdl = \"https://crm.example.com/svc?wsdl\"\nmethod = \"LogCall\"\nsoap_version = 1.2\n"},
			key:  "soap_version", line: 5,
			message: "soap_version must be a string, not a float", remedy: "put the value in double quotes",
		},
		{
			name: "SOAP version unknown", file: "apps.d/log.toml",
			apps: map[string]string{"log.toml": "name = \"log\"\ntype = \"soap\"\nwsdl = \"https://crm.example.com/svc?wsdl\"\nmethod = \"LogCall\"\nsoap_version = \"1.3\"\n"},
			key:  "soap_version", line: 5,
			message: `soap_version "1.3" is not valid`, remedy: `use "1.1" or "1.2"`,
		},
		{
			name: "SOAP local WSDL missing", file: "apps.d/log.toml",
			apps: map[string]string{"log.toml": "name = \"log\"\ntype = \"soap\"\nwsdl = \"calllog.wsdl\"\nmethod = \"LogCall\"\n"},
			key:  "wsdl", line: 3,
			message: "calllog.wsdl does not exist", remedy: "correct the path",
		},
		{
			name: "bad timeout zero", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "timeout = 0\n"},
			key:  "timeout", line: 5,
			message: "timeout 0 is not valid", remedy: "above 0 and at most 300",
		},
		{
			name: "bad timeout too long", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "timeout = 301\n"},
			key:  "timeout", line: 5,
			message: "timeout 301 is not valid", remedy: "above 0 and at most 300",
		},
		{
			name: "bad timeout NaN", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "timeout = nan\n"},
			key:  "timeout", line: 5,
			message: "timeout NaN is not valid", remedy: "above 0 and at most 300",
		},
		{
			name: "timeout as a duration string", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "timeout = \"2s\"\n"},
			key:  "timeout", line: 5,
			message: "timeout must be a number, not a string", remedy: "timeout = 2",
		},
		{
			name: "secret file missing", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[signing]\nsecret_file = \"keys/missing-secret\"\n"},
			key:  "signing.secret_file", line: 6,
			message: filepath.Join("apps.d", "keys", "missing-secret") + " does not exist", remedy: "create the file or correct the path",
		},
		{
			name: "secret env unset", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[signing]\nsecret_env = \"POSTCALL_TEST_UNSET_SECRET\"\n"},
			key:  "signing.secret_env", line: 6,
			message: "POSTCALL_TEST_UNSET_SECRET, which is not set", remedy: "set the variable",
		},
		{
			name: "signing without secret", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[signing]\n"},
			key:  "signing", line: 5,
			message: "signing has no secret", remedy: "set one of secret, secret_file and secret_env",
		},
		{
			name: "header value and value_env both set", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[[headers]]\nname = \"X-Token\"\nvalue = \"abc\"\nvalue_env = \"POSTCALL_TEST_TOKEN\"\n"},
			env:  map[string]string{"POSTCALL_TEST_TOKEN": "t"},
			key:  "headers[1].value_env", line: 8,
			message: "headers[1].value and headers[1].value_env are both set", remedy: "set only one of value, value_file and value_env",
		},
		{
			name: "header without value", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[[headers]]\nname = \"Accept\"\n"},
			key:  "headers[1]", line: 5,
			message: "headers[1] has no value", remedy: "set one of value, value_file and value_env",
		},
		{
			name: "header name not a token", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[[headers]]\nname = \"X Caller:\"\nvalue = \"x\"\n"},
			key:  "headers[1].name", line: 6,
			message: `headers[1].name "X Caller:" is not a valid HTTP header name`, remedy: "no space or colon",
		},
		{
			name: "header set by postcall", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[[headers]]\nname = \"Content-Length\"\nvalue = \"3\"\n"},
			key:  "headers[1].name", line: 6,
			message: `"Content-Length" is set by postcall itself`, remedy: "remove this header",
		},
		{
			name: "headers as a plain table", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[headers]\nAccept = \"text/plain\"\n"},
			key:  "headers", line: 5,
			message: "headers must be an array of tables, not a table", remedy: "write one [[headers]] table per entry",
		},
		{
			name: "variable without source prefix", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[variables]\naccount = \"sip_h_X-Account\"\n"},
			key:  "variables.account", line: 6,
			message: `variables.account "sip_h_X-Account" does not name a source`, remedy: "start it with channel:, event:, exit: or text:",
		},
		{
			name: "variable name with dots unquoted", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[variables]\nrequest.data.name = \"channel:x\"\n"},
			key:  "variables.request", line: 6,
			message: "variables.request is a table", remedy: `write "request.data.name" = "..."`,
		},
		{
			name: "name missing", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": strings.Replace(restApp, "name = \"survey\"\n", "", 1)},
			key:  "name", line: 0,
			message: "name is missing", remedy: "fuse_app channel variable",
		},
		{
			name: "name with a space", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": strings.Replace(restApp, `"survey"`, `"main menu"`, 1)},
			key:  "name", line: 1,
			message: `name "main menu" is not valid`, remedy: "use only letters, digits",
		},
		{
			name: "type unknown", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": strings.Replace(restApp, `"rest"`, `"REST"`, 1)},
			key:  "type", line: 2,
			message: `type "REST" is not valid`, remedy: `write it in lower case: "rest"`,
		},
		{
			name: "retry multiplier below one", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[retry]\nmultiplier = 0.5\n"},
			key:  "retry.multiplier", line: 6,
			message: "retry.multiplier 0.5 is not valid", remedy: "from 1 to 100",
		},
		{
			name: "retry duration invalid", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[retry]\nmax_delay = \"5 minutes\"\n"},
			key:  "retry.max_delay", line: 6,
			message: `retry.max_delay: invalid duration "5 minutes"`, remedy: "",
		},
		{
			name: "retry duration as a number", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[retry]\nmax_delay = 300\n"},
			key:  "retry.max_delay", line: 6,
			message: "retry.max_delay must be a duration string, not an integer", remedy: `max_delay = "30s"`,
		},
		{
			name: "TLS certificate without key", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[tls]\ncert_file = \"client.pem\"\n"},
			key:  "tls.cert_file", line: 6,
			message: "tls.cert_file is set without tls.key_file", remedy: "set both, or neither",
		},
		{
			name: "TLS CA file missing", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[tls]\nca_file = \"ca.pem\"\n"},
			key:  "tls.ca_file", line: 6,
			message: filepath.Join("apps.d", "ca.pem") + " cannot be read", remedy: "check the path",
		},
		{
			name: "TLS CA file without certificate", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "[tls]\nca_file = \"ca.pem\"\n", "ca.pem": "not a certificate\n"},
			key:  "tls.ca_file", line: 6,
			message: "contains no PEM certificate", remedy: "BEGIN CERTIFICATE",
		},
		{
			name: "TOML 1.1 escape", file: "apps.d/survey.toml",
			apps: map[string]string{"survey.toml": restApp + "body = \"\\e[0m\"\n"},
			key:  "", line: 5,
			message: `escape \e is TOML 1.1, not TOML 1.0`, remedy: `write it as \u001b`,
		},
		{
			name: "main event format", file: "postcall.toml",
			main: mainFile + "[freeswitch]\nevent_format = \"xml\"\n",
			key:  "freeswitch.event_format", line: 6,
			message: `freeswitch.event_format "xml" is not valid`, remedy: `use "json" or "plain"`,
		},
		{
			name: "main log level", file: "postcall.toml",
			main: mainFile + "[log]\nlevel = \"verbose\"\n",
			key:  "log.level", line: 6,
			message: `log.level "verbose" is not valid`, remedy: `use "debug", "info", "warn" or "error"`,
		},
		{
			name: "main log format", file: "postcall.toml",
			main: mainFile + "[log]\nformat = \"logfmt\"\n",
			key:  "log.format", line: 6,
			message: `log.format "logfmt" is not valid`, remedy: `use "text" or "json"`,
		},
		{
			name: "main workers zero", file: "postcall.toml",
			main: mainFile + "[delivery]\nworkers = 0\n",
			key:  "delivery.workers", line: 6,
			message: "delivery.workers 0 is not valid", remedy: "1 or more",
		},
		{
			name: "main per_app zero", file: "postcall.toml",
			main: mainFile + "[delivery]\nper_app = 0\n",
			key:  "delivery.per_app", line: 6,
			message: "delivery.per_app 0 is not valid", remedy: "1 or more",
		},
		{
			name: "main duration zero", file: "postcall.toml",
			main: mainFile + "[freeswitch]\nwatchdog = \"0s\"\n",
			key:  "freeswitch.watchdog", line: 6,
			message: "freeswitch.watchdog must be longer than 0s", remedy: "5s",
		},
		{
			name: "main address without port", file: "postcall.toml",
			main: mainFile + "[freeswitch]\naddress = \"127.0.0.1\"\n",
			key:  "freeswitch.address", line: 6,
			message: `freeswitch.address "127.0.0.1" is not a host:port address`, remedy: "127.0.0.1:8021",
		},
		{
			name: "main password file missing", file: "postcall.toml",
			main: mainFile + "[freeswitch]\npassword_file = \"esl-password\"\n",
			key:  "freeswitch.password_file", line: 6,
			message: "esl-password does not exist", remedy: "create the file",
		},
		{
			name: "main password and password_env", file: "postcall.toml",
			main: mainFile + "[freeswitch]\npassword = \"x\"\npassword_env = \"POSTCALL_TEST_ESL\"\n",
			env:  map[string]string{"POSTCALL_TEST_ESL": "y"},
			key:  "freeswitch.password_env", line: 7,
			message: "freeswitch.password and freeswitch.password_env are both set", remedy: "set only one of password, password_file and password_env",
		},
		{
			name: "main retry max_delay shorter", file: "postcall.toml",
			main: mainFile + "[delivery.retry]\ninitial_delay = \"1m\"\nmax_delay = \"10s\"\n",
			key:  "delivery.retry.max_delay", line: 7,
			message: "delivery.retry.max_delay 10s is shorter than initial_delay 1m0s", remedy: "at least as long",
		},
		{
			name: "main bad apps pattern", file: "postcall.toml",
			main: "apps = [\"apps.d/[.toml\"]\n[spool]\npath = \"spool.db\"\n",
			key:  "apps[1]", line: 1,
			message: `apps pattern "apps.d/[.toml" is not valid`, remedy: "filepath.Match",
		},
		{
			name: "main unknown table", file: "postcall.toml",
			main: mainFile + "[logging]\nlevel = \"debug\"\n",
			key:  "logging", line: 5,
			message: "unknown key logging", remedy: `did you mean "log"?`,
		},
		{
			name: "main size invalid", file: "postcall.toml",
			main: mainFile + "[delivery]\nmax_response_bytes = \"64 kilobytes\"\n",
			key:  "delivery.max_response_bytes", line: 6,
			message: `invalid size "64 kilobytes"`, remedy: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			files := map[string]string{}
			if tt.main != "" {
				files["postcall.toml"] = tt.main
			}
			for name, text := range tt.apps {
				files["apps.d/"+name] = text
			}
			if len(tt.apps) == 0 {
				files["apps.d/ok.toml"] = strings.Replace(restApp, `"survey"`, `"ok"`, 1)
			}

			_, err, dir := loadDir(t, files)
			list := mustErrors(t, err)
			e := errorFor(t, list, tt.key)
			if want := filepath.Join(dir, tt.file); e.File != want {
				t.Errorf("File = %q, want %q", e.File, want)
			}
			if e.Line != tt.line {
				t.Errorf("Line = %d, want %d (%v)", e.Line, tt.line, e)
			}
			assertContains(t, "Message", e.Message, tt.message)
			assertContains(t, "Remedy", e.Remedy, tt.remedy)
			if !strings.HasPrefix(e.Error(), e.File) {
				t.Errorf("Error() = %q, want it to start with the file name", e.Error())
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err, dir := loadDir(t, map[string]string{
		"postcall.toml":    mainFile + "[log]\nlevel = \"loud\"\n",
		"apps.d/a.toml":    strings.Replace(restApp, `"POST"`, `"PATCH"`, 1) + "timout = 3\n",
		"apps.d/b.toml":    "name = \"b\"\ntype = \"soap\"\n",
		"apps.d/c.toml":    "name = \"c\"\ntype = \"rest\"\nrequest_type = \"GET\"\nurl = \"https://x.example.com/\"\n",
		"apps.d/d.toml":    "name = \"d\nbroken",
		"apps.d/notes.txt": "not loaded",
	})
	list := mustErrors(t, err)

	want := []string{
		"postcall.toml:6:1: log.level",
		"a.toml:3:1: request_type \"PATCH\"",
		"a.toml:5:1: unknown key timout",
		"b.toml: wsdl is missing",
		"b.toml: method is missing",
		"d.toml:1:",
	}
	text := list.Error()
	for _, w := range want {
		assertContains(t, "Errors.Error()", text, w)
	}
	if got := strings.Count(text, "\n") + 1; got != len(list) {
		t.Errorf("Errors.Error() has %d lines for %d errors", got, len(list))
	}
	if strings.Contains(text, "c.toml") {
		t.Errorf("the valid file c.toml has errors:\n%s", text)
	}

	// Problems are sorted by file order, then line.
	order := []string{"postcall.toml", "a.toml", "b.toml", "d.toml"}
	last := -1
	for _, e := range list {
		for i, name := range order {
			if filepath.Base(e.File) == name {
				if i < last {
					t.Errorf("%s comes after a later file", e)
				}
				last = i
			}
		}
	}
	if !strings.HasPrefix(list[0].File, dir) {
		t.Errorf("first error is in %q, want the test folder", list[0].File)
	}
}

func TestLoadErrorsUnwrap(t *testing.T) {
	_, err, _ := loadDir(t, map[string]string{
		"apps.d/a.toml": restApp + "[signing]\nsecret_file = \"nope\"\n",
	})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(err, fs.ErrNotExist) = false for %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Key != "signing.secret_file" {
		t.Errorf("errors.As found %+v, want the signing.secret_file error", e)
	}
}

func TestLoadMainFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "postcall.toml")
	_, err := Load(path)
	list := mustErrors(t, err)
	if list[0].File != path || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want a not-exist error for %s", list[0], path)
	}
}

func TestLoadMainSyntaxErrorStops(t *testing.T) {
	_, err, _ := loadDir(t, map[string]string{
		"postcall.toml": "apps = [\"apps.d/*.toml\"\n",
		"apps.d/a.toml": "name = ",
	})
	list := mustErrors(t, err)
	if len(list) != 1 || filepath.Base(list[0].File) != "postcall.toml" || list[0].Line == 0 {
		t.Errorf("got %v, want one positioned error in the main file", list)
	}
}

func TestLoadWarnings(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name:  "fresh install without applications",
			files: map[string]string{},
			want:  []string{`apps pattern "apps.d/*.toml" matches no file`, "no application file was found"},
		},
		{
			name: "one of two patterns empty",
			files: map[string]string{
				"postcall.toml": "apps = [\"apps.d/*.toml\", \"more/*.toml\"]\n[spool]\npath = \"s.db\"\n",
				"apps.d/a.toml": restApp,
			},
			want: []string{`apps pattern "more/*.toml" matches no file`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err, _ := loadDir(t, tt.files)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Warnings) != len(tt.want) {
				t.Fatalf("Warnings = %q, want %d", c.Warnings, len(tt.want))
			}
			for i, w := range tt.want {
				assertContains(t, "warning", c.Warnings[i], w)
			}
		})
	}
}

func TestLoadAppFilesSortedAndDeduplicated(t *testing.T) {
	app := func(name string) string { return strings.Replace(restApp, `"survey"`, `"`+name+`"`, 1) }
	c, err, dir := loadDir(t, map[string]string{
		"postcall.toml":      "apps = [\"apps.d\", \"apps.d/b*.toml\", \"extra/*.toml\"]\n[spool]\npath = \"s.db\"\n",
		"apps.d/c.toml":      app("c"),
		"apps.d/a.toml":      app("a"),
		"apps.d/b.toml":      app("b"),
		"apps.d/sub/x.toml":  app("x"),
		"extra/z.toml":       app("z"),
		"apps.d/readme.text": "ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range c.Apps {
		names = append(names, a.Name)
	}
	if want := []string{"a", "b", "c", "z"}; !reflect.DeepEqual(names, want) {
		t.Errorf("apps = %v, want %v", names, want)
	}
	if c.App("z").File != filepath.Join(dir, "extra", "z.toml") {
		t.Errorf("File of z = %q", c.App("z").File)
	}
	if c.App("missing") != nil {
		t.Error("App(missing) is not nil")
	}
}

func TestLoadAppDefaultsFromMain(t *testing.T) {
	c, err, _ := loadDir(t, map[string]string{
		"postcall.toml":   mainFile + "[delivery]\ntimeout = 7\nper_app = 3\n[delivery.retry]\nmax_attempts = 9\ninitial_delay = \"3s\"\n",
		"apps.d/a.toml":   restApp + "[retry]\nmax_delay = \"1m\"\n",
		"apps.d/s.toml":   "name = \"s\"\ntype = \"soap\"\nwsdl = \"svc.wsdl\"\nmethod = \"LogCall\"\ntimeout = 20\nconcurrency = 2\n",
		"apps.d/svc.wsdl": "<definitions/>",
	})
	if err != nil {
		t.Fatal(err)
	}

	rest := c.App("survey")
	if rest.Timeout != 7 || rest.TimeoutDuration() != 7*time.Second {
		t.Errorf("REST timeout = %v, want 7 from [delivery]", rest.Timeout)
	}
	if rest.Concurrency != 3 {
		t.Errorf("REST concurrency = %d, want 3 from per_app", rest.Concurrency)
	}
	wantRetry := Retry{
		InitialDelay: Duration(3 * time.Second), MaxDelay: Duration(time.Minute), Multiplier: 2,
		MaxAttempts: 9, MaxAge: Duration(24 * time.Hour), MaxRetryAfter: Duration(time.Hour),
	}
	if rest.Retry != wantRetry {
		t.Errorf("REST retry = %+v, want %+v", rest.Retry, wantRetry)
	}

	soap := c.App("s")
	if soap.Timeout != 20 || soap.Concurrency != 2 {
		t.Errorf("SOAP timeout, concurrency = %v, %d, want 20, 2", soap.Timeout, soap.Concurrency)
	}
	if soap.SOAPVersion != "1.1" {
		t.Errorf("SOAPVersion = %q, want the default 1.1", soap.SOAPVersion)
	}
	if !filepath.IsAbs(soap.WSDL) && !strings.HasSuffix(soap.WSDL, filepath.Join("apps.d", "svc.wsdl")) {
		t.Errorf("WSDL = %q, want the path resolved against apps.d", soap.WSDL)
	}
}

func TestLoadAppWithoutMain(t *testing.T) {
	app, err := LoadApp(filepath.Join("..", "examples", "apps.d", "crm-lookup.toml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	if app.Timeout != d.Delivery.Timeout || app.Retry != d.Delivery.Retry {
		t.Errorf("timeout %v and retry %+v, want the defaults", app.Timeout, app.Retry)
	}
}

func TestSecretsResolved(t *testing.T) {
	t.Setenv("POSTCALL_TEST_SIGNING", "whsec_"+"c2VjcmV0LWJ5dGVz")
	t.Setenv("POSTCALL_TEST_HEADER", "Bearer env-token")
	c, err, _ := loadDir(t, map[string]string{
		"postcall.toml":     mainFile + "[freeswitch]\npassword_file = \"secrets/esl\"\n",
		"secrets/esl":       "esl-pass\r\n\n",
		"apps.d/a.toml":     restApp + "[[headers]]\nname = \"Authorization\"\nvalue_env = \"POSTCALL_TEST_HEADER\"\n[[headers]]\nname = \"X-Key\"\nvalue_file = \"../secrets/key\"\n[signing]\nsecret_env = \"POSTCALL_TEST_SIGNING\"\n",
		"secrets/key":       "file-key\n",
		"apps.d/plain.toml": strings.Replace(restApp, `"survey"`, `"plain"`, 1) + "[signing]\nsecret = \"inline-secret\"\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Main.FreeSWITCH.Password; got != "esl-pass" {
		t.Errorf("password = %q, want esl-pass with the line ending trimmed", got)
	}
	app := c.App("survey")
	if app.Headers[0].Value != "Bearer env-token" || app.Headers[1].Value != "file-key" {
		t.Errorf("header values = %q, %q", app.Headers[0].Value, app.Headers[1].Value)
	}
	if app.Signing.Secret != "whsec_c2VjcmV0LWJ5dGVz" {
		t.Errorf("signing secret = %q", app.Signing.Secret)
	}
	if c.App("plain").Signing.Secret != "inline-secret" {
		t.Errorf("inline signing secret = %q", c.App("plain").Signing.Secret)
	}
}

func TestSecretErrorsNameSourceNotValue(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		env   map[string]string
		key   string
		names string
	}{
		{
			name:  "empty secret file",
			files: map[string]string{"apps.d/a.toml": restApp + "[signing]\nsecret_file = \"s\"\n", "apps.d/s": "\n"},
			key:   "signing.secret_file", names: filepath.Join("apps.d", "s") + " is empty",
		},
		{
			name:  "empty environment variable",
			files: map[string]string{"apps.d/a.toml": restApp + "[signing]\nsecret_env = \"POSTCALL_TEST_EMPTY\"\n"},
			env:   map[string]string{"POSTCALL_TEST_EMPTY": ""},
			key:   "signing.secret_env", names: "POSTCALL_TEST_EMPTY, which is empty",
		},
		{
			name:  "whsec key that is not base64",
			files: map[string]string{"apps.d/a.toml": restApp + "[signing]\nsecret_env = \"POSTCALL_TEST_WHSEC\"\n"},
			env:   map[string]string{"POSTCALL_TEST_WHSEC": "whsec_not*base64!hunter2"},
			key:   "signing", names: `starts with "whsec_" but the rest is not valid base64`,
		},
		{
			name:  "secret path is a folder",
			files: map[string]string{"apps.d/a.toml": restApp + "[signing]\nsecret_file = \".\"\n"},
			key:   "signing.secret_file", names: "is not a regular file",
		},
		{
			name:  "header value from env with a line break",
			files: map[string]string{"apps.d/a.toml": restApp + "[[headers]]\nname = \"X-T\"\nvalue_env = \"POSTCALL_TEST_CRLF\"\n"},
			env:   map[string]string{"POSTCALL_TEST_CRLF": "hunter2\r\nX-Evil: 1"},
			key:   "headers[1].value", names: "value contains a line break",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err, _ := loadDir(t, tt.files)
			list := mustErrors(t, err)
			e := errorFor(t, list, tt.key)
			assertContains(t, "Message", e.Message, tt.names)
			if strings.Contains(list.Error(), "hunter2") {
				t.Errorf("the error shows the secret: %v", list)
			}
		})
	}
}

func TestTLSFiles(t *testing.T) {
	certPEM, keyPEM := testCertificate(t)
	_, otherKey := testCertificate(t)

	tests := []struct {
		name    string
		files   map[string]string
		key     string
		message string
	}{
		{
			name: "valid CA, certificate and key",
			files: map[string]string{
				"apps.d/a.toml": restApp + "[tls]\nca_file = \"ca.pem\"\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n",
				"apps.d/ca.pem": certPEM, "apps.d/c.pem": certPEM, "apps.d/k.pem": keyPEM,
			},
		},
		{
			name: "key of another certificate",
			files: map[string]string{
				"apps.d/a.toml": restApp + "[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n",
				"apps.d/c.pem":  certPEM, "apps.d/k.pem": otherKey,
			},
			key: "tls.cert_file", message: "are not a valid pair",
		},
		{
			name: "key file missing",
			files: map[string]string{
				"apps.d/a.toml": restApp + "[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n",
				"apps.d/c.pem":  certPEM,
			},
			key: "tls.key_file", message: "cannot be read",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err, dir := loadDir(t, tt.files)
			if tt.key == "" {
				if err != nil {
					t.Fatal(err)
				}
				if want := filepath.Join(dir, "apps.d", "ca.pem"); c.Apps[0].TLS.CAFile != want {
					t.Errorf("CAFile = %q, want %q", c.Apps[0].TLS.CAFile, want)
				}
				return
			}
			list := mustErrors(t, err)
			e := errorFor(t, list, tt.key)
			assertContains(t, "Message", e.Message, tt.message)
			if strings.Contains(list.Error(), "PRIVATE KEY") {
				t.Errorf("the error shows key material: %v", list)
			}
		})
	}
}

// testCertificate returns a self-signed certificate and its key, in PEM.
func testCertificate(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "crm.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IsCA:         true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return certPEM, keyPEM
}

func TestSampleMainMatchesDefaults(t *testing.T) {
	path := filepath.Join("..", "examples", "postcall.toml")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %q", c.Warnings)
	}
	if !reflect.DeepEqual(c.Main, Defaults()) {
		t.Errorf("the sample differs from Defaults():\nsample   %+v\ndefaults %+v", c.Main, Defaults())
	}

	// Every option is written in the sample, except those it shows only
	// in comments on purpose.
	commented := map[string]bool{
		"freeswitch.password_file": true, "freeswitch.password_env": true, "delivery.user_agent": true,
	}
	var raw map[string]any
	md, err := toml.DecodeFile(path, &raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range schemaKeys(reflect.TypeOf(Main{}), "") {
		parts := strings.Split(key, ".")
		switch {
		case commented[key] && md.IsDefined(parts...):
			t.Errorf("%s is set in the sample, but it should only be shown in a comment", key)
		case !commented[key] && !md.IsDefined(parts...):
			t.Errorf("%s is missing from the sample", key)
		}
	}
}

// schemaKeys lists the full paths of the keys of a struct, tables expanded.
func schemaKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := joinKey(prefix, name)
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			keys = append(keys, schemaKeys(f.Type, path)...)
			continue
		}
		keys = append(keys, path)
	}
	return keys
}

func TestExamplesLoad(t *testing.T) {
	c, err := Load(filepath.Join("..", "examples", "postcall.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Apps) != 3 {
		t.Fatalf("loaded %d applications, want 3", len(c.Apps))
	}

	survey := c.App("survey")
	if survey == nil || survey.Type != "rest" || survey.RequestType != RequestPOSTRaw {
		t.Fatalf("survey = %+v, want a REST POST RAW application", survey)
	}
	for _, placeholder := range []string{"{{session.id}}", "{{session.connection.ani}}", "{{call.termination}}", "{{q1}}"} {
		assertContains(t, "survey body", survey.Body, placeholder)
	}
	if len(survey.Headers) != 2 || survey.Headers[1].Value != "{{session.name}}" {
		t.Errorf("survey headers = %+v, want X-Survey with {{session.name}}", survey.Headers)
	}
	if survey.Retry.InitialDelay != Duration(2*time.Second) || survey.Retry.MaxAttempts != 20 || survey.Retry.MaxAge != Duration(24*time.Hour) {
		t.Errorf("survey retry = %+v, want the override merged with the main file", survey.Retry)
	}

	crm := c.App("crm-lookup")
	if crm == nil || crm.RequestType != RequestGET || !crm.Private || len(crm.Params) != 5 {
		t.Errorf("crm-lookup = %+v, want a private GET with 5 params", crm)
	}

	soap := c.App("calllog")
	if soap == nil || soap.Type != "soap" || soap.SOAPVersion != "1.2" || soap.Method != "LogCall" {
		t.Fatalf("calllog = %+v, want a SOAP 1.2 LogCall application", soap)
	}
	var params []string
	for _, p := range soap.Params {
		params = append(params, p.Name)
	}
	if want := []string{"CallId", "Ani", "Dnis", "Duration", "SurveyScore", "Comment"}; !reflect.DeepEqual(params, want) {
		t.Errorf("calllog params = %v, want %v", params, want)
	}
}

func TestDefaultsAreValid(t *testing.T) {
	st := newFileState("defaults", reflect.TypeOf(Main{}))
	m := Defaults()
	st.checkMain(osLoader(), ".", &m)
	if len(st.errs) > 0 {
		t.Errorf("Defaults() is not valid:\n%v", st.errs)
	}
}

func TestParamsKeepOrderAndDuplicates(t *testing.T) {
	c, err, _ := loadDir(t, map[string]string{
		"apps.d/a.toml": restApp +
			"[[params]]\nname = \"tag\"\nvalue = \"b\"\n" +
			"[[params]]\nname = \"id\"\nvalue = \"{{session.id}}\"\n" +
			"[[params]]\nname = \"tag\"\nvalue = \"a\"\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Param{{Name: "tag", Value: "b"}, {Name: "id", Value: "{{session.id}}"}, {Name: "tag", Value: "a"}}
	if got := c.Apps[0].Params; !reflect.DeepEqual(got, want) {
		t.Errorf("Params = %+v, want %+v", got, want)
	}
}
