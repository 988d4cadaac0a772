package conf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// maxConfigFileSize bounds a main or application file.
const maxConfigFileSize = 4 << 20

// maxTLSFileSize bounds a CA bundle, certificate or key file.
const maxTLSFileSize = 4 << 20

// maxTimeout is the longest per-attempt timeout, in seconds.
const maxTimeout = 300

var (
	appNamePattern  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	soapNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	requestTypes    = []string{RequestGET, RequestPOST, RequestPOSTRaw, RequestPUT, RequestDELETE}
)

// LoadApp reads and checks one application file. main supplies the
// defaults an application falls back to ([delivery] timeout, per_app and
// retry); nil means Defaults(). Relative paths in the file (secret files,
// TLS files, a local WSDL) are taken relative to the file's folder and
// stored resolved. The error, if any, is an Errors value that lists every
// problem found.
func LoadApp(path string, main *Main) (*App, error) {
	app, st := osLoader().loadApp(path, main)
	if len(st.errs) > 0 {
		sortErrors(st.errs, []string{path})
		return nil, st.errs
	}
	return app, nil
}

// loadApp returns the application even when it has problems, so that Load
// can still compare its name with the other files.
func (l *loader) loadApp(path string, main *Main) (*App, *fileState) {
	st := newFileState(path, reflect.TypeOf(App{}))
	data, err := l.readFile(path, maxConfigFileSize)
	if err != nil {
		st.errs = append(st.errs, &Error{
			File: path, Message: fmt.Sprintf("cannot read the application file: %v", err),
			Remedy: "check the path and the file's permissions", Err: err,
		})
		return nil, st
	}
	return l.decodeApp(st, data, main), st
}

// decodeApp parses and checks the text of an application file. It returns
// nil when the text is not valid TOML.
func (l *loader) decodeApp(st *fileState, data []byte, main *Main) *App {
	if main == nil {
		defaults := Defaults()
		main = &defaults
	}
	app := &App{File: st.file}
	if !st.parse(string(data), app) {
		return nil
	}
	st.checkApp(l, filepath.Dir(st.file), app, main)
	return app
}

// checkApp validates an application, fills in what it inherits from the
// main file and resolves its secrets.
func (st *fileState) checkApp(l *loader, dir string, app *App, main *Main) {
	st.checkAppName(app, main)
	st.applyAppDefaults(app, main)

	switch app.Type {
	case "rest":
		st.checkREST(app)
	case "soap":
		st.checkSOAP(l, dir, app)
	case "":
		st.add("type", "type is missing", `set type = "rest" or type = "soap"`, nil)
	default:
		remedy := `use "rest" or "soap"`
		if lower := strings.ToLower(app.Type); lower == "rest" || lower == "soap" {
			remedy = fmt.Sprintf("write it in lower case: %q", lower)
		}
		st.add("type", fmt.Sprintf("type %q is not valid", app.Type), remedy, nil)
	}

	st.checkHeaders(l, dir, app)
	for i, p := range app.Params {
		if p.Name == "" {
			st.add(indexKey("params", i+1), fmt.Sprintf("%s has no name", indexKey("params", i+1)),
				`set name = "..." in every [[params]] entry`, nil)
		}
	}
	if app.Signing != nil {
		st.checkSigning(l, dir, app.Signing)
	}
	st.checkTLS(l, dir, &app.TLS)
	st.checkVariableSources(app.Variables)
}

func (st *fileState) checkAppName(app *App, main *Main) {
	switch {
	case app.Name == "":
		st.add("name", "name is missing",
			fmt.Sprintf("set name to the value of the %s channel variable that selects this application", main.Variables.App), nil)
	case !appNamePattern.MatchString(app.Name):
		st.add("name", fmt.Sprintf("name %q is not valid", app.Name),
			"use only letters, digits, '_', '.' and '-'", nil)
	}
}

// applyAppDefaults fills the timeout, concurrency and retry policy from the
// main file, and checks the values the application wrote.
func (st *fileState) applyAppDefaults(app *App, main *Main) {
	if st.written["timeout"] {
		st.checkTimeout("timeout", app.Timeout)
	} else {
		app.Timeout = main.Delivery.Timeout
	}

	switch {
	case st.written["concurrency"] && app.Concurrency < 1:
		st.add("concurrency", fmt.Sprintf("concurrency %d is not valid", app.Concurrency),
			"write a whole number of 1 or more, or leave it out to use [delivery] per_app", nil)
	case app.Concurrency == 0:
		app.Concurrency = main.Delivery.PerApp
	}

	st.checkAppRetry(&app.Retry)
	app.Retry = mergeRetry(app.Retry, main.Delivery.Retry)
	if app.Retry.MaxDelay < app.Retry.InitialDelay {
		st.add("retry.max_delay", fmt.Sprintf("retry.max_delay %s is shorter than retry.initial_delay %s",
			app.Retry.MaxDelay.D(), app.Retry.InitialDelay.D()),
			"make max_delay at least as long as initial_delay", nil)
	}
}

// mergeRetry returns the application's policy with each zero field taken
// from the main file's [delivery.retry].
func mergeRetry(app, main Retry) Retry {
	if app.InitialDelay == 0 {
		app.InitialDelay = main.InitialDelay
	}
	if app.MaxDelay == 0 {
		app.MaxDelay = main.MaxDelay
	}
	if app.Multiplier == 0 {
		app.Multiplier = main.Multiplier
	}
	if app.MaxAttempts == 0 {
		app.MaxAttempts = main.MaxAttempts
	}
	if app.MaxAge == 0 {
		app.MaxAge = main.MaxAge
	}
	if app.MaxRetryAfter == 0 {
		app.MaxRetryAfter = main.MaxRetryAfter
	}
	return app
}

// checkAppRetry checks the [retry] fields an application wrote. A zero
// falls back to the main file, so only negative and out-of-range values
// are errors.
func (st *fileState) checkAppRetry(r *Retry) {
	if st.written["retry.multiplier"] && r.Multiplier != 0 && !(r.Multiplier >= 1 && r.Multiplier <= 100) {
		st.add("retry.multiplier", fmt.Sprintf("retry.multiplier %v is not valid", r.Multiplier),
			"use a number from 1 to 100; 2 doubles the delay after each attempt", nil)
	}
	if r.MaxAttempts < 0 {
		st.add("retry.max_attempts", fmt.Sprintf("retry.max_attempts %d is negative", r.MaxAttempts),
			"use 1 or more, or leave it out to use [delivery.retry] max_attempts", nil)
	}
}

// checkTimeout checks a per-attempt timeout in seconds.
func (st *fileState) checkTimeout(key string, seconds float64) {
	if seconds > 0 && seconds <= maxTimeout {
		return
	}
	st.add(key, fmt.Sprintf("%s %v is not valid", key, seconds),
		fmt.Sprintf("use a number of seconds above 0 and at most %d", maxTimeout), nil)
}

func (st *fileState) checkREST(app *App) {
	switch {
	case app.RequestType == "":
		st.add("request_type", "request_type is missing", "use GET, POST, POST RAW, PUT or DELETE", nil)
	case !slices.Contains(requestTypes, app.RequestType):
		st.add("request_type", fmt.Sprintf("request_type %q is not valid", app.RequestType), requestTypeRemedy(app.RequestType), nil)
	}

	st.checkURL("url", app.URL)

	switch app.RequestType {
	case RequestGET, RequestPOST, RequestDELETE:
		if app.Body != "" {
			st.add("body", fmt.Sprintf("body is set, but request_type %q sends no raw body", app.RequestType),
				`use request_type "POST RAW" or "PUT" to send it, or remove body`, nil)
		}
	}

	for _, key := range []string{"wsdl", "method", "soap_version"} {
		if st.written[key] {
			st.add(key, fmt.Sprintf("%s is set in a REST application", key),
				`remove it, or set type = "soap"`, nil)
		}
	}
}

func requestTypeRemedy(value string) string {
	upper := strings.ToUpper(value)
	if slices.Contains(requestTypes, upper) {
		return fmt.Sprintf("write it in capitals: %q", upper)
	}
	compact := strings.NewReplacer(" ", "", "_", "", "-", "").Replace(upper)
	if compact == "POSTRAW" || compact == "RAW" {
		return `write "POST RAW", with one space`
	}
	return "use GET, POST, POST RAW, PUT or DELETE"
}

func (st *fileState) checkSOAP(l *loader, dir string, app *App) {
	st.checkWSDL(l, dir, app)

	switch {
	case app.Method == "":
		st.add("method", "method is missing", "name the WSDL operation to call; `postcall wsdl URL` lists them", nil)
	case !soapNamePattern.MatchString(app.Method):
		st.add("method", fmt.Sprintf("method %q is not a valid operation name", app.Method),
			"write the operation name exactly as the WSDL has it, without spaces or a prefix", nil)
	}

	switch app.SOAPVersion {
	case "":
		app.SOAPVersion = "1.1"
	case "1.1", "1.2":
	default:
		st.add("soap_version", fmt.Sprintf("soap_version %q is not valid", app.SOAPVersion), `use "1.1" or "1.2"`, nil)
	}

	for _, key := range []string{"request_type", "url", "body"} {
		if st.written[key] {
			st.add(key, fmt.Sprintf("%s is set in a SOAP application", key),
				"remove it: the WSDL gives the address, and params give the body", nil)
		}
	}
}

// checkWSDL checks that the WSDL location is an http(s) URL or an existing
// local file. The WSDL itself is read by the soap package.
func (st *fileState) checkWSDL(l *loader, dir string, app *App) {
	switch {
	case app.WSDL == "":
		st.add("wsdl", "wsdl is missing", "set wsdl to the service description's http(s) URL or file path", nil)
		return
	case len(placeholders(app.WSDL)) > 0:
		st.add("wsdl", "wsdl contains a placeholder", "write the WSDL location literally", nil)
		return
	}

	lower := strings.ToLower(app.WSDL)
	if strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") {
		u, err := url.Parse(app.WSDL)
		if err != nil || u.Host == "" {
			st.add("wsdl", "wsdl is not a valid URL", "write an http(s) URL with a host, or a file path", unwrapURLError(err))
		}
		return
	}
	if strings.Contains(app.WSDL, "://") {
		st.add("wsdl", "wsdl uses a scheme other than http and https", "write an http(s) URL or a file path", nil)
		return
	}

	app.WSDL = resolvePath(dir, app.WSDL)
	info, err := l.stat(app.WSDL)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		st.add("wsdl", fmt.Sprintf("wsdl file %s does not exist", app.WSDL), "correct the path, or use the WSDL's URL", err)
	case err != nil:
		st.add("wsdl", fmt.Sprintf("wsdl file %s cannot be read: %v", app.WSDL, err), "check the file's permissions", err)
	case !info.Mode().IsRegular():
		st.add("wsdl", fmt.Sprintf("wsdl %s is not a regular file", app.WSDL), "name the WSDL file itself", nil)
	}
}

// span is a [start, end) byte range.
type span struct{ start, end int }

// placeholders finds each complete {{...}} in s. An unclosed {{ is not a
// placeholder.
func placeholders(s string) []span {
	var spans []span
	for from := 0; from < len(s); {
		open := strings.Index(s[from:], "{{")
		if open < 0 {
			break
		}
		open += from
		end := strings.Index(s[open+2:], "}}")
		if end < 0 {
			break
		}
		end += open + 4
		spans = append(spans, span{open, end})
		from = end
	}
	return spans
}

// replaceSpans replaces each span of s with marker.
func replaceSpans(s string, spans []span, marker string) string {
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.start])
		b.WriteString(marker)
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// checkURL checks a REST URL: http or https, a host, and no placeholder in
// the scheme, userinfo, host or port, so that no caller-controlled value
// can change the destination. Messages never echo the URL, which may hold
// credentials.
func (st *fileState) checkURL(key, raw string) {
	if raw == "" {
		st.add(key, key+" is missing", "set the webservice's http(s) URL", nil)
		return
	}

	spans := placeholders(raw)
	// A NUL byte cannot occur in a valid URL, so it marks where the
	// placeholders were without being confused with the operator's text.
	marked := replaceSpans(raw, spans, "\x00")
	prefix, authority, _, ok := urlParts(marked)
	if !ok {
		if colon := strings.IndexByte(marked, ':'); colon >= 0 && strings.Contains(marked[:colon], "\x00") {
			st.placeholderIn(key, "scheme")
			return
		}
		st.add(key, key+" has no scheme", "start it with https:// or http://", nil)
		return
	}
	scheme := strings.TrimSuffix(prefix, "://")
	if strings.Contains(scheme, "\x00") {
		st.placeholderIn(key, "scheme")
		return
	}
	if part := authorityPart(authority, "\x00"); part != "" {
		st.placeholderIn(key, part)
		return
	}
	if lower := strings.ToLower(scheme); lower != "http" && lower != "https" {
		st.add(key, fmt.Sprintf("%s scheme %q is not supported", key, scheme), "use https:// or http://", nil)
		return
	}

	u, err := url.Parse(replaceSpans(raw, spans, "x"))
	switch {
	case err != nil:
		st.add(key, fmt.Sprintf("%s is not a valid URL: %v", key, unwrapURLError(err)), "correct the URL", unwrapURLError(err))
	case u.Host == "" || u.Hostname() == "":
		st.add(key, key+" has no host", "write the webservice's host after the scheme, for example https://crm.example.com/", nil)
	}
}

func (st *fileState) placeholderIn(key, part string) {
	st.add(key, fmt.Sprintf("%s has a placeholder in its %s", key, part),
		fmt.Sprintf("the destination must be fixed in the file: write the %s literally and put caller data in the path, query, parameters or body", part), nil)
}

// authorityPart names the part of a URL authority (userinfo, host or port)
// that contains marker, or returns "".
func authorityPart(authority, marker string) string {
	if !strings.Contains(authority, marker) {
		return ""
	}
	hostport := authority
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		if strings.Contains(authority[:at], marker) {
			return "userinfo"
		}
		hostport = authority[at+1:]
	}
	host := hostport
	if strings.HasPrefix(hostport, "[") {
		if end := strings.IndexByte(hostport, ']'); end >= 0 {
			host = hostport[:end+1]
		}
	} else if colon := strings.LastIndexByte(hostport, ':'); colon >= 0 {
		host = hostport[:colon]
	}
	if strings.Contains(host, marker) {
		return "host"
	}
	return "port"
}

// unwrapURLError drops the URL that url.Parse puts in its error, because
// the URL may hold credentials.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// headerManagedByPostcall lists headers whose value postcall computes.
var headerManagedByPostcall = []string{"content-length", "transfer-encoding", "host"}

func (st *fileState) checkHeaders(l *loader, dir string, app *App) {
	for i := range app.Headers {
		h := &app.Headers[i]
		path := indexKey("headers", i+1)
		switch {
		case h.Name == "":
			st.add(path, path+" has no name", `set name = "..." in every [[headers]] entry`, nil)
		case !isToken(h.Name):
			st.add(joinKey(path, "name"), fmt.Sprintf("%s.name %q is not a valid HTTP header name", path, h.Name),
				"use letters, digits and !#$%&'*+-.^_`|~ only, with no space or colon", nil)
		case slices.Contains(headerManagedByPostcall, strings.ToLower(h.Name)):
			st.add(joinKey(path, "name"), fmt.Sprintf("%s.name %q is set by postcall itself", path, h.Name),
				"remove this header", nil)
		}

		before := len(st.errs)
		st.resolveSecret(l, dir, secretKeys{table: path, inline: "value", file: "value_file", envs: "value_env"},
			&h.Value, &h.ValueFile, h.ValueEnv, true)
		if len(st.errs) == before && strings.ContainsAny(h.Value, "\r\n\x00") {
			st.add(joinKey(path, "value"), fmt.Sprintf("%s value contains a line break or NUL", path),
				"write the header value on one line", nil)
		}
	}
}

// isToken reports whether s is an HTTP token (RFC 9110, section 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isBareKeyByte(c) && c != '_' && c != '-' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

func (st *fileState) checkSigning(l *loader, dir string, s *Signing) {
	before := len(st.errs)
	st.resolveSecret(l, dir, secretKeys{table: "signing", inline: "secret", file: "secret_file", envs: "secret_env"},
		&s.Secret, &s.SecretFile, s.SecretEnv, true)
	if len(st.errs) > before || s.Secret == "" {
		if len(st.errs) == before {
			st.add("signing.secret", "signing.secret is empty", "write the signing key, or use secret_file or secret_env", nil)
		}
		return
	}
	if key, ok := strings.CutPrefix(s.Secret, "whsec_"); ok {
		decoded, err := base64.StdEncoding.DecodeString(key)
		if err != nil || len(decoded) == 0 {
			st.add("signing", `the signing secret starts with "whsec_" but the rest is not valid base64`,
				`copy the whole key as the webservice shows it, or give a raw key without the "whsec_" prefix`, nil)
		}
	}
}

func (st *fileState) checkTLS(l *loader, dir string, t *TLS) {
	if t.CAFile != "" {
		t.CAFile = resolvePath(dir, t.CAFile)
		data, err := l.readFile(t.CAFile, maxTLSFileSize)
		switch {
		case err != nil:
			st.add("tls.ca_file", fmt.Sprintf("tls.ca_file %s cannot be read: %v", t.CAFile, err),
				"check the path and the file's permissions", err)
		case !x509.NewCertPool().AppendCertsFromPEM(data):
			st.add("tls.ca_file", fmt.Sprintf("tls.ca_file %s contains no PEM certificate", t.CAFile),
				"give a file with one or more -----BEGIN CERTIFICATE----- blocks", nil)
		}
	}

	switch {
	case t.CertFile == "" && t.KeyFile == "":
		return
	case t.CertFile == "":
		st.add("tls.key_file", "tls.key_file is set without tls.cert_file", "set both, or neither", nil)
		return
	case t.KeyFile == "":
		st.add("tls.cert_file", "tls.cert_file is set without tls.key_file", "set both, or neither", nil)
		return
	}
	t.CertFile = resolvePath(dir, t.CertFile)
	t.KeyFile = resolvePath(dir, t.KeyFile)
	cert, certErr := l.readFile(t.CertFile, maxTLSFileSize)
	if certErr != nil {
		st.add("tls.cert_file", fmt.Sprintf("tls.cert_file %s cannot be read: %v", t.CertFile, certErr),
			"check the path and the file's permissions", certErr)
	}
	key, keyErr := l.readFile(t.KeyFile, maxTLSFileSize)
	if keyErr != nil {
		st.add("tls.key_file", fmt.Sprintf("tls.key_file %s cannot be read: %v", t.KeyFile, keyErr),
			"check the path and the file's permissions", keyErr)
	}
	if certErr != nil || keyErr != nil {
		return
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		st.add("tls.cert_file", fmt.Sprintf("tls.cert_file %s and tls.key_file %s are not a valid pair: %v", t.CertFile, t.KeyFile, err),
			"give the PEM certificate and the PEM private key that belongs to it", err)
	}
}

// variableSources are the prefixes an application [variables] value may
// start with.
var variableSources = []string{"channel:", "event:", "exit:", "text:"}

func (st *fileState) checkVariableSources(vars map[string]string) {
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	slices.Sort(names)

	for _, name := range names {
		key := joinKey("variables", name)
		source := vars[name]
		if name == "" || strings.ContainsAny(name, " \t{}") {
			st.add(key, fmt.Sprintf("variable name %q is not valid", name),
				"use a name without spaces or braces, such as account or request.data.name", nil)
			continue
		}
		prefix := ""
		for _, p := range variableSources {
			if strings.HasPrefix(source, p) {
				prefix = p
			}
		}
		switch {
		case prefix == "":
			st.add(key, fmt.Sprintf("%s %q does not name a source", key, source),
				`start it with channel:, event:, exit: or text:, for example "channel:sip_h_X-Account"`, nil)
		case prefix != "text:" && strings.TrimSpace(strings.TrimPrefix(source, prefix)) == "":
			st.add(key, fmt.Sprintf("%s %q names no %s", key, source, strings.TrimSuffix(prefix, ":")),
				fmt.Sprintf("write the name after the colon, for example %q", prefix+"some_name"), nil)
		}
	}
}

// finite reports whether f is a real number, not NaN or an infinity.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
