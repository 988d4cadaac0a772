package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/daemon"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/hooks"
	"github.com/postcall/postcall/render"
	"github.com/postcall/postcall/rest"
	"github.com/postcall/postcall/soap"
)

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", "postcall check [-config FILE] [-v] [-wsdl-timeout DURATION]",
		"Validate the main file and every application file, read each SOAP application's WSDL,\n"+
			"render a sample call per application and list placeholders that name no known variable.\n"+
			"Exits non-zero when anything is wrong.", stderr)
	configPath := fs.String("config", defaultConfig, "main configuration `file`")
	verbose := fs.Bool("v", false, "also print the effective configuration (secrets redacted) and each sample request")
	timeout := fs.Duration("wsdl-timeout", 30*time.Second, "how long to wait for each WSDL")
	if code, done := parseFlags(fs, args); done {
		return code
	}

	cfg, err := conf.Load(*configPath)
	if err != nil {
		fmt.Fprintf(stdout, "%v\n", err)
		fmt.Fprintf(stdout, "check failed: %s\n", *configPath)
		return 1
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	if *verbose {
		fmt.Fprintln(stdout, conf.Redacted(cfg))
	}

	silent := logrus.New()
	silent.SetOutput(io.Discard)
	apps, err := daemon.BuildApps(cfg, daemon.BuildOptions{Logger: silent})
	if err != nil {
		fmt.Fprintf(stdout, "%v\ncheck failed: %s\n", err, *configPath)
		return 1
	}

	failed := 0
	hc := daemon.HooksConfig(cfg)
	for _, app := range cfg.Apps {
		problems, warnings, sample := checkApp(cfg, apps, hc, app, *timeout)
		for _, w := range warnings {
			fmt.Fprintf(stdout, "note: %s: %s\n", app.File, w)
		}
		for _, p := range problems {
			if strings.HasPrefix(p, app.File+":") {
				fmt.Fprintln(stdout, p)
				continue
			}
			fmt.Fprintf(stdout, "%s: %s\n", app.File, p)
		}
		if len(problems) > 0 {
			failed++
			continue
		}
		fmt.Fprintf(stdout, "ok: %s (%s %s)\n", app.Name, strings.ToUpper(app.Type), describe(app))
		if *verbose && sample != nil {
			writeRequest(stdout, sample, app.Private, false)
			fmt.Fprintln(stdout)
		}
	}
	if failed > 0 {
		verb := "have"
		if failed == 1 {
			verb = "has"
		}
		fmt.Fprintf(stdout, "check failed: %d of %s %s errors\n", failed, plural(len(cfg.Apps), "application"), verb)
		return 1
	}
	fmt.Fprintf(stdout, "configuration ok: %s\n", plural(len(cfg.Apps), "application"))
	return 0
}

func describe(app *conf.App) string {
	if app.Type == "soap" {
		return fmt.Sprintf("%s over SOAP %s", app.Method, app.SOAPVersion)
	}
	return app.RequestType
}

// checkApp renders a sample call of one application and returns its
// problems, its warnings and the sample request.
func checkApp(cfg *conf.Config, apps *daemon.Apps, hc *hooks.Config, app *conf.App, wsdlTimeout time.Duration) (problems, warnings []string, sample *delivery.Request) {
	ha := apps.Hooks[app.Name]
	vars := hooks.Sample(hc, ha)

	var names []string
	switch app.Type {
	case "rest":
		tmpl := apps.REST[app.Name]
		names = tmpl.Names()
		if err := tmpl.CheckBody(vars); err != nil {
			problems = append(problems, err.Error())
		}
		if w := unescapedBodyWarning(app, tmpl); w != "" {
			warnings = append(warnings, w)
		}
	case "soap":
		for _, p := range app.Params {
			if t, err := render.Parse(p.Value); err == nil {
				names = append(names, t.Names()...)
			}
		}
		// Read the WSDL once, directly: the daemon's client would report a
		// failed read as temporary and wait before reading again.
		ctx, cancel := context.WithTimeout(context.Background(), wsdlTimeout)
		defer cancel()
		svc, err := soap.Load(ctx, app.WSDL, soap.LoadOptions{Timeout: wsdlTimeout, UserAgent: "postcall/" + version})
		if err == nil {
			err = svc.Check(app.Method, app.SOAPVersion, daemon.SOAPParamNames(app))
		}
		if err != nil {
			problems = append(problems, err.Error())
		} else {
			apps.SOAP[app.Name] = apps.SOAP[app.Name].WithService(svc)
		}
	}
	warnings = append(warnings, unknownNames(hc, ha, names)...)
	if len(problems) > 0 {
		return problems, warnings, nil
	}

	job, err := ha.Build(vars)
	if err != nil {
		return append(problems, fmt.Sprintf("rendering a sample call failed: %v", err)), warnings, nil
	}
	job.App, job.Key = app.Name, hooks.Key("sample-core-uuid", "sample-call")
	ctx, cancel := context.WithTimeout(context.Background(), wsdlTimeout)
	defer cancel()
	req, err := daemon.WireRequest(ctx, cfg, apps, job, "postcall/"+version)
	if err != nil {
		return append(problems, fmt.Sprintf("building the sample request failed: %v", err)), warnings, nil
	}
	return nil, warnings, req
}

// unescapedBodyWarning warns about a raw body that looks like JSON or XML
// while no Content-Type header says so: its placeholders are then inserted
// as plain text, without JSON or XML escaping.
func unescapedBodyWarning(app *conf.App, tmpl *rest.Template) string {
	body := strings.TrimSpace(app.Body)
	if body == "" || tmpl.BodyFormat() != render.BodyText {
		return ""
	}
	kind, contentType := "", ""
	switch body[0] {
	case '{', '[':
		kind, contentType = "JSON", "application/json"
	case '<':
		kind, contentType = "XML", "application/xml"
	default:
		return ""
	}
	return fmt.Sprintf("body looks like %s but no Content-Type header names %s, so placeholders are inserted without escaping: "+
		"add [[headers]] name = \"Content-Type\" value = \"%s\"", kind, kind, contentType)
}

// unknownNames lists, once each, the placeholders that no known variable
// matches.
func unknownNames(hc *hooks.Config, app *hooks.App, names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if seen[n] || hooks.KnownName(hc, app, n) {
			continue
		}
		seen[n] = true
		out = append(out, hooks.UnknownNameWarning(hc, n))
	}
	sort.Strings(out)
	return out
}

// plural returns "1 application" or "n applications".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
