package rest

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/render"
)

// redirectRoute is one route of the redirect scenario.
type redirectRoute struct {
	status   int
	location string
}

// routeLine matches a route of the scenario file, for example
// `/hook-301: {status: 301, headers: {Location: /final}}`.
var routeLine = regexp.MustCompile(`^\s+(/[\w-]+): \{status: (\d+)(?:, headers: \{Location: "?([^"}]+)"?\})?`)

// loadRedirectRoutes reads the routes of the redirect scenario file.
func loadRedirectRoutes(t *testing.T) map[string]redirectRoute {
	t.Helper()
	data, err := os.ReadFile("testdata/18-redirects.scenario.yaml")
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]redirectRoute{}
	for _, line := range strings.Split(string(data), "\n") {
		m := routeLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		status, _ := strconv.Atoi(m[2])
		routes[m[1]] = redirectRoute{status: status, location: m[3]}
	}
	if len(routes) != 8 {
		t.Fatalf("scenario file gave %d routes, want 8", len(routes))
	}
	return routes
}

// redirectServers starts the server of the scenario and a second one on
// another loopback port that stands for the other host. Extra routes test
// a 307 loop and a chain longer than the redirect limit.
func redirectServers(t *testing.T) (mainURL string, mainRec, otherRec *recorder) {
	t.Helper()
	routes := loadRedirectRoutes(t)
	otherSrv, otherRec := newServer(t, nil)

	routes["/hook-loop-307"] = redirectRoute{status: 307, location: "/hook-loop-307"}
	for i := range 7 {
		routes[fmt.Sprintf("/chain-%d", i)] = redirectRoute{status: 308, location: fmt.Sprintf("/chain-%d", i+1)}
	}
	mainSrv, mainRec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		route, ok := routes[r.URL.Path]
		if !ok || route.location == "" {
			w.WriteHeader(route.status)
			_, _ = w.Write([]byte("ok"))
			return
		}
		location := strings.Replace(route.location, "http://other.example.com:8081", otherSrv.URL, 1)
		w.Header().Set("Location", location)
		w.WriteHeader(route.status)
	})
	if routes["/final"].status != http.StatusOK {
		t.Fatalf("route /final responds %d, want 200", routes["/final"].status)
	}
	return mainSrv.URL, mainRec, otherRec
}

// TestCase18Redirects runs every redirect route with POST, PUT, DELETE and
// GET, with following of 307 and 308 enabled and disabled.
func TestCase18Redirects(t *testing.T) {
	type expect struct {
		class delivery.Class
		// finalOn is "main" or "other" when the final request must reach
		// /final on that server, "" when nothing may reach /final.
		finalOn string
		errText string
	}
	notFollowed := expect{delivery.Permanent, "", "redirected to "}
	wouldBecomeGET := expect{delivery.Permanent, "", "would turn the request into a GET"}
	followed := expect{delivery.Delivered, "main", ""}
	loop := expect{delivery.Permanent, "", "redirect loop"}

	tests := []struct {
		route  string
		status int
		// get, follow and noFollow are the expectations for GET, for other
		// methods with following enabled, and with it disabled.
		get, follow, noFollow expect
	}{
		{"/hook-301", 301, followed, wouldBecomeGET, wouldBecomeGET},
		{"/hook-302", 302, followed, wouldBecomeGET, wouldBecomeGET},
		{"/hook-303", 303, followed, wouldBecomeGET, wouldBecomeGET},
		{"/hook-307", 307, followed, followed, notFollowed},
		{"/hook-308", 308, followed, followed, notFollowed},
		{"/hook-cross-host-307", 307, expect{delivery.Delivered, "other", ""}, expect{delivery.Delivered, "other", ""}, notFollowed},
		{"/hook-loop", 302, loop, wouldBecomeGET, wouldBecomeGET},
		{"/hook-loop-307", 307, loop, loop, notFollowed},
		{"/chain-0", 308, expect{delivery.Permanent, "", "stopped after 5 redirects"}, expect{delivery.Permanent, "", "stopped after 5 redirects"}, notFollowed},
	}
	methods := []struct {
		requestType string
		method      string
		body        string
	}{
		{"POST", "POST", "name=Test+Caller"},
		{"PUT", "PUT", `{"caller":"Test Caller"}`},
		{"DELETE", "DELETE", ""},
		{"GET", "GET", ""},
	}

	for _, tc := range tests {
		for _, m := range methods {
			for _, following := range []bool{true, false} {
				name := fmt.Sprintf("%s/%s/follow=%v", strings.TrimPrefix(tc.route, "/"), m.requestType, following)
				t.Run(name, func(t *testing.T) {
					want := tc.noFollow
					switch {
					case m.method == "GET":
						want = tc.get
					case following:
						want = tc.follow
					}
					runRedirectCase(t, tc.route, tc.status, m.requestType, m.method, m.body, following, want.class, want.finalOn, want.errText)
				})
			}
		}
	}
}

func runRedirectCase(t *testing.T, route string, status int, requestType, method, body string, following bool, class delivery.Class, finalOn, errText string) {
	mainURL, mainRec, otherRec := redirectServers(t)
	app := &conf.App{
		RequestType: requestType,
		URL:         mainURL + route,
		Headers: []conf.Header{
			{Name: "Authorization", Value: "Bearer test-token"},
			{Name: "X-Caller-Name", Value: "{{caller_name}}"},
			{Name: "X-Api-Key", Value: "key-from-file", ValueFile: "/etc/postcall/api.key"},
		},
		FollowRedirects: following,
	}
	switch requestType {
	case "POST":
		app.Params = []conf.Param{{Name: "name", Value: "{{caller_name}}"}}
	case "PUT":
		app.Headers = append(app.Headers, conf.Header{Name: "Content-Type", Value: "application/json"})
		app.Body = `{"caller":"{{caller_name}}"}`
	}
	tmpl := newTestTemplate(t, app)
	job := newJob(t, tmpl, render.Vars{"caller_name": "Test Caller"})
	if string(job.Request.Body) != body {
		t.Fatalf("rendered body %q, want %q", job.Request.Body, body)
	}
	sender := newTestSender(t, Options{FollowRedirects: app.FollowRedirects, SecretHeaders: SecretHeaders(app)})

	out := send(sender, job)
	if out.Class != class {
		t.Fatalf("class = %v, want %v (status %d, error %v)", out.Class, class, out.Status, out.Err)
	}
	if class == delivery.Delivered {
		if out.Status != http.StatusOK {
			t.Errorf("status = %d, want 200 from /final", out.Status)
		}
	} else {
		if out.Status != status {
			t.Errorf("status = %d, want %d", out.Status, status)
		}
		if out.Err == nil || !strings.Contains(out.Err.Error(), errText) {
			t.Errorf("error = %v, want it to contain %q", out.Err, errText)
		}
		if errText == "redirected to " && !strings.Contains(out.Err.Error(), "update the URL") {
			t.Errorf("error %q does not say to update the URL", out.Err)
		}
	}

	first := mainRec.all()[0]
	if first.Method != method || first.Path != route {
		t.Errorf("first request was %s %s, want %s %s", first.Method, first.Path, method, route)
	}
	finals := append(finalRequests(mainRec, "main"), finalRequests(otherRec, "other")...)
	if finalOn == "" {
		if len(finals) != 0 {
			t.Errorf("/final received %d requests, want none", len(finals))
		}
		return
	}
	if len(finals) != 1 || finals[0].server != finalOn {
		t.Fatalf("/final requests: %+v, want one on the %s server", finals, finalOn)
	}
	final := finals[0].req
	if final.Method != method {
		t.Errorf("/final got method %s, want %s", final.Method, method)
	}
	if !bytes.Equal(final.Body, []byte(body)) {
		t.Errorf("/final got body %q, want the identical %q", final.Body, body)
	}
	if got := final.Header.Get("Idempotency-Key"); got != testKey {
		t.Errorf("/final got Idempotency-Key %q, want %q", got, testKey)
	}
	if got := final.Header.Get("X-Caller-Name"); got != "Test Caller" {
		t.Errorf("/final got X-Caller-Name %q, want it kept", got)
	}
	wantAuth := "Bearer test-token"
	wantKey := "key-from-file"
	if finalOn == "other" {
		wantAuth, wantKey = "", ""
	}
	if got := final.Header.Get("Authorization"); got != wantAuth {
		t.Errorf("/final on the %s server got Authorization %q, want %q", finalOn, got, wantAuth)
	}
	if got := final.Header.Get("X-Api-Key"); got != wantKey {
		t.Errorf("/final on the %s server got X-Api-Key %q, want %q", finalOn, got, wantKey)
	}
}

type finalRequest struct {
	server string
	req    seenRequest
}

func finalRequests(rec *recorder, server string) []finalRequest {
	var finals []finalRequest
	for _, r := range rec.all() {
		if r.Path == "/final" {
			finals = append(finals, finalRequest{server: server, req: r})
		}
	}
	return finals
}
