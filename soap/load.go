package soap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Defaults of LoadOptions.
const (
	DefaultLoadTimeout  = 30 * time.Second
	DefaultMaxBytes     = 4 << 20
	DefaultMaxDocuments = 32
)

// LoadOptions sets how Load reads a WSDL and the documents it imports.
type LoadOptions struct {
	// Timeout bounds the whole load, every imported document included.
	// Default 30s.
	Timeout time.Duration
	// MaxBytes bounds the size of each document. Default 4 MiB.
	MaxBytes int64
	// MaxDocuments bounds the documents read in one load: the WSDL and
	// everything it imports or includes. Default 32.
	MaxDocuments int
	// HTTPClient fetches http and https documents. Default: a client of its
	// own, with a transport cloned from net/http's defaults, closed after
	// the load.
	HTTPClient *http.Client
	// UserAgent is sent with every HTTP request when set.
	UserAgent string
}

func (o LoadOptions) withDefaults() LoadOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultLoadTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxDocuments <= 0 {
		o.MaxDocuments = DefaultMaxDocuments
	}
	return o
}

// LoadError reports a WSDL or schema document that could not be read or
// parsed.
type LoadError struct {
	// Location is the URL or file path of the document that failed.
	Location string
	// Status is the HTTP status of a non-2xx response, else 0.
	Status int
	Err    error
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("read WSDL document %s: %v", e.Location, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// source is where a document comes from: a URL or a local file.
type source struct {
	url  *url.URL // set for http and https documents
	path string   // set for local files: an absolute path
	// chameleon is the target namespace of the schema that included this
	// document, which a schema without its own targetNamespace takes.
	chameleon string
}

func (s source) String() string {
	if s.url != nil {
		return s.url.String()
	}
	return s.path
}

// document is one parsed WSDL or schema document.
type document struct {
	src  source
	root *node
}

// Load reads the WSDL at location, an http or https URL, a file:// URL or
// a local file path, with the documents it imports, and returns the
// service it describes.
//
// Load follows wsdl:import, xsd:import, xsd:include and xsd:redefine that
// name a location, relative to the document that names them, and skips
// those that do not. It reads each document once, so import cycles end.
// A document fetched over HTTP may import only over HTTP, never a local
// file. Every failure to read or parse a document is a *LoadError.
func Load(ctx context.Context, location string, opts LoadOptions) (*Service, error) {
	opts = opts.withDefaults()
	start, err := parseLocation(location)
	if err != nil {
		return nil, &LoadError{Location: location, Err: err}
	}

	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	client := opts.HTTPClient
	if client == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		client = &http.Client{Transport: transport}
		defer transport.CloseIdleConnections()
	}

	l := &loader{opts: opts, client: client, seen: map[string]bool{}}
	docs, err := l.loadAll(ctx, start)
	if err != nil {
		return nil, err
	}
	return newService(location, docs)
}

// parseLocation turns the location an operator wrote into a source.
func parseLocation(location string) (source, error) {
	location = strings.TrimSpace(location)
	if location == "" {
		return source{}, errors.New("empty WSDL location: set wsdl to an http(s) URL or a file path")
	}
	if !strings.Contains(location, "://") {
		abs, err := filepath.Abs(location)
		if err != nil {
			return source{}, fmt.Errorf("invalid file path: %w", err)
		}
		return source{path: abs}, nil
	}
	u, err := url.Parse(location)
	if err != nil {
		return source{}, fmt.Errorf("invalid URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return source{url: u}, nil
	case "file":
		return fileURLSource(u)
	}
	return source{}, fmt.Errorf("unsupported scheme %q: use http, https, file or a plain file path", u.Scheme)
}

func fileURLSource(u *url.URL) (source, error) {
	if u.Host != "" && u.Host != "localhost" {
		return source{}, fmt.Errorf("file URL with host %q: only local files can be read", u.Host)
	}
	if u.Path == "" {
		return source{}, errors.New("file URL without a path")
	}
	return source{path: filepath.Clean(filepath.FromSlash(u.Path))}, nil
}

// resolveRef resolves ref, a location found in the document read from
// base.
func resolveRef(base source, ref string) (source, error) {
	u, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return source{}, fmt.Errorf("invalid import location %q: %w", ref, err)
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "http" || scheme == "https":
		return source{url: u}, nil
	case scheme == "file" && base.url == nil:
		return fileURLSource(u)
	case scheme != "":
		if base.url != nil && scheme == "file" {
			return source{}, fmt.Errorf("import location %q: a document read over HTTP cannot import a local file", ref)
		}
		return source{}, fmt.Errorf("import location %q: unsupported scheme %q", ref, u.Scheme)
	case base.url != nil:
		return source{url: base.url.ResolveReference(u)}, nil
	}

	p := u.Path
	if p == "" {
		return source{}, fmt.Errorf("import location %q names no file", ref)
	}
	p = filepath.FromSlash(p)
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(base.path), p)
	}
	return source{path: filepath.Clean(p)}, nil
}

type loader struct {
	opts   LoadOptions
	client *http.Client
	seen   map[string]bool
}

// loadAll reads start and, breadth first, every document it imports.
func (l *loader) loadAll(ctx context.Context, start source) ([]*document, error) {
	var docs []*document
	queue := []source{start}
	for len(queue) > 0 {
		src := queue[0]
		queue = queue[1:]
		key := src.String() + "\x00" + src.chameleon
		if l.seen[key] {
			continue
		}
		l.seen[key] = true
		if len(docs) >= l.opts.MaxDocuments {
			return nil, &LoadError{Location: src.String(), Err: fmt.Errorf(
				"more than %d documents imported: the WSDL imports too many documents, or raise the limit", l.opts.MaxDocuments)}
		}

		doc, err := l.read(ctx, src)
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
		refs, err := importsOf(doc)
		if err != nil {
			return nil, &LoadError{Location: src.String(), Err: err}
		}
		queue = append(queue, refs...)
	}
	return docs, nil
}

// read fetches and parses one document.
func (l *loader) read(ctx context.Context, src source) (*document, error) {
	if err := ctx.Err(); err != nil {
		return nil, &LoadError{Location: src.String(), Err: err}
	}
	var (
		raw         []byte
		contentType string
		err         error
	)
	if src.url != nil {
		raw, contentType, err = l.fetch(ctx, src.url)
	} else {
		raw, err = readFile(src.path, l.opts.MaxBytes)
	}
	if err != nil {
		return nil, err
	}

	text, err := toUTF8(raw, contentType)
	if err != nil {
		return nil, &LoadError{Location: src.String(), Err: err}
	}
	root, err := parseTree(text)
	if err != nil {
		return nil, &LoadError{Location: src.String(), Err: err}
	}
	switch {
	case root.is(nsWSDL, "definitions"), root.is(nsXSD, "schema"):
	case root.is(nsWSDL20, "description"):
		return nil, &LoadError{Location: src.String(), Err: errors.New("WSDL 2.0 is not supported: the service must publish a WSDL 1.1 description")}
	default:
		return nil, &LoadError{Location: src.String(), Err: fmt.Errorf(
			"not a WSDL 1.1 or XML Schema document: the root element is {%s}%s", root.name.Space, root.name.Local)}
	}
	return &document{src: src, root: root}, nil
}

func (l *loader) fetch(ctx context.Context, u *url.URL) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", &LoadError{Location: u.String(), Err: err}
	}
	req.Header.Set("Accept", "text/xml, application/xml, application/wsdl+xml, */*;q=0.5")
	if l.opts.UserAgent != "" {
		req.Header.Set("User-Agent", l.opts.UserAgent)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, "", &LoadError{Location: u.String(), Err: err}
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, "", &LoadError{Location: u.String(), Status: resp.StatusCode,
			Err: fmt.Errorf("server responded with status %s", resp.Status)}
	}
	raw, err := readCapped(resp.Body, l.opts.MaxBytes)
	if err != nil {
		return nil, "", &LoadError{Location: u.String(), Err: err}
	}
	return raw, resp.Header.Get("Content-Type"), nil
}

func readFile(path string, maxBytes int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &LoadError{Location: path, Err: err}
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, &LoadError{Location: path, Err: err}
	}
	if !info.Mode().IsRegular() {
		return nil, &LoadError{Location: path, Err: errors.New("not a regular file")}
	}
	raw, err := readCapped(f, maxBytes)
	if err != nil {
		return nil, &LoadError{Location: path, Err: err}
	}
	return raw, nil
}

// readCapped reads r to its end, failing when it holds more than maxBytes.
func readCapped(r io.Reader, maxBytes int64) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > maxBytes {
		return nil, fmt.Errorf("document larger than the limit of %d bytes: raise the WSDL size limit if the document is genuine", maxBytes)
	}
	return raw, nil
}

// importsOf lists the documents that doc imports or includes and that name
// a location.
func importsOf(doc *document) ([]source, error) {
	var refs []source
	add := func(loc, chameleon string) error {
		if strings.TrimSpace(loc) == "" {
			return nil
		}
		src, err := resolveRef(doc.src, loc)
		if err != nil {
			return err
		}
		src.chameleon = chameleon
		refs = append(refs, src)
		return nil
	}

	var schemas []*node
	if doc.root.is(nsXSD, "schema") {
		schemas = append(schemas, doc.root)
	} else {
		for _, c := range doc.root.children {
			if c.is(nsWSDL, "import") {
				if err := add(c.attr("location"), ""); err != nil {
					return nil, err
				}
			}
		}
		if types := doc.root.child(nsWSDL, "types"); types != nil {
			for _, c := range types.children {
				if c.is(nsXSD, "schema") {
					schemas = append(schemas, c)
				}
			}
		}
	}

	for _, s := range schemas {
		tns := schemaNamespace(s, doc.src.chameleon)
		for _, c := range s.children {
			var err error
			switch {
			case c.is(nsXSD, "import"):
				err = add(c.attr("schemaLocation"), "")
			case c.is(nsXSD, "include"), c.is(nsXSD, "redefine"):
				// NOTE: a redefined schema is read as if included, so the
				// redefinitions inside xsd:redefine are not applied.
				err = add(c.attr("schemaLocation"), tns)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return refs, nil
}

// schemaNamespace returns the target namespace of schema s, or chameleon
// when s has none and was included by a schema with that namespace.
func schemaNamespace(s *node, chameleon string) string {
	if s.hasAttr("targetNamespace") {
		return s.attr("targetNamespace")
	}
	return chameleon
}
