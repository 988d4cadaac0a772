package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Fault is a SOAP fault that a webservice returned, SOAP 1.1 or 1.2.
type Fault struct {
	// Version is "1.1" or "1.2", from the envelope namespace of the reply.
	Version string
	// HTTPStatus is the status the fault came with (500 for SOAP 1.1
	// faults, though some servers send 200).
	HTTPStatus int
	// Code is the fault code: the local name for the codes SOAP defines
	// ("Client", "Server", "Sender", "Receiver", "Client.Auth"), else
	// "{namespace}local".
	Code string
	// Subcode is the SOAP 1.2 Subcode/Value chain, outermost first, each
	// as "{namespace}local" (or the local name when it has no namespace).
	Subcode []string
	// Reason is the faultstring (1.1), or the Reason/Text in English, or
	// else the first Text (1.2).
	Reason string
	// Actor is the faultactor (1.1) or Role (1.2).
	Actor string
	// Node is the SOAP 1.2 Node, empty for 1.1.
	Node string
	// Detail is the content of the detail (1.1) or Detail (1.2) element,
	// as the XML text received.
	Detail string
	// Redacted is set when Reason and Detail were removed because the
	// application is private.
	Redacted bool
}

// Error prints the version, the code chain and the reason, for example
// "SOAP 1.2 fault Sender / {urn:example:calllog}DuplicateCall: Call 42
// already logged". The detail is not part of it.
func (f *Fault) Error() string {
	var b strings.Builder
	b.WriteString("SOAP " + f.Version + " fault ")
	if f.Code == "" {
		b.WriteString("(no code)")
	} else {
		b.WriteString(f.Code)
	}
	for _, s := range f.Subcode {
		b.WriteString(" / " + s)
	}
	switch {
	case f.Redacted:
		b.WriteString(" (reason and detail hidden: private application)")
	case f.Reason != "":
		b.WriteString(": " + f.Reason)
	}
	return b.String()
}

// Permanent reports whether repeating the request cannot succeed: the
// fault blames the request (Client, Sender, VersionMismatch,
// MustUnderstand, DataEncodingUnknown, or a dotted form such as
// "Client.Authentication"). Server, Receiver and unknown codes are worth a
// retry.
func (f *Fault) Permanent() bool {
	local := f.Code
	if i := strings.LastIndexByte(local, '}'); i >= 0 {
		local = local[i+1:]
	}
	// A prefix that was not declared stays in the code ("soapenv:Server").
	if i := strings.LastIndexByte(local, ':'); i >= 0 {
		local = local[i+1:]
	}
	base, _, _ := strings.Cut(local, ".")
	switch base {
	case "Client", "Sender", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown":
		return true
	}
	return false
}

// redact returns a copy without the reason and detail.
func (f *Fault) redact() *Fault {
	c := *f
	c.Reason, c.Detail, c.Actor, c.Node = "", "", "", ""
	c.Redacted = true
	return &c
}

// errNotEnvelope marks a reply that is not a SOAP envelope.
var errNotEnvelope = errors.New("not a SOAP envelope")

// parseReply reads a SOAP reply (UTF-8) and returns the fault in its Body,
// or nil when the Body contains anything else. When truncated is set, body
// is only the start of the reply, and a reply cut after the Body's first
// child started still counts as an envelope. An error wraps errNotEnvelope.
func parseReply(body []byte, truncated bool) (*Fault, error) {
	d := &scopedDecoder{d: newDecoder(body), src: body}
	root, err := d.nextStart()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotEnvelope, err)
	}
	version := envelopeVersion(root.Name.Space)
	if root.Name.Local != "Envelope" || version == "" {
		return nil, fmt.Errorf("%w: the root element is {%s}%s", errNotEnvelope, root.Name.Space, root.Name.Local)
	}
	env := root.Name.Space

	for {
		tok, err := d.token()
		if err != nil {
			return nil, fmt.Errorf("%w: no Body: %v", errNotEnvelope, err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			if _, end := tok.(xml.EndElement); end {
				return nil, fmt.Errorf("%w: no Body", errNotEnvelope)
			}
			continue
		}
		if start.Name.Space != env || start.Name.Local != "Body" {
			if err := d.skip(); err != nil {
				return nil, fmt.Errorf("%w: %v", errNotEnvelope, err)
			}
			continue
		}
		return d.bodyFault(env, version, truncated)
	}
}

// bodyFault inspects the first child of the Body.
func (d *scopedDecoder) bodyFault(env, version string, truncated bool) (*Fault, error) {
	for {
		tok, err := d.token()
		if err != nil {
			if truncated && errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, nil
			}
			return nil, fmt.Errorf("%w: invalid Body: %v", errNotEnvelope, err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil, nil
		case xml.StartElement:
			if t.Name.Space != env || t.Name.Local != "Fault" {
				return nil, nil
			}
			f := &Fault{Version: version}
			if version == Version12 {
				err = d.fault12(f, env)
			} else {
				err = d.fault11(f)
			}
			if err != nil && !(truncated && errors.Is(err, io.ErrUnexpectedEOF)) {
				return nil, fmt.Errorf("%w: invalid Fault: %v", errNotEnvelope, err)
			}
			f.Code = displayCode(f.Code, env)
			return f, nil
		}
	}
}

func envelopeVersion(ns string) string {
	switch ns {
	case envelope11:
		return Version11
	case envelope12:
		return Version12
	}
	return ""
}

// displayCode writes a resolved code "{ns}local" as the local name when
// ns is the envelope namespace or empty.
func displayCode(code, env string) string {
	if rest, ok := strings.CutPrefix(code, "{"+env+"}"); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(code, "{}"); ok {
		return rest
	}
	return code
}

// fault11 reads the children of a SOAP 1.1 Fault. The spec leaves them
// unqualified, but some servers qualify them, so only local names count.
func (d *scopedDecoder) fault11(f *Fault) error {
	for {
		tok, err := d.token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			switch t.Name.Local {
			case "faultcode":
				scope := d.scope()
				text, err := d.text()
				if err != nil {
					return err
				}
				f.Code = resolveCode(text, scope)
			case "faultstring":
				if f.Reason, err = d.text(); err != nil {
					return err
				}
			case "faultactor":
				if f.Actor, err = d.text(); err != nil {
					return err
				}
			case "detail":
				if f.Detail, err = d.innerXML(); err != nil {
					return err
				}
			default:
				if err := d.skip(); err != nil {
					return err
				}
			}
		}
	}
}

// fault12 reads the children of a SOAP 1.2 Fault.
func (d *scopedDecoder) fault12(f *Fault, env string) error {
	for {
		tok, err := d.token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if t.Name.Space != env {
				if err := d.skip(); err != nil {
					return err
				}
				continue
			}
			switch t.Name.Local {
			case "Code":
				err = d.code12(f, env, 0)
			case "Reason":
				f.Reason, err = d.reason12(env)
			case "Node":
				f.Node, err = d.text()
			case "Role":
				f.Actor, err = d.text()
			case "Detail":
				f.Detail, err = d.innerXML()
			default:
				err = d.skip()
			}
			if err != nil {
				return err
			}
		}
	}
}

// maxSubcodes bounds the Subcode chain that is kept.
const maxSubcodes = 8

// code12 reads a Code (level 0) or Subcode element: its Value and nested
// Subcode.
func (d *scopedDecoder) code12(f *Fault, env string, level int) error {
	for {
		tok, err := d.token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			switch {
			case t.Name.Space == env && t.Name.Local == "Value":
				scope := d.scope()
				text, err := d.text()
				if err != nil {
					return err
				}
				code := resolveCode(text, scope)
				if level == 0 {
					f.Code = code
				} else if len(f.Subcode) < maxSubcodes {
					f.Subcode = append(f.Subcode, displayCode(code, ""))
				}
			case t.Name.Space == env && t.Name.Local == "Subcode":
				if err := d.code12(f, env, level+1); err != nil {
					return err
				}
			default:
				if err := d.skip(); err != nil {
					return err
				}
			}
		}
	}
}

// reason12 returns the English Text of a Reason: xml:lang "en" first, then
// another English variant ("en-GB"), then the first Text.
func (d *scopedDecoder) reason12(env string) (string, error) {
	var first, english, exact string
	var haveFirst, haveEnglish, haveExact bool
	for {
		tok, err := d.token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			switch {
			case haveExact:
				return exact, nil
			case haveEnglish:
				return english, nil
			}
			return first, nil
		case xml.StartElement:
			if t.Name.Space != env || t.Name.Local != "Text" {
				if err := d.skip(); err != nil {
					return "", err
				}
				continue
			}
			lang := ""
			for _, a := range t.Attr {
				if a.Name.Space == nsXML && a.Name.Local == "lang" {
					lang = strings.ToLower(strings.TrimSpace(a.Value))
				}
			}
			text, err := d.text()
			if err != nil {
				return "", err
			}
			if !haveFirst {
				first, haveFirst = text, true
			}
			if lang == "en" && !haveExact {
				exact, haveExact = text, true
			}
			if strings.HasPrefix(lang, "en-") && !haveEnglish {
				english, haveEnglish = text, true
			}
		}
	}
}

// resolveCode resolves a QName fault code through the namespace
// declarations in force at its element, giving "{ns}local". A prefix that
// is not declared is kept as written.
func resolveCode(text string, scope map[string]string) string {
	text = strings.TrimSpace(text)
	prefix, local, found := strings.Cut(text, ":")
	if !found {
		return "{" + scope[""] + "}" + text
	}
	ns, ok := scope[prefix]
	if !ok {
		return text
	}
	return "{" + ns + "}" + local
}

// scopedDecoder tracks the namespace prefixes in force while it reads
// tokens, which resolving QName text such as "env:Sender" needs.
type scopedDecoder struct {
	d      *xml.Decoder
	src    []byte
	scopes []map[string]string
}

func (d *scopedDecoder) scope() map[string]string {
	if len(d.scopes) == 0 {
		return map[string]string{}
	}
	return d.scopes[len(d.scopes)-1]
}

func (d *scopedDecoder) token() (xml.Token, error) {
	tok, err := d.d.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		var syntax *xml.SyntaxError
		if errors.As(err, &syntax) && strings.Contains(syntax.Msg, "unexpected EOF") {
			err = fmt.Errorf("%w: %v", io.ErrUnexpectedEOF, syntax)
		}
		return nil, err
	}
	switch t := tok.(type) {
	case xml.StartElement:
		d.scopes = append(d.scopes, scopeOf(d.scope(), t.Attr))
	case xml.EndElement:
		d.scopes = d.scopes[:len(d.scopes)-1]
	}
	return tok, nil
}

// nextStart returns the first start element.
func (d *scopedDecoder) nextStart() (xml.StartElement, error) {
	for {
		tok, err := d.token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if s, ok := tok.(xml.StartElement); ok {
			return s, nil
		}
	}
}

// skip reads to the end of the element whose start was read last.
func (d *scopedDecoder) skip() error {
	for depth := 1; depth > 0; {
		tok, err := d.token()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return nil
}

// text returns the character data inside the element whose start was read
// last, nested elements included, trimmed.
func (d *scopedDecoder) text() (string, error) {
	var b strings.Builder
	for depth := 1; depth > 0; {
		tok, err := d.token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			b.Write(t)
		}
	}
	return strings.TrimSpace(b.String()), nil
}

// innerXML returns the source text between the start tag read last and its
// end tag, trimmed.
func (d *scopedDecoder) innerXML() (string, error) {
	from := d.d.InputOffset()
	to := from
	for depth := 1; depth > 0; {
		to = d.d.InputOffset()
		tok, err := d.token()
		if err != nil {
			return "", err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if from < 0 || to > int64(len(d.src)) || from > to {
		return "", nil
	}
	return string(bytes.TrimSpace(d.src[from:to])), nil
}
