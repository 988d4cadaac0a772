package rest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/render"
)

func TestNewTemplateErrors(t *testing.T) {
	tests := []struct {
		name    string
		app     conf.App
		errText string
	}{
		{"soap application", conf.App{Type: "soap", RequestType: "POST", URL: "https://crm.example.com/x"}, `key type: "soap" is not "rest"`},
		{"unknown request type", conf.App{RequestType: "PATCH", URL: "https://crm.example.com/x"}, `key request_type: invalid value "PATCH"`},
		{"missing URL", conf.App{RequestType: "GET"}, "key url: missing"},
		{"placeholder in host", conf.App{RequestType: "GET", URL: "https://{{host}}/x"}, "key url: invalid URL"},
		{"unsupported scheme", conf.App{RequestType: "GET", URL: "ftp://crm.example.com/x"}, `key url: unsupported scheme "ftp"`},
		{"bad placeholder in URL", conf.App{RequestType: "GET", URL: "https://crm.example.com/{{a b}}"}, "key url: line 1, column 28"},
		{"bad header name", conf.App{RequestType: "GET", URL: "https://crm.example.com/x", Headers: []conf.Header{{Name: "X Caller", Value: "1"}}}, `key headers: invalid header name "X Caller"`},
		{"hop-by-hop header", conf.App{RequestType: "GET", URL: "https://crm.example.com/x", Headers: []conf.Header{{Name: "content-length", Value: "1"}}}, "is set by the HTTP client"},
		{"header value with CR", conf.App{RequestType: "GET", URL: "https://crm.example.com/x", Headers: []conf.Header{{Name: "X-Token", Value: "secret\r\nX: y"}}}, "contains a control character"},
		{"unclosed placeholder in header", conf.App{RequestType: "GET", URL: "https://crm.example.com/x", Headers: []conf.Header{{Name: "X-Caller", Value: "{{caller"}}}, `header "X-Caller": line 1, column 1: unclosed placeholder`},
		{"placeholder in Content-Type", conf.App{RequestType: "PUT", URL: "https://crm.example.com/x", Headers: []conf.Header{{Name: "Content-Type", Value: "{{type}}"}}}, "may not contain a placeholder"},
		{"placeholder in Host", conf.App{RequestType: "GET", URL: "https://crm.example.com/x", Headers: []conf.Header{{Name: "Host", Value: "{{host}}"}}}, "may not contain a placeholder"},
		{"invalid Host", conf.App{RequestType: "GET", URL: "https://crm.example.com/x", Headers: []conf.Header{{Name: "Host", Value: "crm example/x"}}}, "invalid Host value"},
		{"two Content-Types", conf.App{RequestType: "PUT", URL: "https://crm.example.com/x", Headers: []conf.Header{{Name: "Content-Type", Value: "text/plain"}, {Name: "content-type", Value: "text/xml"}}}, "is set twice"},
		{"JSON Content-Type on a form POST", conf.App{RequestType: "POST", URL: "https://crm.example.com/x", Headers: []conf.Header{{Name: "Content-Type", Value: "application/json"}}}, "does not fit request type POST"},
		{"body on GET", conf.App{RequestType: "GET", URL: "https://crm.example.com/x", Body: "x"}, "key body: request type GET sends no raw body"},
		{"body on POST", conf.App{RequestType: "POST", URL: "https://crm.example.com/x", Body: "x"}, "key body: request type POST sends no raw body"},
		{"bad body placeholder", conf.App{RequestType: "PUT", URL: "https://crm.example.com/x", Body: "{\n  \"a\": \"{{}}\"\n}"}, "key body: line 2, column 9: empty placeholder"},
		{"parameter without name", conf.App{RequestType: "GET", URL: "https://crm.example.com/x", Params: []conf.Param{{Value: "1"}}}, "key params: parameter 1 has no name"},
		{"bad parameter placeholder", conf.App{RequestType: "GET", URL: "https://crm.example.com/x", Params: []conf.Param{{Name: "p", Value: "{{x y}}"}}}, `key params: parameter "p"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := tc.app
			app.File = "/etc/postcall/apps.d/survey.toml"
			if app.Type == "" {
				app.Type = "rest"
			}
			_, err := NewTemplate(&app)
			if err == nil {
				t.Fatalf("NewTemplate succeeded, want an error containing %q", tc.errText)
			}
			if !strings.HasPrefix(err.Error(), app.File+": ") {
				t.Errorf("error %q does not start with the file", err)
			}
			if !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("error %q does not contain %q", err, tc.errText)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows a header value", err)
			}
		})
	}
}

func TestNewTemplateNamesApp(t *testing.T) {
	_, err := NewTemplate(&conf.App{Name: "survey", Type: "rest", RequestType: "GET"})
	if err == nil || !strings.HasPrefix(err.Error(), `application "survey": key url`) {
		t.Errorf("error = %v, want it to name the application and key", err)
	}
	if _, err := NewTemplate(nil); err == nil {
		t.Error("NewTemplate(nil) succeeded")
	}
}

func TestRequestTypeSpelling(t *testing.T) {
	tests := []struct {
		requestType string
		method      string
		format      render.BodyFormat
	}{
		{"post raw", "POST", render.BodyText},
		{" POST   RAW ", "POST", render.BodyText},
		{"get", "GET", render.BodyText},
		{"Put", "PUT", render.BodyText},
	}
	for _, tc := range tests {
		t.Run(tc.requestType, func(t *testing.T) {
			tmpl := newTestTemplate(t, &conf.App{RequestType: tc.requestType, URL: "https://crm.example.com/x"})
			if tmpl.Method() != tc.method {
				t.Errorf("Method() = %q, want %q", tmpl.Method(), tc.method)
			}
			if tmpl.BodyFormat() != tc.format {
				t.Errorf("BodyFormat() = %v, want %v", tmpl.BodyFormat(), tc.format)
			}
		})
	}
}

func TestTemplateNames(t *testing.T) {
	tmpl := newTestTemplate(t, &conf.App{
		RequestType: "PUT",
		URL:         "https://crm.example.com/accounts/{{account}}?src={{session.connection.ani}}",
		Headers:     []conf.Header{{Name: "X-Route", Value: "{{channel.sip_h_X-Route}}"}, {Name: "X-Account", Value: "{{account}}"}},
		Params:      []conf.Param{{Name: "score", Value: "{{exit.fuse_score}}"}},
		Body:        "{{call.termination}} {{account}}",
	})
	want := []string{"account", "session.connection.ani", "channel.sip_h_X-Route", "exit.fuse_score", "call.termination"}
	if got := tmpl.Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
}

func TestRenderMissingNames(t *testing.T) {
	tmpl := newTestTemplate(t, &conf.App{
		RequestType: "POST",
		URL:         "https://crm.example.com/{{a}}",
		Headers:     []conf.Header{{Name: "X-B", Value: "{{b}}"}},
		Params:      []conf.Param{{Name: "c", Value: "{{c}}{{a}}"}, {Name: "d", Value: "{{d}}"}},
	})
	req, missing := tmpl.Render(render.Vars{"d": "4"})
	if want := []string{"c", "a", "b"}; !reflect.DeepEqual(missing, want) {
		t.Errorf("missing = %q, want %q", missing, want)
	}
	if req.URL != "https://crm.example.com/" {
		t.Errorf("URL = %q, want the placeholder rendered empty", req.URL)
	}
	if string(req.Body) != "c=&d=4" {
		t.Errorf("body = %q, want %q", req.Body, "c=&d=4")
	}
	wantHeader := []delivery.Field{{Name: "X-B", Value: ""}, {Name: "Content-Type", Value: "application/x-www-form-urlencoded"}}
	if !reflect.DeepEqual(req.Header, wantHeader) {
		t.Errorf("header = %q, want %q", req.Header, wantHeader)
	}
}

func TestRenderKeepsHeaderOrder(t *testing.T) {
	tmpl := newTestTemplate(t, &conf.App{
		RequestType: "POST RAW",
		URL:         "https://crm.example.com/x",
		Headers: []conf.Header{
			{Name: "X-Tag", Value: "one"},
			{Name: "Content-Type", Value: "application/xml"},
			{Name: "X-Tag", Value: "two"},
		},
		Body: "<a>{{v}}</a>",
	})
	req, _ := tmpl.Render(render.Vars{"v": "<&>"})
	want := []delivery.Field{{Name: "X-Tag", Value: "one"}, {Name: "Content-Type", Value: "application/xml"}, {Name: "X-Tag", Value: "two"}}
	if !reflect.DeepEqual(req.Header, want) {
		t.Errorf("header = %q, want %q", req.Header, want)
	}
	if string(req.Body) != "<a>&lt;&amp;&gt;</a>" {
		t.Errorf("body = %q", req.Body)
	}
}

func TestCheckBody(t *testing.T) {
	sample := render.Vars{"caller": "Test \"TC\" Caller", "score": "42"}
	tests := []struct {
		name        string
		requestType string
		contentType string
		body        string
		errText     string
	}{
		{"valid JSON", "POST RAW", "application/json", `{"caller":"{{caller}}","score":{{score}}}`, ""},
		{"placeholder outside quotes", "PUT", "application/json", `{"caller":{{caller}}}`, "is not valid JSON"},
		{"broken JSON template", "PUT", "application/json; charset=utf-8", `{"caller":"{{caller}}"`, "is not valid JSON"},
		{"valid XML", "POST RAW", "application/xml", `<call caller="{{caller}}">{{score}}</call>`, ""},
		{"broken XML", "POST RAW", "text/xml", `<call>{{caller}}</cal>`, "is not well-formed XML"},
		{"empty XML", "POST RAW", "text/xml", ``, "has no root element"},
		{"text is not checked", "PUT", "", `{"caller":{{caller}}`, ""},
		{"form POST has no raw body", "POST", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := &conf.App{
				File:        "/etc/postcall/apps.d/survey.toml",
				RequestType: tc.requestType,
				URL:         "https://crm.example.com/x",
				Body:        tc.body,
			}
			if tc.contentType != "" {
				app.Headers = []conf.Header{{Name: "Content-Type", Value: tc.contentType}}
			}
			err := newTestTemplate(t, app).CheckBody(sample)
			if tc.errText == "" {
				if err != nil {
					t.Errorf("CheckBody: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckBody succeeded, want an error containing %q", tc.errText)
			}
			if !strings.HasPrefix(err.Error(), app.File+": key body: ") {
				t.Errorf("error %q does not name the file and the key body", err)
			}
			if !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("error %q does not contain %q", err, tc.errText)
			}
		})
	}
}

func TestSecretHeaders(t *testing.T) {
	app := &conf.App{Headers: []conf.Header{
		{Name: "Authorization", Value: "Bearer x", ValueEnv: "CRM_TOKEN"},
		{Name: "X-Caller", Value: "{{caller}}"},
		{Name: "X-Api-Key", Value: "k", ValueFile: "/etc/postcall/key"},
	}}
	if got, want := SecretHeaders(app), []string{"Authorization", "X-Api-Key"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SecretHeaders = %q, want %q", got, want)
	}
}

func TestParamLiteralTextEscaped(t *testing.T) {
	for _, requestType := range []string{"GET", "POST"} {
		tmpl := newTestTemplate(t, &conf.App{
			RequestType: requestType,
			URL:         "https://crm.example.com/calls",
			Params:      []conf.Param{{Name: "note", Value: "a b&c=d%e+f {{q}}"}},
		})
		req, _ := tmpl.Render(render.Vars{"q": "yes"})
		const want = "note=a+b%26c%3Dd%25e%2Bf+yes"
		got := string(req.Body)
		if requestType == "GET" {
			got = strings.TrimPrefix(req.URL, "https://crm.example.com/calls?")
		}
		if got != want {
			t.Errorf("%s: parameters = %q, want %q", requestType, got, want)
		}
	}
}
