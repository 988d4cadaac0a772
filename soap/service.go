package soap

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
)

// The SOAP versions, as operators write them in soap_version.
const (
	Version11 = "1.1"
	Version12 = "1.2"
)

// Service is a parsed WSDL: the operations it binds to SOAP 1.1 or 1.2.
// A Service is never changed after Load returns it, so it is safe for
// concurrent use.
type Service struct {
	location   string
	operations []*Operation
}

// Operation is one operation of a WSDL with a SOAP 1.1 or 1.2 binding.
type Operation struct {
	Name string
	// Versions lists the SOAP versions, "1.1" and "1.2", that a port of the
	// WSDL binds the operation to, in that order.
	Versions []string
	// Action maps a version to the soapAction of its binding, which may be
	// empty.
	Action map[string]string
	// Address maps a version to the endpoint of the first port with that
	// version.
	Address map[string]string
	// Element is the global element that wraps the input: the only child
	// of the SOAP Body. It is zero for an operation with an empty input.
	Element xml.Name
	// Input lists the members of Element in schema order.
	Input []Element

	// inputErr is the reason the input could not be read from the schema.
	inputErr error
	// unsupported maps a version to the reason its binding cannot be called.
	unsupported map[string]error
}

// Err returns why the operation cannot be called over version, or nil.
func (op *Operation) Err(version string) error {
	if op.inputErr != nil {
		return op.inputErr
	}
	return op.unsupported[version]
}

// Location returns the location the WSDL was loaded from.
func (s *Service) Location() string { return s.location }

// Operations returns a copy of the operations, in the order the WSDL's
// ports and bindings list them.
func (s *Service) Operations() []Operation {
	out := make([]Operation, len(s.operations))
	for i, op := range s.operations {
		out[i] = op.clone()
	}
	return out
}

func (op *Operation) clone() Operation {
	c := *op
	c.Versions = append([]string(nil), op.Versions...)
	c.Action = copyMap(op.Action)
	c.Address = copyMap(op.Address)
	c.Input = cloneElements(op.Input)
	c.unsupported = make(map[string]error, len(op.unsupported))
	for k, v := range op.unsupported {
		c.unsupported[k] = v
	}
	return c
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func cloneElements(in []Element) []Element {
	if in == nil {
		return nil
	}
	out := make([]Element, len(in))
	for i, e := range in {
		out[i] = e
		out[i].Children = cloneElements(e.Children)
	}
	return out
}

// operation returns the operation called name, or an error that lists the
// operations the WSDL has.
func (s *Service) operation(name string) (*Operation, error) {
	for _, op := range s.operations {
		if op.Name == name {
			return op, nil
		}
	}
	names := make([]string, len(s.operations))
	for i, op := range s.operations {
		names[i] = op.Name
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("soap method %q not found: the WSDL %s binds no operation to SOAP 1.1 or 1.2", name, s.location)
	}
	return nil, fmt.Errorf("soap method %q not found in the WSDL %s: set method to one of %s",
		name, s.location, strings.Join(names, ", "))
}

// normalizeVersion maps the empty version to the default, 1.1.
func normalizeVersion(version string) (string, error) {
	switch version {
	case "", Version11:
		return Version11, nil
	case Version12:
		return Version12, nil
	}
	return "", fmt.Errorf("invalid soap_version %q: use \"1.1\" or \"1.2\"", version)
}

// lookup returns the operation called method with a binding for version.
func (s *Service) lookup(method, version string) (*Operation, string, error) {
	v, err := normalizeVersion(version)
	if err != nil {
		return nil, "", err
	}
	op, err := s.operation(method)
	if err != nil {
		return nil, "", err
	}
	if _, ok := op.Address[v]; !ok {
		return nil, "", fmt.Errorf("soap method %q has no SOAP %s binding in the WSDL: set soap_version to %s",
			method, v, quoteJoin(op.Versions, " or "))
	}
	if err := op.Err(v); err != nil {
		return nil, "", fmt.Errorf("soap method %q cannot be called over SOAP %s: %w", method, v, err)
	}
	return op, v, nil
}

func quoteJoin(items []string, sep string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, sep)
}

// Check reports whether parameters called paramNames can call method over
// SOAP version. The method must exist and have a binding for the version.
// Every name must address an element of the input, a nested element by a
// dotted path such as "routing.queue", and every required element must
// have a parameter. An empty version means "1.1". All problems with the
// parameters are joined in the error, each naming its fix.
func (s *Service) Check(method, version string, paramNames []string) error {
	op, _, err := s.lookup(method, version)
	if err != nil {
		return err
	}
	params := make([]fieldValue, len(paramNames))
	for i, name := range paramNames {
		params[i] = fieldValue{name: name, value: "x"}
	}
	_, err = bindParams(op, params)
	return err
}

// newService builds a Service from the parsed documents of a WSDL.
func newService(location string, docs []*document) (*Service, error) {
	w := collectWSDL(docs)
	if len(w.ports) == 0 {
		return nil, &LoadError{Location: location, Err: errors.New("the WSDL has no wsdl:service port: postcall needs the endpoint address from a port")}
	}
	schemas := newSchemaSet(docs)
	s := &Service{location: location}
	byName := map[string]*Operation{}

	for _, p := range w.ports {
		b, version, ok := w.soapBinding(p)
		if !ok {
			continue
		}
		address := portAddress(p)
		pt := w.portTypeOf(b)
		style := bindingStyle(b, version)

		for _, bop := range b.children {
			if !bop.is(nsWSDL, "operation") {
				continue
			}
			name := bop.attr("name")
			op := byName[name]
			if op == nil {
				op = &Operation{Name: name, Action: map[string]string{}, Address: map[string]string{}, unsupported: map[string]error{}}
				w.readInput(op, pt, schemas)
				byName[name] = op
				s.operations = append(s.operations, op)
			}
			if _, done := op.Address[version]; done {
				continue
			}
			op.Address[version] = address
			op.Action[version] = operationAction(bop, version)
			if err := checkStyle(bop, version, style); err != nil {
				op.unsupported[version] = err
			}
		}
	}

	for _, op := range s.operations {
		for _, v := range []string{Version11, Version12} {
			if _, ok := op.Address[v]; ok {
				op.Versions = append(op.Versions, v)
			}
		}
	}
	return s, nil
}

// wsdlParts holds the WSDL 1.1 components of all documents, keyed by
// qualified name; the first definition of a name wins.
type wsdlParts struct {
	messages  map[xml.Name]*node
	portTypes map[xml.Name]*node
	bindings  map[xml.Name]*node
	ports     []*node
}

func collectWSDL(docs []*document) *wsdlParts {
	w := &wsdlParts{
		messages:  map[xml.Name]*node{},
		portTypes: map[xml.Name]*node{},
		bindings:  map[xml.Name]*node{},
	}
	for _, doc := range docs {
		if !doc.root.is(nsWSDL, "definitions") {
			continue
		}
		tns := doc.root.attr("targetNamespace")
		for _, c := range doc.root.children {
			key := xml.Name{Space: tns, Local: c.attr("name")}
			switch {
			case c.is(nsWSDL, "message"):
				addFirst(w.messages, key, c)
			case c.is(nsWSDL, "portType"):
				addFirst(w.portTypes, key, c)
			case c.is(nsWSDL, "binding"):
				addFirst(w.bindings, key, c)
			case c.is(nsWSDL, "service"):
				for _, p := range c.children {
					if p.is(nsWSDL, "port") {
						w.ports = append(w.ports, p)
					}
				}
			}
		}
	}
	return w
}

func addFirst(m map[xml.Name]*node, key xml.Name, n *node) {
	if _, ok := m[key]; !ok {
		m[key] = n
	}
}

// soapBinding returns the binding of port p and its SOAP version, or false
// when the binding is missing or not a SOAP binding (HTTP GET/POST).
func (w *wsdlParts) soapBinding(p *node) (*node, string, bool) {
	q, err := p.resolveQName(p.attr("binding"))
	if err != nil {
		return nil, "", false
	}
	b := w.bindings[q]
	if b == nil {
		return nil, "", false
	}
	switch {
	case b.child(nsSOAP11, "binding") != nil:
		return b, Version11, true
	case b.child(nsSOAP12, "binding") != nil:
		return b, Version12, true
	}
	return nil, "", false
}

func (w *wsdlParts) portTypeOf(b *node) *node {
	q, err := b.resolveQName(b.attr("type"))
	if err != nil {
		return nil
	}
	return w.portTypes[q]
}

func bindingNamespace(version string) string {
	if version == Version12 {
		return nsSOAP12
	}
	return nsSOAP11
}

func portAddress(p *node) string {
	for _, ns := range []string{nsSOAP11, nsSOAP12} {
		if a := p.child(ns, "address"); a != nil {
			return strings.TrimSpace(a.attr("location"))
		}
	}
	return ""
}

func bindingStyle(b *node, version string) string {
	if sb := b.child(bindingNamespace(version), "binding"); sb != nil && sb.attr("style") != "" {
		return sb.attr("style")
	}
	return "document"
}

func operationAction(bop *node, version string) string {
	if so := bop.child(bindingNamespace(version), "operation"); so != nil {
		return strings.TrimSpace(so.attr("soapAction"))
	}
	return ""
}

// checkStyle rejects the bindings this package cannot build a body for:
// rpc style and encoded use.
func checkStyle(bop *node, version, bindingStyle string) error {
	ns := bindingNamespace(version)
	style := bindingStyle
	if so := bop.child(ns, "operation"); so != nil && so.attr("style") != "" {
		style = so.attr("style")
	}
	if style != "document" {
		return fmt.Errorf("the binding uses %s style, but postcall sends only document/literal: ask the service for a document/literal binding", style)
	}
	if in := bop.child(nsWSDL, "input"); in != nil {
		if body := in.child(ns, "body"); body != nil && body.attr("use") == "encoded" {
			return errors.New("the binding uses SOAP encoding (use=\"encoded\"), but postcall sends only literal bodies: ask the service for a document/literal binding")
		}
	}
	return nil
}

// readInput fills the input element of op from its portType operation.
func (w *wsdlParts) readInput(op *Operation, pt *node, schemas *schemaSet) {
	if pt == nil {
		op.inputErr = fmt.Errorf("portType of operation %q not found in the WSDL", op.Name)
		return
	}
	var ptOp *node
	for _, c := range pt.children {
		if c.is(nsWSDL, "operation") && c.attr("name") == op.Name {
			ptOp = c
			break
		}
	}
	if ptOp == nil {
		op.inputErr = fmt.Errorf("operation %q is bound but missing from its portType", op.Name)
		return
	}
	in := ptOp.child(nsWSDL, "input")
	if in == nil {
		op.inputErr = fmt.Errorf("operation %q has no input message", op.Name)
		return
	}
	mq, err := in.resolveQName(in.attr("message"))
	if err != nil {
		op.inputErr = fmt.Errorf("input of operation %q: %w", op.Name, err)
		return
	}
	msg := w.messages[mq]
	if msg == nil {
		op.inputErr = fmt.Errorf("input message {%s}%s of operation %q not found in the WSDL", mq.Space, mq.Local, op.Name)
		return
	}

	var parts []*node
	for _, c := range msg.children {
		if c.is(nsWSDL, "part") {
			parts = append(parts, c)
		}
	}
	switch {
	case len(parts) == 0:
		return
	case len(parts) > 1:
		op.inputErr = fmt.Errorf("input message of operation %q has %d parts, but postcall sends only document/literal wrapped messages with one part", op.Name, len(parts))
		return
	case parts[0].attr("element") == "":
		op.inputErr = fmt.Errorf("input part of operation %q names a type, not an element (rpc style): postcall sends only document/literal wrapped messages", op.Name)
		return
	}

	eq, err := parts[0].resolveQName(parts[0].attr("element"))
	if err != nil {
		op.inputErr = fmt.Errorf("input part of operation %q: %w", op.Name, err)
		return
	}
	wrapper, err := newResolver(schemas).globalElement(eq)
	if err != nil {
		op.inputErr = fmt.Errorf("input of operation %q: %w", op.Name, err)
		return
	}
	op.Element = eq
	op.Input = wrapper.Children
}
