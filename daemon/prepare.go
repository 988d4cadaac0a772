package daemon

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/hooks"
)

// HooksConfig returns the call-model settings of cfg, without applications.
func HooksConfig(cfg *conf.Config) *hooks.Config {
	v := cfg.Main.Variables
	return &hooks.Config{
		AppVar:       v.App,
		Prefix:       v.Prefix,
		ExitVar:      v.Exit,
		ExitSubclass: cfg.Main.FreeSWITCH.ExitSubclass,
		ExitGrace:    v.ExitGrace.D(),
	}
}

// CallEvents picks one call out of a captured event stream: the hangup of
// the channel that would fire and the exit event of the same channel. The
// firing channel carries the application variable and was not originated by
// another channel, so the B leg of a bridge is passed over. With no hangup, the first exit event
// stands for the call. Either result may be nil, not both.
func CallEvents(cfg *conf.Config, events []esl.Event) (hangup, exit *esl.Event, err error) {
	appVar := "variable_" + cfg.Main.Variables.App
	subclass := cfg.Main.FreeSWITCH.ExitSubclass
	var firstHangup, markedHangup *esl.Event
	for i := range events {
		ev := &events[i]
		if ev.Name() != "CHANNEL_HANGUP_COMPLETE" {
			continue
		}
		if firstHangup == nil {
			firstHangup = ev
		}
		if ev.Get(appVar) == "" {
			continue
		}
		if markedHangup == nil {
			markedHangup = ev
		}
		if !hooks.IsOriginatedLeg(ev) {
			hangup = ev
			break
		}
	}
	if hangup == nil {
		hangup = markedHangup
	}
	if hangup == nil {
		hangup = firstHangup
	}

	for i := range events {
		ev := &events[i]
		if ev.Name() != "CUSTOM" || ev.Subclass() != subclass {
			continue
		}
		if hangup == nil || ev.Get("Unique-ID") == hangup.Get("Unique-ID") {
			exit = ev
			break
		}
	}
	if hangup == nil && exit == nil {
		return nil, nil, fmt.Errorf("no CHANNEL_HANGUP_COMPLETE and no CUSTOM %s event found among %d events",
			subclass, len(events))
	}
	return hangup, exit, nil
}

// AppOf returns the application a captured call names with the application
// variable, or "" when it names none.
func AppOf(cfg *conf.Config, hangup, exit *esl.Event) string {
	return hooks.AppName(HooksConfig(cfg), hangup, exit)
}

// RenderJob builds the job that the daemon would spool for a captured call
// of the application app, exactly as the call model does.
func RenderJob(cfg *conf.Config, apps *Apps, app string, hangup, exit *esl.Event) (*delivery.Job, error) {
	ha, ok := apps.Hooks[app]
	if !ok {
		return nil, fmt.Errorf("no application %q is configured", app)
	}
	hc := HooksConfig(cfg)
	termination := hooks.Termination(hc, hangup, exit)
	vars := hooks.Variables(hc, ha, hangup, exit, termination)
	job, err := ha.Build(vars)
	if err != nil {
		return nil, err
	}
	first := hangup
	if first == nil {
		first = exit
	}
	job.App = app
	job.CallID = first.Get("Unique-ID")
	job.CoreUUID = first.Get("Core-UUID")
	job.Key = hooks.Key(job.CoreUUID, job.CallID)
	job.Termination = termination
	job.CreatedAt = time.Now().UTC()
	job.State = delivery.StatePending
	return job, nil
}

// WireRequest returns the HTTP request one attempt of job sends, with the
// headers the senders add (idempotency key, User-Agent, Content-Length).
// For a SOAP job it reads the application's WSDL to build the envelope.
// Signature headers are not shown, because they change with every attempt.
func WireRequest(ctx context.Context, cfg *conf.Config, apps *Apps, job *delivery.Job, userAgent string) (*delivery.Request, error) {
	var req delivery.Request
	switch job.Kind {
	case delivery.KindREST:
		req = *job.Request
	case delivery.KindSOAP:
		client, ok := apps.SOAP[job.App]
		if !ok {
			return nil, fmt.Errorf("no SOAP application %q is configured", job.App)
		}
		svc, err := client.Service(ctx)
		if err != nil {
			return nil, err
		}
		built, err := svc.Build(client.Method(), client.Version(), job.SOAP.Params)
		if err != nil {
			return nil, err
		}
		req = *built
	default:
		return nil, fmt.Errorf("job kind %q is not valid", job.Kind)
	}
	req.Header = append(append([]delivery.Field(nil), req.Header...),
		delivery.Field{Name: cfg.Main.Delivery.IdempotencyHeader, Value: job.Key},
		delivery.Field{Name: "User-Agent", Value: userAgent})
	if len(req.Body) > 0 {
		req.Header = append(req.Header, delivery.Field{Name: "Content-Length", Value: strconv.Itoa(len(req.Body))})
	}
	return &req, nil
}
