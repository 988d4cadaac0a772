package render

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseURLRejects(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		message string
	}{
		{"placeholder in scheme", "{{scheme}}://crm.example.com/x", "placeholder {{scheme}} is in the scheme"},
		{"placeholder in host", "https://{{host}}/x", "placeholder {{host}} is in the host"},
		{"placeholder in host suffix", "https://crm.{{domain}}/x", "is in the host"},
		{"placeholder after host", "https://crm.example.com{{path}}", "is in the host"},
		{"placeholder in port", "https://crm.example.com:{{port}}/x", "is in the port"},
		{"placeholder in ipv6 port", "https://[::1]:80{{port}}/x", "is in the port"},
		{"placeholder in userinfo", "https://{{user}}:pw@crm.example.com/x", "is in the userinfo"},
		{"placeholder in password", "https://user:{{pw}}@crm.example.com/x", "is in the userinfo"},
		{"name with colon in host", "https://{{a:b}}/x", "is in the host"},
		{"placeholder in fragment", "https://crm.example.com/x#{{frag}}", "is in the fragment"},
		{"relative", "/api/calls", "write an absolute URL"},
		{"no slashes", "mailto:ops@example.com", "write an absolute URL"},
		{"missing host", "https:///api", "the host is missing"},
		{"port only", "https://:8080/api", "the host is missing"},
		{"invalid port", "https://crm.example.com:http/api", "invalid URL"},
		{"percent before placeholder", "https://crm.example.com/a%{{x}}", "invalid URL"},
		{"unclosed placeholder", "https://crm.example.com/{{x", "unclosed placeholder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseURL(tc.raw)
			if err == nil {
				t.Fatalf("ParseURL(%q) succeeded, want an error containing %q", tc.raw, tc.message)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not contain %q", err, tc.message)
			}
		})
	}
}

func TestParseURLParts(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		scheme string
		host   string
		names  []string
		query  bool
	}{
		{"path and query", "https://crm.example.com/api/{{account}}/calls?src={{ani}}", "https", "crm.example.com", []string{"account", "ani"}, true},
		{"port and upper-case scheme", "HTTP://127.0.0.1:8080/hook", "http", "127.0.0.1:8080", nil, false},
		{"ipv6 host", "http://[::1]:9000/{{x}}", "http", "[::1]:9000", []string{"x"}, false},
		{"userinfo literal", "https://user:pw@crm.example.com/{{x}}", "https", "crm.example.com", []string{"x"}, false},
		{"placeholder in query name", "https://crm.example.com/?{{k}}=1", "https", "crm.example.com", []string{"k"}, true},
		{"empty path", "https://crm.example.com", "https", "crm.example.com", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := ParseURL(tc.raw)
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tc.raw, err)
			}
			if u.Scheme() != tc.scheme {
				t.Errorf("Scheme() = %q, want %q", u.Scheme(), tc.scheme)
			}
			if u.Host() != tc.host {
				t.Errorf("Host() = %q, want %q", u.Host(), tc.host)
			}
			if !reflect.DeepEqual(u.Names(), tc.names) {
				t.Errorf("Names() = %q, want %q", u.Names(), tc.names)
			}
			if u.HasQuery() != tc.query {
				t.Errorf("HasQuery() = %v, want %v", u.HasQuery(), tc.query)
			}
			if u.Source() != tc.raw {
				t.Errorf("Source() = %q, want %q", u.Source(), tc.raw)
			}
		})
	}
}

func TestURLRender(t *testing.T) {
	vars := Vars{
		"account": "AB/12?x=1#frag",
		"caller":  "+1555010017",
		"name":    "Test Caller & Sons 100% Größe",
		"dots":    "..",
	}
	tests := []struct {
		name    string
		raw     string
		extra   string
		want    string
		missing []string
	}{
		{"path segment", "https://crm.example.com/api/accounts/{{account}}/calls", "",
			"https://crm.example.com/api/accounts/AB%2F12%3Fx=1%23frag/calls", nil},
		{"query value", "https://crm.example.com/calls?caller={{caller}}&name={{name}}", "",
			"https://crm.example.com/calls?caller=%2B1555010017&name=Test+Caller+%26+Sons+100%25+Gr%C3%B6%C3%9Fe", nil},
		{"extra query without template query", "https://crm.example.com/calls", "a=1&b=2",
			"https://crm.example.com/calls?a=1&b=2", nil},
		{"extra query after template query", "https://crm.example.com/calls?v=2", "a=1",
			"https://crm.example.com/calls?v=2&a=1", nil},
		{"extra query after bare question mark", "https://crm.example.com/calls?", "a=1",
			"https://crm.example.com/calls?a=1", nil},
		{"extra query after ampersand", "https://crm.example.com/calls?v=2&", "a=1",
			"https://crm.example.com/calls?v=2&a=1", nil},
		{"fragment kept last", "https://crm.example.com/calls?v=1#top", "a=1",
			"https://crm.example.com/calls?v=1&a=1#top", nil},
		{"dot segment", "https://crm.example.com/files/{{dots}}/x", "",
			"https://crm.example.com/files/%2E%2E/x", nil},
		{"missing values", "https://crm.example.com/{{nope}}/x?q={{gone}}", "",
			"https://crm.example.com//x?q=", []string{"nope", "gone"}},
		{"literal escapes kept", "https://crm.example.com/a%20b/{{caller}}?x=%2B", "",
			"https://crm.example.com/a%20b/+1555010017?x=%2B", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := ParseURL(tc.raw)
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tc.raw, err)
			}
			got, missing := u.Render(vars, tc.extra, nil)
			if got != tc.want {
				t.Errorf("Render = %q, want %q", got, tc.want)
			}
			if !reflect.DeepEqual(missing, tc.missing) {
				t.Errorf("missing = %q, want %q", missing, tc.missing)
			}
		})
	}
}

// TestURLRenderDecodes checks what a server reads back from a rendered URL.
func TestURLRenderDecodes(t *testing.T) {
	u, err := ParseURL("https://crm.example.com/api/accounts/{{account}}/calls?caller={{caller}}&name={{name}}")
	if err != nil {
		t.Fatal(err)
	}
	vars := Vars{"account": "AB/12?x=1#frag", "caller": "+1555010017", "name": "Test Caller & Sons 100% Größe"}
	rendered, _ := u.Render(vars, "", nil)

	parsed, err := url.Parse(rendered)
	if err != nil {
		t.Fatalf("rendered URL %q does not parse: %v", rendered, err)
	}
	segments := strings.Split(parsed.EscapedPath(), "/")
	if len(segments) != 5 {
		t.Fatalf("path %q has %d segments, want 5", parsed.EscapedPath(), len(segments))
	}
	account, err := url.PathUnescape(segments[3])
	if err != nil || account != vars["account"] {
		t.Errorf("account segment = %q (%v), want %q", account, err, vars["account"])
	}
	query := parsed.Query()
	if len(query) != 2 {
		t.Errorf("query has %d parameters, want 2: %v", len(query), query)
	}
	if got := query.Get("caller"); got != vars["caller"] {
		t.Errorf("caller = %q, want %q", got, vars["caller"])
	}
	if got := query.Get("name"); got != vars["name"] {
		t.Errorf("name = %q, want %q", got, vars["name"])
	}
}
