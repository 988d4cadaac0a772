package rest

import (
	"context"
	"testing"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/render"
)

var benchVars = render.Vars{
	"session.id":             "a1a1a1a1-0000-4000-8000-000000000015",
	"session.connection.ani": "+1555010017",
	"call.caller_name":       "Test Caller & Sons 100% Größe",
	"account":                "AB/12?x=1#frag",
	"ivr_note":               "line1\nline2\ttab \u2028 end </script>",
	"exit.fuse_score":        "42",
}

var benchParams = []conf.Param{
	{Name: "caller", Value: "{{session.connection.ani}}"},
	{Name: "name", Value: "{{call.caller_name}}"},
	{Name: "score", Value: "{{exit.fuse_score}}"},
}

var benchHeaders = []conf.Header{
	{Name: "Authorization", Value: "Bearer test-token"},
	{Name: "X-Call-Id", Value: "{{session.id}}"},
}

func BenchmarkRender(b *testing.B) {
	const url = "https://crm.example.com/api/accounts/{{account}}/calls"
	apps := []struct {
		name string
		app  conf.App
	}{
		{"GET", conf.App{RequestType: "GET", URL: url, Headers: benchHeaders, Params: benchParams}},
		{"DELETE", conf.App{RequestType: "DELETE", URL: url, Headers: benchHeaders, Params: benchParams}},
		{"POST", conf.App{RequestType: "POST", URL: url, Headers: benchHeaders, Params: benchParams}},
		{"POST RAW json", conf.App{
			RequestType: "POST RAW", URL: url, Params: benchParams[:1],
			Headers: append([]conf.Header{{Name: "Content-Type", Value: "application/json"}}, benchHeaders...),
			Body:    `{"caller":"{{call.caller_name}}","number":"{{session.connection.ani}}","note":"{{ivr_note}}"}`,
		}},
		{"POST RAW xml", conf.App{
			RequestType: "POST RAW", URL: url,
			Headers: append([]conf.Header{{Name: "Content-Type", Value: "application/xml"}}, benchHeaders...),
			Body:    `<call><caller>{{call.caller_name}}</caller><note>{{ivr_note}}</note></call>`,
		}},
		{"PUT text", conf.App{RequestType: "PUT", URL: url, Headers: benchHeaders, Body: "{{call.caller_name}}: {{ivr_note}}"}},
	}
	for _, bm := range apps {
		app := bm.app
		app.Name, app.Type = "bench", "rest"
		tmpl, err := NewTemplate(&app)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tmpl.Render(benchVars)
			}
		})
	}
}

// BenchmarkSend measures one delivery over a kept-alive loopback
// connection to an httptest server.
func BenchmarkSend(b *testing.B) {
	srv, _ := newServer(b, nil)
	app := conf.App{Name: "bench", Type: "rest", RequestType: "POST", URL: srv.URL + "/hook", Headers: benchHeaders, Params: benchParams}
	tmpl, err := NewTemplate(&app)
	if err != nil {
		b.Fatal(err)
	}
	req, _ := tmpl.Render(benchVars)
	job := &delivery.Job{Key: testKey, App: "bench", Request: req}
	sender, err := NewSender(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer sender.Close()

	b.ReportAllocs()
	for b.Loop() {
		if out := sender.Send(context.Background(), job); out.Class != delivery.Delivered {
			b.Fatalf("class %v: %v", out.Class, out.Err)
		}
	}
}
