package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Namespaces this package reads or writes.
const (
	nsWSDL   = "http://schemas.xmlsoap.org/wsdl/"
	nsWSDL20 = "http://www.w3.org/ns/wsdl"
	nsSOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
	nsSOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
	nsXSD    = "http://www.w3.org/2001/XMLSchema"
	nsXML    = "http://www.w3.org/XML/1998/namespace"

	envelope11 = "http://schemas.xmlsoap.org/soap/envelope/"
	envelope12 = "http://www.w3.org/2003/05/soap-envelope"
)

// maxNodes bounds the elements of one parsed document, so a small
// document cannot grow into a large tree of empty elements.
const maxNodes = 200000

// node is one element of a parsed document. Its scope holds the namespace
// prefixes in force at the element, which QName attribute values such as
// type="tns:CallBase" need.
type node struct {
	name     xml.Name
	attrs    []xml.Attr
	scope    map[string]string
	children []*node
}

// attr returns the value of the unqualified attribute called local.
func (n *node) attr(local string) string {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// hasAttr reports whether the unqualified attribute called local is set.
func (n *node) hasAttr(local string) bool {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return true
		}
	}
	return false
}

// is reports whether n is the element {space}local.
func (n *node) is(space, local string) bool {
	return n.name.Space == space && n.name.Local == local
}

// child returns the first child {space}local, or nil.
func (n *node) child(space, local string) *node {
	for _, c := range n.children {
		if c.is(space, local) {
			return c
		}
	}
	return nil
}

// resolveQName resolves a QName value ("tns:LogCall", "LogCall") with the
// prefixes in force at n. An unprefixed name takes the default namespace.
func (n *node) resolveQName(value string) (xml.Name, error) {
	value = strings.TrimSpace(value)
	prefix, local, found := strings.Cut(value, ":")
	if !found {
		return xml.Name{Space: n.scope[""], Local: value}, nil
	}
	if prefix == "xml" {
		return xml.Name{Space: nsXML, Local: local}, nil
	}
	space, ok := n.scope[prefix]
	if !ok {
		return xml.Name{}, fmt.Errorf("undeclared namespace prefix %q in %q", prefix, value)
	}
	return xml.Name{Space: space, Local: local}, nil
}

// passThroughCharset lets the decoder accept any declared encoding. It is
// used on documents that toUTF8 has already converted.
func passThroughCharset(_ string, input io.Reader) (io.Reader, error) { return input, nil }

// newDecoder returns a strict decoder for a UTF-8 document.
func newDecoder(doc []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	d.CharsetReader = passThroughCharset
	return d
}

// parseTree parses a UTF-8 document into a tree of elements. Text and
// comments are dropped: WSDL and schema documents carry their meaning in
// elements and attributes.
func parseTree(doc []byte) (*node, error) {
	d := newDecoder(doc)
	var (
		root  *node
		stack []*node
		count int
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("invalid XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > maxNodes {
				return nil, fmt.Errorf("document has more than %d elements", maxNodes)
			}
			parentScope := map[string]string{}
			if len(stack) > 0 {
				parentScope = stack[len(stack)-1].scope
			}
			n := &node{name: t.Name, scope: scopeOf(parentScope, t.Attr)}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				n.attrs = append(n.attrs, a)
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("invalid XML: more than one root element")
				}
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if root == nil {
		return nil, errors.New("invalid XML: no root element")
	}
	return root, nil
}

// scopeOf returns the prefixes in force at an element with attrs whose
// parent had parent. The parent's map is shared when the element declares
// nothing new.
func scopeOf(parent map[string]string, attrs []xml.Attr) map[string]string {
	var scope map[string]string
	for _, a := range attrs {
		var prefix string
		switch {
		case a.Name.Space == "xmlns":
			prefix = a.Name.Local
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			prefix = ""
		default:
			continue
		}
		if scope == nil {
			scope = make(map[string]string, len(parent)+1)
			for k, v := range parent {
				scope[k] = v
			}
		}
		scope[prefix] = a.Value
	}
	if scope == nil {
		return parent
	}
	return scope
}
