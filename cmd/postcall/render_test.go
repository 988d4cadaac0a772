package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const captureFile = "testdata/hangup_complete_ivr_exit.json"

func TestRenderCapturedCall(t *testing.T) {
	path := writeConfig(t, map[string]string{"survey.toml": validREST})
	code, out, errOut := runCommand("render", "-config", path, "-event", captureFile)
	if code != 0 {
		t.Fatalf("render exit code %d: %s", code, errOut)
	}
	for _, want := range []string{
		"termination ivr_exit",
		"POST http://127.0.0.1:9/calls/ac02a81c-4ce0-42ef-a5c5-10fa409f5617",
		"Content-Type: application/json",
		"Idempotency-Key: ",
		`{"caller": "15550100001", "q1": "5"}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("render output lacks %q:\n%s", want, out)
		}
	}
}

func TestRenderPrivateHidesData(t *testing.T) {
	app := strings.Replace(validREST, `name = "survey"`, "name = \"survey\"\nprivate = true", 1)
	path := writeConfig(t, map[string]string{"survey.toml": app})
	_, out, _ := runCommand("render", "-config", path, "-event", captureFile)
	if strings.Contains(out, "15550100001") || strings.Contains(out, "/calls/") {
		t.Errorf("render of a private application shows its data:\n%s", out)
	}
	_, out, _ = runCommand("render", "-config", path, "-event", captureFile, "-show-private")
	if !strings.Contains(out, "15550100001") {
		t.Errorf("render -show-private hides the data:\n%s", out)
	}
}

func TestSendCapturedCall(t *testing.T) {
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		if strings.Contains(r.URL.Path, "reject") {
			http.Error(w, "unknown account 42", http.StatusBadRequest)
		}
	}))
	defer srv.Close()

	app := strings.Replace(validREST, "http://127.0.0.1:9", srv.URL, 1)
	path := writeConfig(t, map[string]string{"survey.toml": app})
	code, out, errOut := runCommand("send", "-config", path, "-event", captureFile)
	if code != 0 || !strings.Contains(out, "outcome: delivered, HTTP 200") {
		t.Fatalf("send: exit %d\n%s%s", code, out, errOut)
	}
	if string(got) != `{"caller": "15550100001", "q1": "5"}` {
		t.Errorf("the webservice got %q", got)
	}

	private := strings.Replace(app, `name = "survey"`, "name = \"survey\"\nprivate = true", 1)
	private = strings.Replace(private, "/calls/", "/reject/", 1)
	path = writeConfig(t, map[string]string{"survey.toml": private})
	code, out, _ = runCommand("send", "-config", path, "-event", captureFile)
	if code == 0 || !strings.Contains(out, "outcome: permanent, HTTP 400") {
		t.Errorf("send to a webservice answering 400: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "unknown account") || strings.Contains(out, "/reject/") {
		t.Errorf("send of a private application shows its response or path:\n%s", out)
	}
	_, out, _ = runCommand("send", "-config", path, "-event", captureFile, "-show-private")
	if !strings.Contains(out, "unknown account 42") {
		t.Errorf("send -show-private hides the response:\n%s", out)
	}
}
