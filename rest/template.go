package rest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/render"
)

// The Content-Type values the Template sets itself.
const (
	formContentType       = "application/x-www-form-urlencoded"
	defaultRawContentType = "text/plain; charset=utf-8"
	contentTypeHeader     = "Content-Type"
)

// Template is the compiled REST request of one application. It is
// immutable and safe for concurrent use.
type Template struct {
	location    string
	requestType string
	method      string
	url         *render.URLTemplate
	headers     []headerTemplate
	params      []paramTemplate
	// paramsInBody is set for POST, which sends the parameters as a form.
	paramsInBody bool
	// body is nil unless the request type is POST RAW or PUT.
	body       *render.Template
	bodyFormat render.BodyFormat
	names      []string
}

type headerTemplate struct {
	name  string
	value *render.Template
}

type paramTemplate struct {
	// escapedName is the parameter name, already query-escaped.
	escapedName string
	value       *render.Template
}

// hopByHopHeaders are managed by net/http for each connection, so an
// application may not set them.
var hopByHopHeaders = []string{
	"Connection", "Content-Length", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
	"Transfer-Encoding", "Upgrade",
}

// NewTemplate compiles the REST request of app: its URL, headers,
// parameters and body. The error names the application file and the key
// at fault. app.Type must be "rest" and app.RequestType one of GET, POST,
// POST RAW, PUT and DELETE.
func NewTemplate(app *conf.App) (*Template, error) {
	if app == nil {
		return nil, errors.New("no application given")
	}
	t := &Template{location: appLocation(app)}

	if !strings.EqualFold(app.Type, "rest") {
		return nil, fmt.Errorf("%s: key type: %q is not \"rest\": only REST applications have a REST template", t.location, app.Type)
	}
	if err := t.setRequestType(app.RequestType); err != nil {
		return nil, err
	}
	if err := t.compileURL(app.URL); err != nil {
		return nil, err
	}
	if err := t.compileHeaders(app.Headers); err != nil {
		return nil, err
	}
	if err := t.compileParams(app.Params); err != nil {
		return nil, err
	}
	if err := t.compileBody(app.Body); err != nil {
		return nil, err
	}
	return t, nil
}

// appLocation names the application in errors: its file when known.
func appLocation(app *conf.App) string {
	if app.File != "" {
		return app.File
	}
	return fmt.Sprintf("application %q", app.Name)
}

func (t *Template) setRequestType(requestType string) error {
	normalized := strings.ToUpper(strings.Join(strings.Fields(requestType), " "))
	switch normalized {
	case conf.RequestGET, conf.RequestDELETE, conf.RequestPUT:
		t.method = normalized
	case conf.RequestPOST:
		t.method = http.MethodPost
		t.paramsInBody = true
	case conf.RequestPOSTRaw:
		t.method = http.MethodPost
	default:
		return fmt.Errorf("%s: key request_type: invalid value %q: use GET, POST, POST RAW, PUT or DELETE", t.location, requestType)
	}
	t.requestType = normalized
	return nil
}

func (t *Template) compileURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("%s: key url: missing: set the webservice URL, for example \"https://crm.example.com/calls\"", t.location)
	}
	u, err := render.ParseURL(raw)
	if err != nil {
		return fmt.Errorf("%s: key url: %w", t.location, err)
	}
	if u.Scheme() != "http" && u.Scheme() != "https" {
		return fmt.Errorf("%s: key url: unsupported scheme %q: use http or https", t.location, u.Scheme())
	}
	t.url = u
	t.names = appendNames(t.names, u.Names())
	return nil
}

func (t *Template) compileHeaders(headers []conf.Header) error {
	contentType := ""
	for _, h := range headers {
		if !isToken(h.Name) {
			return fmt.Errorf("%s: key headers: invalid header name %q: use letters, digits and \"-\"", t.location, h.Name)
		}
		for _, reserved := range hopByHopHeaders {
			if strings.EqualFold(h.Name, reserved) {
				return fmt.Errorf("%s: key headers: header %q is set by the HTTP client: remove it", t.location, h.Name)
			}
		}
		value, err := render.Parse(h.Value)
		if err != nil {
			return fmt.Errorf("%s: key headers: header %q: %w", t.location, h.Name, err)
		}
		// Only the name is shown, because the value may come from a secret.
		if !validHeaderValue(h.Value) {
			return fmt.Errorf("%s: key headers: header %q: the value contains a control character: remove it", t.location, h.Name)
		}

		fixedOnly := strings.EqualFold(h.Name, contentTypeHeader) || strings.EqualFold(h.Name, "Host")
		if fixedOnly && value.HasPlaceholders() {
			return fmt.Errorf("%s: key headers: header %q may not contain a placeholder: write a fixed value", t.location, h.Name)
		}
		if strings.EqualFold(h.Name, "Host") && !validHost(h.Value) {
			return fmt.Errorf("%s: key headers: invalid Host value %q: write host or host:port", t.location, h.Value)
		}
		if strings.EqualFold(h.Name, contentTypeHeader) {
			if contentType != "" {
				return fmt.Errorf("%s: key headers: header %q is set twice: keep one", t.location, h.Name)
			}
			contentType = h.Value
		}

		t.headers = append(t.headers, headerTemplate{name: h.Name, value: value})
		t.names = appendNames(t.names, value.Names())
	}
	return t.setContentType(contentType)
}

// setContentType checks the configured Content-Type against the request
// type, adds the one the request type implies when none is configured,
// and picks the body escaping.
func (t *Template) setContentType(configured string) error {
	switch {
	case t.paramsInBody:
		mediaType, _, _ := strings.Cut(configured, ";")
		if configured != "" && !strings.EqualFold(strings.TrimSpace(mediaType), formContentType) {
			return fmt.Errorf("%s: key headers: Content-Type %q does not fit request type POST, which sends the parameters as %s: remove the header or use POST RAW", t.location, configured, formContentType)
		}
		if configured == "" {
			t.headers = append(t.headers, headerTemplate{name: contentTypeHeader, value: render.MustParse(formContentType)})
		}
	case t.requestType == conf.RequestPOSTRaw || t.requestType == conf.RequestPUT:
		if configured == "" {
			configured = defaultRawContentType
			t.headers = append(t.headers, headerTemplate{name: contentTypeHeader, value: render.MustParse(configured)})
		}
		t.bodyFormat = render.BodyFormatOf(configured)
	}
	return nil
}

func (t *Template) compileParams(params []conf.Param) error {
	for i, p := range params {
		if p.Name == "" {
			return fmt.Errorf("%s: key params: parameter %d has no name: set name", t.location, i+1)
		}
		value, err := render.Parse(p.Value)
		if err != nil {
			return fmt.Errorf("%s: key params: parameter %q: %w", t.location, p.Name, err)
		}
		t.params = append(t.params, paramTemplate{
			escapedName: string(render.EscapeQuery(nil, p.Name)),
			value:       value,
		})
		t.names = appendNames(t.names, value.Names())
	}
	return nil
}

func (t *Template) compileBody(body string) error {
	hasRawBody := t.requestType == conf.RequestPOSTRaw || t.requestType == conf.RequestPUT
	if !hasRawBody {
		if body != "" {
			return fmt.Errorf("%s: key body: request type %s sends no raw body: remove body, or use POST RAW or PUT", t.location, t.requestType)
		}
		return nil
	}

	tmpl, err := render.Parse(body)
	if err != nil {
		return fmt.Errorf("%s: key body: %w", t.location, err)
	}
	t.body = tmpl
	t.names = appendNames(t.names, tmpl.Names())
	return nil
}

func appendNames(list, names []string) []string {
	for _, name := range names {
		found := false
		for _, have := range list {
			if have == name {
				found = true
				break
			}
		}
		if !found {
			list = append(list, name)
		}
	}
	return list
}

// Names returns every variable name the request uses, each once: URL
// first, then headers, parameters and body.
func (t *Template) Names() []string { return append([]string(nil), t.names...) }

// Method returns the HTTP method: POST for the request type POST RAW.
func (t *Template) Method() string { return t.method }

// BodyFormat returns how values are escaped in the raw body.
func (t *Template) BodyFormat() render.BodyFormat { return t.bodyFormat }

// Render returns the request for one call and the variable names that vars
// does not contain, each once, in order of first use. A missing name
// renders as an empty value.
func (t *Template) Render(vars render.Vars) (*delivery.Request, []string) {
	var missing []string
	req := &delivery.Request{Method: t.method}

	params, missing := t.renderParams(vars, missing)
	query := ""
	if !t.paramsInBody {
		query = string(params)
	}
	req.URL, missing = t.url.Render(vars, query, missing)

	req.Header = make([]delivery.Field, 0, len(t.headers))
	var buf []byte
	for _, h := range t.headers {
		buf, missing = h.value.Append(buf[:0], vars, render.EscapeHeader, missing)
		req.Header = append(req.Header, delivery.Field{Name: h.name, Value: string(buf)})
	}

	switch {
	case t.paramsInBody:
		req.Body = params
	case t.body != nil:
		req.Body, missing = t.body.Append(nil, vars, t.bodyFormat.Escaper(), missing)
	}
	return req, missing
}

// renderParams returns the parameters as name=value pairs joined by "&",
// in the application/x-www-form-urlencoded format, or nil when there are
// none.
func (t *Template) renderParams(vars render.Vars, missing []string) ([]byte, []string) {
	if len(t.params) == 0 {
		return nil, missing
	}
	var buf, value []byte
	for i, p := range t.params {
		if i > 0 {
			buf = append(buf, '&')
		}
		buf = append(buf, p.escapedName...)
		buf = append(buf, '=')
		// The whole value is one parameter value, literal text included, so
		// it is rendered first and escaped as a whole.
		value, missing = p.value.Append(value[:0], vars, render.EscapePlain, missing)
		buf = render.EscapeQuery(buf, string(value))
	}
	return buf, missing
}

// CheckBody renders the raw body with sample values and reports whether it
// has the syntax of its Content-Type: it fails when a JSON body does not
// parse as JSON or an XML body is not well-formed. A text body and a
// request type without a raw body always pass.
func (t *Template) CheckBody(sample render.Vars) error {
	if t.body == nil {
		return nil
	}
	body, _ := t.body.Append(nil, sample, t.bodyFormat.Escaper(), nil)

	switch t.bodyFormat {
	case render.BodyJSON:
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			return fmt.Errorf("%s: key body: the body rendered with sample values is not valid JSON: %w: put each placeholder inside a JSON string, for example \"{{name}}\"", t.location, err)
		}
	case render.BodyXML:
		if err := checkXML(body); err != nil {
			return fmt.Errorf("%s: key body: the body rendered with sample values is not well-formed XML: %w", t.location, err)
		}
	}
	return nil
}

// checkXML reads every token of doc and returns the first syntax error.
func checkXML(doc []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	elements := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if _, ok := tok.(xml.StartElement); ok {
			elements++
		}
	}
	if elements == 0 {
		return errors.New("the document has no root element")
	}
	return nil
}

// SecretHeaders returns the names of the headers of app whose value comes
// from a file or an environment variable. A Sender given them in
// Options.SecretHeaders does not send them on when a redirect leads to
// another host.
func SecretHeaders(app *conf.App) []string {
	var names []string
	for _, h := range app.Headers {
		if h.ValueFile != "" || h.ValueEnv != "" {
			names = append(names, h.Name)
		}
	}
	return names
}

// isToken reports whether name is an HTTP token (RFC 9110, section
// 5.6.2), as header names and methods must be.
func isToken(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHost reports whether value is a host or host:port that net/http
// accepts as a Host header.
func validHost(value string) bool {
	u, err := url.Parse("http://" + value + "/")
	return err == nil && value != "" && u.Host == value && u.User == nil
}

// validHeaderValue applies the rule net/http uses before it sends a header
// value: no control character other than tab.
func validHeaderValue(value string) bool {
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
