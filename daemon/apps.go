package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/hooks"
	"github.com/postcall/postcall/render"
	"github.com/postcall/postcall/rest"
	"github.com/postcall/postcall/signing"
	"github.com/postcall/postcall/soap"
	"github.com/postcall/postcall/spool"
	"github.com/postcall/postcall/tlsconf"
)

// Apps is the runtime form of every configured application: what the
// call model needs to render a job and what the queue needs to deliver it.
// It is built in full before it replaces the running set, so a reload that
// fails anywhere changes nothing.
type Apps struct {
	Hooks    map[string]*hooks.App
	Policies map[string]*spool.AppPolicy
	// SOAP holds the SOAP clients by application name, for the SOAP sender
	// and for checks.
	SOAP map[string]*soap.Client
	// REST holds the compiled REST templates by application name.
	REST map[string]*rest.Template
}

// BuildOptions are the process-wide settings BuildApps needs besides the
// configuration.
type BuildOptions struct {
	Logger    logrus.FieldLogger
	UserAgent string
	// SOAPSender delivers the jobs of every SOAP application; it finds the
	// application's client through the Clients function it was built with.
	SOAPSender delivery.Sender

	cfg *conf.Config
}

// BuildApps compiles every application of cfg. It reads no WSDL: a SOAP
// application's WSDL is read on first use and again after a failure.
func BuildApps(cfg *conf.Config, opts BuildOptions) (*Apps, error) {
	opts.cfg = cfg
	apps := &Apps{
		Hooks:    make(map[string]*hooks.App),
		Policies: make(map[string]*spool.AppPolicy),
		SOAP:     make(map[string]*soap.Client),
		REST:     make(map[string]*rest.Template),
	}
	for _, app := range cfg.Apps {
		var err error
		switch app.Type {
		case "rest":
			err = apps.addREST(app, &cfg.Main, opts)
		case "soap":
			err = apps.addSOAP(app, &cfg.Main, opts)
		default:
			err = fmt.Errorf("type %q is not valid: use rest or soap", app.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: application %q: %w", app.File, app.Name, err)
		}
	}
	return apps, nil
}

func concurrency(app *conf.App, main *conf.Main) int {
	if app.Concurrency > 0 {
		return app.Concurrency
	}
	return main.Delivery.PerApp
}

func appTLS(app *conf.App) (*tls.Config, error) {
	if app.TLS == (conf.TLS{}) {
		return nil, nil
	}
	return tlsconf.Client(app.TLS)
}

func (a *Apps) addREST(app *conf.App, main *conf.Main, opts BuildOptions) error {
	tmpl, err := rest.NewTemplate(app)
	if err != nil {
		return err
	}
	// A raw body that does not parse with sample values would make every
	// call a dead letter, so it stops the start or the reload.
	sample := hooks.Sample(HooksConfig(opts.cfg), &hooks.App{Name: app.Name, Variables: app.Variables})
	if err := tmpl.CheckBody(sample); err != nil {
		return err
	}
	tlsConfig, err := appTLS(app)
	if err != nil {
		return err
	}
	var signer rest.Signer
	if app.Signing != nil {
		s, err := signing.New(app.Signing.Secret)
		if err != nil {
			return fmt.Errorf("[signing]: %w", err)
		}
		signer = s
	}
	sender, err := rest.NewSender(rest.Options{
		Timeout:           app.TimeoutDuration(),
		MaxResponseBytes:  int64(main.Delivery.MaxResponseBytes),
		FollowRedirects:   app.FollowRedirects,
		IdempotencyHeader: main.Delivery.IdempotencyHeader,
		UserAgent:         opts.UserAgent,
		MaxRetryAfter:     app.Retry.MaxRetryAfter.D(),
		Logger:            opts.Logger.WithField("app", app.Name),
		Private:           app.Private,
		SecretHeaders:     rest.SecretHeaders(app),
		TLSConfig:         tlsConfig,
		Signer:            signer,
	})
	if err != nil {
		return err
	}

	private := app.Private
	a.REST[app.Name] = tmpl
	a.Hooks[app.Name] = &hooks.App{
		Name:      app.Name,
		Variables: app.Variables,
		Private:   private,
		Needs:     append([]string{}, tmpl.Names()...),
		Build: func(vars render.Vars) (*delivery.Job, error) {
			req, missing := tmpl.Render(vars)
			return &delivery.Job{Kind: delivery.KindREST, Private: private, Request: req, Missing: missing}, nil
		},
	}
	a.Policies[app.Name] = &spool.AppPolicy{
		Sender:      sender,
		Retry:       app.Retry,
		Concurrency: concurrency(app, main),
		Private:     private,
	}
	return nil
}

// soapParam is one compiled SOAP parameter.
type soapParam struct {
	name  string
	value *render.Template
}

func (a *Apps) addSOAP(app *conf.App, main *conf.Main, opts BuildOptions) error {
	params := make([]soapParam, 0, len(app.Params))
	needs := []string{}
	for i, p := range app.Params {
		t, err := render.Parse(p.Value)
		if err != nil {
			return fmt.Errorf("params[%d] %q: %w", i, p.Name, err)
		}
		params = append(params, soapParam{name: p.Name, value: t})
		needs = append(needs, t.Names()...)
	}
	tlsConfig, err := appTLS(app)
	if err != nil {
		return err
	}
	var httpClient *http.Client
	if tlsConfig != nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = tlsConfig
		httpClient = &http.Client{
			Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	// TODO: Standard Webhooks signing is applied to REST applications only;
	// a SOAP application with [signing] is sent unsigned.
	client := soap.NewClient(soap.ClientOptions{
		App:        app.Name,
		Private:    app.Private,
		WSDL:       app.WSDL,
		Method:     app.Method,
		Version:    app.SOAPVersion,
		Timeout:    app.TimeoutDuration(),
		HTTPClient: httpClient,
		Logger:     opts.Logger.WithField("app", app.Name),
	})

	private := app.Private
	a.SOAP[app.Name] = client
	a.Hooks[app.Name] = &hooks.App{
		Name:      app.Name,
		Variables: app.Variables,
		Private:   private,
		Needs:     needs,
		Build: func(vars render.Vars) (*delivery.Job, error) {
			call := &delivery.SOAPCall{Params: make([]delivery.Field, 0, len(params))}
			var missing []string
			for _, p := range params {
				var v string
				// The envelope builder escapes values as XML text, so the
				// template renders them raw.
				v, missing = renderPlain(p.value, vars, missing)
				call.Params = append(call.Params, delivery.Field{Name: p.name, Value: v})
			}
			return &delivery.Job{Kind: delivery.KindSOAP, Private: private, SOAP: call, Missing: missing}, nil
		},
	}
	a.Policies[app.Name] = &spool.AppPolicy{
		Sender:      opts.SOAPSender,
		Retry:       app.Retry,
		Concurrency: concurrency(app, main),
		Private:     private,
	}
	return nil
}

func renderPlain(t *render.Template, vars render.Vars, missing []string) (string, []string) {
	out, missing := t.Append(nil, vars, render.EscapePlain, missing)
	return string(out), missing
}

// SOAPParamNames returns the parameter names of a SOAP application, in
// file order, for soap.Client.Check.
func SOAPParamNames(app *conf.App) []string {
	names := make([]string, 0, len(app.Params))
	for _, p := range app.Params {
		names = append(names, p.Name)
	}
	return names
}

// waitForWSDLs reads the WSDL of every SOAP application once, with a
// bound, so the first calls do not wait for it. A WSDL that cannot be read
// is logged and read again later by its client; it never stops the daemon.
func waitForWSDLs(ctx context.Context, apps *Apps, log logrus.FieldLogger, limit time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for name, c := range apps.SOAP {
		if _, err := c.Service(ctx); err != nil {
			log.WithFields(logrus.Fields{"app": name, "error": err}).
				Warn("WSDL not readable yet; this application's jobs wait and the WSDL is read again with backoff")
		}
	}
}
