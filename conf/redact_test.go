package conf

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestSecretsNeverPrinted(t *testing.T) {
	const (
		eslPassword   = "esl-pw-from-file-7Q2"
		signingSecret = "whsec_c2lnbmluZy1zZWNyZXQtZnJvbS1lbnY="
		headerToken   = "Bearer header-token-from-env-9K4"
		fileToken     = "header-token-from-file-3M8"
		inlineSecret  = "inline-signing-secret-5W1"
		urlPassword   = "url-password-8T6"
	)
	t.Setenv("POSTCALL_TEST_SIGNING", signingSecret)
	t.Setenv("POSTCALL_TEST_TOKEN", headerToken)

	c, err, _ := loadDir(t, map[string]string{
		"postcall.toml": mainFile + "[freeswitch]\npassword_file = \"esl-password\"\n",
		"esl-password":  eslPassword + "\n",
		"apps.d/a.toml": restApp +
			"[[headers]]\nname = \"X-Survey-Auth\"\nvalue_env = \"POSTCALL_TEST_TOKEN\"\n" +
			"[[headers]]\nname = \"X-Plain\"\nvalue_file = \"token\"\n" +
			"[signing]\nsecret_env = \"POSTCALL_TEST_SIGNING\"\n",
		"apps.d/token": fileToken + "\n",
		"apps.d/b.toml": strings.Replace(strings.Replace(restApp, `"survey"`, `"b"`, 1),
			"https://", "https://user:"+urlPassword+"@", 1) + "[signing]\nsecret = \"" + inlineSecret + "\"\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Main.FreeSWITCH.Password != eslPassword || c.App("survey").Signing.Secret != signingSecret {
		t.Fatal("the secrets were not resolved, so this test would prove nothing")
	}

	secrets := []string{eslPassword, signingSecret, headerToken, fileToken, inlineSecret, urlPassword}
	app := c.App("survey")
	outputs := map[string]string{
		"%v Config":      fmt.Sprintf("%v", c),
		"%+v Config":     fmt.Sprintf("%+v", c),
		"%#v Config":     fmt.Sprintf("%#v", c),
		"%v *Config":     fmt.Sprintf("%v", *c),
		"%+v Main":       fmt.Sprintf("%+v", c.Main),
		"%#v Main":       fmt.Sprintf("%#v", c.Main),
		"%v App":         fmt.Sprintf("%v", app),
		"%+v App":        fmt.Sprintf("%+v", app),
		"%#v App":        fmt.Sprintf("%#v", app),
		"%+v App b":      fmt.Sprintf("%+v", *c.App("b")),
		"%s Signing":     fmt.Sprintf("%s", app.Signing),
		"%v Headers":     fmt.Sprintf("%v", app.Headers),
		"%#v Headers":    fmt.Sprintf("%#v", app.Headers),
		"%+v FreeSWITCH": fmt.Sprintf("%+v", c.Main.FreeSWITCH),
		"Redacted":       Redacted(c),
	}
	for name, out := range outputs {
		for _, secret := range secrets {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows the secret %q:\n%s", name, secret, out)
			}
		}
	}
	for _, name := range []string{"%+v Main", "%+v App", "Redacted"} {
		assertContains(t, name, outputs[name], redactedText)
	}
	// The URL of b keeps its user name and host; only the password goes.
	assertContains(t, "Redacted", outputs["Redacted"], "https://user:(redacted)@crm.example.com/api/calls")
}

func TestRedactedMainLoadsBack(t *testing.T) {
	c, err := Load(filepath.Join("..", "examples", "postcall.toml"))
	if err != nil {
		t.Fatal(err)
	}
	out := Redacted(c)
	mainPart, _, _ := strings.Cut(out, "# Application file:")

	got := Defaults()
	st := newFileState("redacted", reflect.TypeOf(Main{}))
	if !st.parse(mainPart, &got) || len(st.errs) > 0 {
		t.Fatalf("the main part of Redacted does not load:\n%v\n%s", st.errs, mainPart)
	}
	want := c.Main
	want.FreeSWITCH.Password = redactedText
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reloaded main part differs:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestRedactedApplications(t *testing.T) {
	c, err := Load(filepath.Join("..", "examples", "postcall.toml"))
	if err != nil {
		t.Fatal(err)
	}
	out := Redacted(c)
	parts := strings.Split(out, "# Application file: ")
	if len(parts) != 4 {
		t.Fatalf("Redacted has %d application parts, want 3:\n%s", len(parts)-1, out)
	}
	for _, part := range parts[1:] {
		file, text, _ := strings.Cut(part, "\n")
		var raw map[string]any
		if _, err := toml.Decode(text, &raw); err != nil {
			t.Errorf("the part of %s is not valid TOML: %v", file, err)
		}
	}

	crm := parts[2]
	assertContains(t, "private application", crm, `url = "https://crm.example.com/(private)"`)
	for _, hidden := range []string{"{{session.connection.ani}}", "/api/accounts", "application/json"} {
		if strings.Contains(crm, hidden) {
			t.Errorf("the private application shows %q:\n%s", hidden, crm)
		}
	}
	survey := parts[3]
	assertContains(t, "public application", survey, `value = "{{session.name}}"`)
	assertContains(t, "public application", survey, `max_attempts = 20`)
}

func TestRedactUserinfo(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{name: "password", url: "https://u:p@h.example.com/x", want: "https://u:(redacted)@h.example.com/x"},
		{name: "user only", url: "https://u@h.example.com/x", want: "https://u@h.example.com/x"},
		{name: "no userinfo", url: "https://h.example.com/a@b", want: "https://h.example.com/a@b"},
		{name: "no scheme", url: "h.example.com", want: "h.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactUserinfo(tt.url); got != tt.want {
				t.Errorf("redactUserinfo(%q) = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}

func TestTOMLStringRoundTrip(t *testing.T) {
	for _, s := range []string{"plain", `quote " and \ backslash`, "tab\tnew\nline\r", "bell\x07 del\x7f", "ünïcödé ✓"} {
		var got struct{ V string }
		if _, err := toml.Decode("V = "+tomlString(s), &got); err != nil {
			t.Errorf("tomlString(%q) is not valid TOML: %v", s, err)
			continue
		}
		if got.V != s {
			t.Errorf("tomlString(%q) reads back as %q", s, got.V)
		}
	}
}
