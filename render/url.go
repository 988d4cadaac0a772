package render

import (
	"fmt"
	"net/url"
	"strings"
)

// URLTemplate is a parsed URL template. Placeholders may stand in the path,
// where each value is escaped as one path segment, and in the query, where
// each value is escaped as a query component. The scheme, userinfo, host and
// port are fixed text, so no value can change where the request goes.
// A URLTemplate is immutable and safe for concurrent use.
type URLTemplate struct {
	all *Template
	// origin is scheme://[userinfo@]host[:port] exactly as written.
	origin string
	scheme string
	host   string
	path   *Template
	// query is nil when the URL has no "?".
	query    *Template
	fragment string
}

// urlPart names a part of a URL in errors.
type urlPart string

const (
	partScheme   urlPart = "scheme"
	partUserinfo urlPart = "userinfo"
	partHost     urlPart = "host"
	partPort     urlPart = "port"
	partFragment urlPart = "fragment"
)

// ParseURL parses an absolute URL template such as
// "https://crm.example.com/api/accounts/{{account}}/calls?src={{ani}}".
// It rejects a placeholder in the scheme, userinfo, host or port, because
// the destination is fixed by the operator, and a placeholder in the
// fragment, because a fragment is never sent to the server. The scheme is
// not restricted here; callers check it.
func ParseURL(raw string) (*URLTemplate, error) {
	all, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	masked := maskPlaceholders(all)

	colon := strings.IndexByte(masked, ':')
	if colon <= 0 || !strings.HasPrefix(masked[colon:], "://") {
		return nil, fmt.Errorf("invalid URL %q: write an absolute URL such as https://host/path", raw)
	}
	authorityStart := colon + 3
	authorityEnd := len(masked)
	if i := strings.IndexAny(masked[authorityStart:], "/?#"); i >= 0 {
		authorityEnd = authorityStart + i
	}
	pathEnd := len(masked)
	if i := strings.IndexAny(masked[authorityEnd:], "?#"); i >= 0 {
		pathEnd = authorityEnd + i
	}
	queryEnd := len(masked)
	if i := strings.IndexByte(masked[pathEnd:], '#'); i >= 0 {
		queryEnd = pathEnd + i
	}

	for _, p := range all.parts {
		if !p.placeholder {
			continue
		}
		where := placeholderPart(masked, p.start, authorityStart, authorityEnd, queryEnd)
		switch where {
		case "":
			continue
		case partFragment:
			return nil, fmt.Errorf("invalid URL %q: placeholder {{%s}} is in the fragment, which is never sent to the server: move it to the path or query", raw, p.text)
		default:
			return nil, fmt.Errorf("invalid URL %q: placeholder {{%s}} is in the %s, but the destination is fixed by the operator: move it to the path or query", raw, p.text, where)
		}
	}

	origin, err := url.Parse(raw[:authorityEnd])
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %w", raw, err)
	}
	if origin.Host == "" || origin.Hostname() == "" {
		return nil, fmt.Errorf("invalid URL %q: the host is missing", raw)
	}
	// Check the fixed text of the path and query too, with every
	// placeholder replaced by a letter. A letter is not a hex digit, so a
	// "%" right before a placeholder fails here instead of at run time.
	if _, err := url.Parse(masked); err != nil {
		return nil, fmt.Errorf("invalid URL %q: %w", raw, err)
	}

	t := &URLTemplate{
		all:      all,
		origin:   raw[:authorityEnd],
		scheme:   strings.ToLower(origin.Scheme),
		host:     origin.Host,
		path:     MustParse(raw[authorityEnd:pathEnd]),
		fragment: raw[queryEnd:],
	}
	if pathEnd < queryEnd {
		t.query = MustParse(raw[pathEnd+1 : queryEnd])
	}
	return t, nil
}

// maskPlaceholders returns the template source with every placeholder
// replaced by as many "x" bytes, so that the URL's delimiters can be found
// without a variable name (which may contain ":") getting in the way.
func maskPlaceholders(t *Template) string {
	b := []byte(t.source)
	for _, p := range t.parts {
		if p.placeholder {
			for i := p.start; i < p.end; i++ {
				b[i] = 'x'
			}
		}
	}
	return string(b)
}

// placeholderPart returns the part of the URL that holds the placeholder
// starting at offset start, or "" for the path and query. A placeholder
// never spans two parts because its mask holds no delimiter.
func placeholderPart(masked string, start, authorityStart, authorityEnd, queryEnd int) urlPart {
	switch {
	case start < authorityStart:
		return partScheme
	case start >= queryEnd:
		return partFragment
	case start >= authorityEnd:
		return ""
	}

	authority := masked[authorityStart:authorityEnd]
	offset := start - authorityStart
	at := strings.LastIndexByte(authority, '@')
	if offset < at {
		return partUserinfo
	}
	hostPort := authority[at+1:]
	offset -= at + 1
	portColon := strings.LastIndexByte(hostPort, ':')
	if bracket := strings.LastIndexByte(hostPort, ']'); bracket > portColon {
		portColon = -1
	}
	if portColon >= 0 && offset > portColon {
		return partPort
	}
	return partHost
}

// Scheme returns the scheme in lower case, for example "https".
func (t *URLTemplate) Scheme() string { return t.scheme }

// Host returns the host and, when the URL gives one, the port, as in
// url.URL.Host.
func (t *URLTemplate) Host() string { return t.host }

// Source returns the template as written.
func (t *URLTemplate) Source() string { return t.all.source }

// Names returns the variable names the template uses, each once, in order
// of first use.
func (t *URLTemplate) Names() []string { return t.all.Names() }

// HasQuery reports whether the template itself contains a "?".
func (t *URLTemplate) HasQuery() bool { return t.query != nil }

// Render returns the URL filled with vars and the names vars does not
// contain, appended to missing as Template.Append does. extraQuery, when
// not empty, must already be encoded ("a=1&b=2"); it is appended to the
// query after the template's own parameters.
func (t *URLTemplate) Render(vars Vars, extraQuery string, missing []string) (string, []string) {
	buf := make([]byte, 0, len(t.all.source)+len(extraQuery)+64)
	buf = append(buf, t.origin...)
	buf, missing = t.path.Append(buf, vars, EscapePathSegment, missing)

	if t.query != nil || extraQuery != "" {
		buf = append(buf, '?')
		queryStart := len(buf)
		if t.query != nil {
			buf, missing = t.query.Append(buf, vars, EscapeQuery, missing)
		}
		if extraQuery != "" {
			if last := len(buf) - 1; last >= queryStart && buf[last] != '&' {
				buf = append(buf, '&')
			}
			buf = append(buf, extraQuery...)
		}
	}

	buf = append(buf, t.fragment...)
	return string(buf), missing
}
