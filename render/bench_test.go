package render

import "testing"

var benchVars = Vars{
	"caller_name":            `Test "TC" Caller\`,
	"session.connection.ani": "+1555010017",
	"ivr_note":               "line1\nline2\ttab \u2028 end </script>",
	"account":                "AB/12?x=1#frag",
	"exit.fuse_score":        "42",
}

func BenchmarkTemplateRender(b *testing.B) {
	benchmarks := []struct {
		name string
		src  string
		esc  Escaper
	}{
		{"json", `{"caller":"{{caller_name}}","number":"{{session.connection.ani}}","note":"{{ivr_note}}","score":"{{exit.fuse_score}}"}`, EscapeJSON},
		{"xml", `<call><caller>{{caller_name}}</caller><number>{{session.connection.ani}}</number><note>{{ivr_note}}</note></call>`, EscapeXML},
		{"text", "caller {{caller_name}} from {{session.connection.ani}}: {{ivr_note}}", EscapePlain},
		{"header", "Caller {{caller_name}} {{ivr_note}}", EscapeHeader},
	}
	for _, bm := range benchmarks {
		tmpl := MustParse(bm.src)
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 512)
			for b.Loop() {
				buf, _ = tmpl.Append(buf[:0], benchVars, bm.esc, nil)
			}
		})
	}
}

func BenchmarkURLRender(b *testing.B) {
	tmpl, err := ParseURL("https://crm.example.com/api/accounts/{{account}}/calls?caller={{session.connection.ani}}&name={{caller_name}}")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		tmpl.Render(benchVars, "score=42", nil)
	}
}

func BenchmarkParse(b *testing.B) {
	src := `{"caller":"{{caller_name}}","number":"{{session.connection.ani}}","note":"{{ivr_note}}","score":"{{exit.fuse_score}}"}`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}
