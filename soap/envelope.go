package soap

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/postcall/postcall/delivery"
)

// fieldValue is a parameter as Check and Build see it.
type fieldValue struct {
	name, value string
}

// bound holds the values that parameters gave one element and its
// descendants; children are keyed by the index in Element.Children.
type bound struct {
	values   []string
	children map[int]*bound
}

// maxListedNames bounds the element names an error lists.
const maxListedNames = 40

// Build renders the request that calls method over SOAP version with
// params: the POST to the port address bound for that version, its
// Content-Type (and SOAPAction for 1.1) header, and the envelope.
//
// A parameter names an element of the input by its local name. A nested
// element is named by the path of local names joined with dots, such as
// "routing.queue". The body lists elements in schema order whatever the
// order of params, leaves out optional elements with no parameter or an
// empty value, and sends a required element with an empty value as an
// empty element. Values are escaped as XML text; characters that XML 1.0
// forbids are removed and invalid UTF-8 becomes U+FFFD. The output is the
// same for the same input. Build fails like Check.
func (s *Service) Build(method, version string, params []delivery.Field) (*delivery.Request, error) {
	op, v, err := s.lookup(method, version)
	if err != nil {
		return nil, err
	}
	address, err := checkAddress(op.Address[v], v)
	if err != nil {
		return nil, err
	}
	values := make([]fieldValue, len(params))
	for i, p := range params {
		values[i] = fieldValue{name: p.Name, value: p.Value}
	}
	root, err := bindParams(op, values)
	if err != nil {
		return nil, err
	}

	body := writeEnvelope(op, v, root)
	action := headerSafe(op.Action[v])
	req := &delivery.Request{Method: "POST", URL: address, Body: body}
	if v == Version12 {
		ct := "application/soap+xml; charset=utf-8"
		if action != "" {
			ct += "; action=" + quoteHeader(action)
		}
		req.Header = []delivery.Field{{Name: "Content-Type", Value: ct}}
	} else {
		req.Header = []delivery.Field{
			{Name: "Content-Type", Value: "text/xml; charset=utf-8"},
			{Name: "SOAPAction", Value: quoteHeader(action)},
		}
	}
	return req, nil
}

func checkAddress(address, version string) (string, error) {
	if address == "" {
		return "", fmt.Errorf("the WSDL gives no address for its SOAP %s port: fix the soap address location in the WSDL", version)
	}
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("the WSDL's SOAP %s address %q is not an http or https URL: fix the soap address location in the WSDL", version, address)
	}
	return address, nil
}

// headerSafe drops control characters, so a WSDL value cannot split a
// header.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// quoteHeader writes s as an HTTP quoted-string.
func quoteHeader(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// bindParams assigns each parameter to the element it names and checks
// that every required element got one. All problems are joined.
func bindParams(op *Operation, params []fieldValue) (*bound, error) {
	root := &bound{}
	var errs []error
	for _, p := range params {
		path, ok := locate(op.Input, p.name)
		if !ok {
			errs = append(errs, fmt.Errorf("parameter %q names no input element of %s: use one of %s",
				p.name, op.Name, strings.Join(leafPaths(op.Input, maxListedNames), ", ")))
			continue
		}
		el, b := elementAt(op.Input, path), root
		for _, i := range path {
			if b.children == nil {
				b.children = map[int]*bound{}
			}
			next := b.children[i]
			if next == nil {
				next = &bound{}
				b.children[i] = next
			}
			b = next
		}
		// TODO: a repeated complex element gets one occurrence, because a
		// dotted name cannot say which occurrence a member belongs to.
		if len(el.Children) > 0 {
			errs = append(errs, fmt.Errorf("parameter %q names the complex element %s: name its members instead, such as %q",
				p.name, el.Name, p.name+"."+el.Children[0].Name))
			continue
		}
		if len(b.values) == 1 && !el.Repeated {
			errs = append(errs, fmt.Errorf("parameter %q is given more than once, but element %s of %s takes one value: remove the extra parameter",
				p.name, el.Name, op.Name))
			continue
		}
		b.values = append(b.values, p.value)
	}

	walkRequired(op, op.Input, root, "", &errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return root, nil
}

// locate finds the element that a parameter name addresses and returns its
// index path. A whole-name match wins over a dotted path, so element names
// that contain dots still work.
func locate(elements []Element, name string) ([]int, bool) {
	for i, el := range elements {
		if el.Name == name {
			return []int{i}, true
		}
	}
	for i, el := range elements {
		rest, ok := strings.CutPrefix(name, el.Name+".")
		if !ok || len(el.Children) == 0 {
			continue
		}
		if sub, ok := locate(el.Children, rest); ok {
			return append([]int{i}, sub...), true
		}
	}
	return nil, false
}

func elementAt(elements []Element, path []int) *Element {
	el := &elements[path[0]]
	for _, i := range path[1:] {
		el = &el.Children[i]
	}
	return el
}

// leafPaths lists the parameter names of the leaf elements, at most max.
func leafPaths(elements []Element, max int) []string {
	var out []string
	var walk func(prefix string, els []Element)
	walk = func(prefix string, els []Element) {
		for _, el := range els {
			if len(out) >= max {
				return
			}
			if len(el.Children) == 0 {
				out = append(out, prefix+el.Name)
				continue
			}
			walk(prefix+el.Name+".", el.Children)
		}
	}
	walk("", elements)
	if len(out) == 0 {
		return []string{"(the input has no elements)"}
	}
	return out
}

// walkRequired reports the required elements that have no parameter. A
// required complex element is entered even without parameters; an
// optional one only when a parameter addresses a member.
func walkRequired(op *Operation, elements []Element, b *bound, prefix string, errs *[]error) {
	for i, el := range elements {
		var child *bound
		if b != nil {
			child = b.children[i]
		}
		name := prefix + el.Name
		if len(el.Children) == 0 {
			if child == nil && !el.Optional {
				*errs = append(*errs, fmt.Errorf("required element %q of %s has no parameter: add a parameter named %q",
					name, op.Name, name))
			}
			continue
		}
		if child == nil && el.Optional {
			continue
		}
		walkRequired(op, el.Children, child, name+".", errs)
	}
}

// envelopeWriter writes the envelope of one request.
type envelopeWriter struct {
	body     bytes.Buffer
	prefixes map[string]string
	order    []string // namespaces in the order their prefixes were assigned
}

// prefix returns the prefix of namespace ns, assigning "tns" to the first
// and ns1, ns2 ... to the others. Every prefix is declared on the Envelope,
// and no default namespace is ever declared, so an unqualified element is
// in no namespace.
func (w *envelopeWriter) prefix(ns string) string {
	if p, ok := w.prefixes[ns]; ok {
		return p
	}
	p := "tns"
	if len(w.order) > 0 {
		p = "ns" + strconv.Itoa(len(w.order))
	}
	w.prefixes[ns] = p
	w.order = append(w.order, ns)
	return p
}

func (w *envelopeWriter) qualified(ns, local string) string {
	if ns == "" {
		return local
	}
	return w.prefix(ns) + ":" + local
}

func writeEnvelope(op *Operation, version string, root *bound) []byte {
	w := &envelopeWriter{prefixes: map[string]string{}}
	if op.Element.Local != "" {
		name := w.qualified(op.Element.Space, op.Element.Local)
		w.body.WriteString("    <" + name)
		if !hasContent(op.Input, root) {
			w.body.WriteString("/>\n")
		} else {
			w.body.WriteString(">\n")
			w.elements(op.Input, root, 3)
			w.body.WriteString("    </" + name + ">\n")
		}
	}

	env := envelope11
	if version == Version12 {
		env = envelope12
	}
	var out bytes.Buffer
	out.Grow(w.body.Len() + 256)
	out.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	out.WriteString(`<soap:Envelope xmlns:soap="` + env + `"`)
	for _, ns := range w.order {
		out.WriteString(" xmlns:" + w.prefixes[ns] + `="`)
		escapeXML(&out, ns, true)
		out.WriteByte('"')
	}
	out.WriteString(">\n  <soap:Body>\n")
	out.Write(w.body.Bytes())
	out.WriteString("  </soap:Body>\n</soap:Envelope>\n")
	return out.Bytes()
}

// hasContent reports whether writing elements with b writes anything.
func hasContent(elements []Element, b *bound) bool {
	for i, el := range elements {
		var child *bound
		if b != nil {
			child = b.children[i]
		}
		if len(el.Children) == 0 {
			if len(leafValues(el, child)) > 0 {
				return true
			}
			continue
		}
		if child != nil || !el.Optional {
			return true
		}
	}
	return false
}

// leafValues returns the values to write for a leaf element. An optional
// element whose only value is empty is left out.
func leafValues(el Element, b *bound) []string {
	if b == nil {
		return nil
	}
	if el.Optional && len(b.values) == 1 && b.values[0] == "" {
		return nil
	}
	return b.values
}

func (w *envelopeWriter) elements(elements []Element, b *bound, depth int) {
	indent := strings.Repeat("  ", depth)
	for i, el := range elements {
		var child *bound
		if b != nil {
			child = b.children[i]
		}
		name := w.qualified(el.Namespace, el.Name)
		if len(el.Children) == 0 {
			for _, v := range leafValues(el, child) {
				w.body.WriteString(indent + "<" + name + ">")
				escapeXML(&w.body, v, false)
				w.body.WriteString("</" + name + ">\n")
			}
			continue
		}
		if child == nil && el.Optional {
			continue
		}
		if !hasContent(el.Children, child) {
			w.body.WriteString(indent + "<" + name + "/>\n")
			continue
		}
		w.body.WriteString(indent + "<" + name + ">\n")
		w.elements(el.Children, child, depth+1)
		w.body.WriteString(indent + "</" + name + ">\n")
	}
}

// escapeXML writes s as XML character data, or as an attribute value when
// attr is set. Characters that XML 1.0 forbids are dropped, invalid UTF-8
// becomes U+FFFD, and CR is written as a reference so that parsers keep it.
func escapeXML(b *bytes.Buffer, s string, attr bool) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&#34;")
		case r == '\r':
			b.WriteString("&#xD;")
		case attr && r == '\n':
			b.WriteString("&#xA;")
		case attr && r == '\t':
			b.WriteString("&#x9;")
		case r == '\n', r == '\t':
			b.WriteRune(r)
		case !isXMLChar(r):
			// dropped: XML 1.0 has no way to carry it, not even as a
			// character reference
		default:
			b.WriteRune(r)
		}
	}
}

// isXMLChar reports whether r is allowed in an XML 1.0 document (the Char
// production of the XML 1.0 specification).
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) ||
		(r >= 0x10000 && r <= 0x10FFFF)
}
