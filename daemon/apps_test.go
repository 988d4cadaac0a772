package daemon_test

import (
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/daemon"
)

func TestBuildAppsRejectsInvalidJSONBody(t *testing.T) {
	cfg := &conf.Config{File: "postcall.toml", Main: conf.Defaults(), Apps: []*conf.App{{
		File: "apps.d/survey.toml", Name: "survey", Type: "rest", RequestType: conf.RequestPOSTRaw,
		URL: "http://127.0.0.1:9/calls", Timeout: 5,
		Headers: []conf.Header{{Name: "Content-Type", Value: "application/json"}},
		Body:    `{"q1": {{q1}}}`,
	}}}
	_, err := daemon.BuildApps(cfg, daemon.BuildOptions{Logger: logrus.New()})
	if err == nil || !strings.Contains(err.Error(), "not valid JSON") || !strings.Contains(err.Error(), "survey") {
		t.Fatalf("BuildApps with a body that is not JSON: err = %v, want an error naming the application and JSON", err)
	}

	cfg.Apps[0].Body = `{"q1": "{{q1}}"}`
	if _, err := daemon.BuildApps(cfg, daemon.BuildOptions{Logger: logrus.New()}); err != nil {
		t.Fatalf("BuildApps with a valid body: %v", err)
	}
}
