package soap

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// Element is one element of an operation's input, as the schema declares
// it.
type Element struct {
	// Name is the element's local name.
	Name string
	// Namespace is the element's namespace, empty for an unqualified
	// local element.
	Namespace string
	// Type is the local name of the element's type ("string", "int",
	// "dateTime", or a named type of the schema); empty for an anonymous
	// complex type.
	Type string
	// Optional is set when the element may be left out (minOccurs="0", or
	// a member of an xsd:choice or of an optional group).
	Optional bool
	// Repeated is set when the element may occur more than once.
	Repeated bool
	// Children are the members of a complex element, in schema order:
	// members inherited through xsd:extension come first.
	Children []Element
}

// Limits that keep a hostile or broken schema from growing without end.
const (
	maxSchemaDepth    = 32
	maxInputElements  = 5000
	defaultSimpleType = "anyType"
)

// schemaContext is the part of a schema that its definitions depend on.
type schemaContext struct {
	tns       string
	qualified bool // elementFormDefault="qualified"
	// chameleon is set for an included schema without a targetNamespace:
	// its unqualified QNames mean the including schema's namespace.
	chameleon bool
}

// definition is a global schema component and the schema it was found in.
type definition struct {
	n   *node
	ctx *schemaContext
}

// schemaSet holds the global components of every schema of a WSDL, keyed
// by qualified name. The first definition of a name wins.
type schemaSet struct {
	elements     map[xml.Name]definition
	complexTypes map[xml.Name]definition
	simpleTypes  map[xml.Name]definition
	groups       map[xml.Name]definition
}

func newSchemaSet(docs []*document) *schemaSet {
	set := &schemaSet{
		elements:     map[xml.Name]definition{},
		complexTypes: map[xml.Name]definition{},
		simpleTypes:  map[xml.Name]definition{},
		groups:       map[xml.Name]definition{},
	}
	for _, doc := range docs {
		for _, s := range schemasOf(doc) {
			ctx := &schemaContext{
				tns:       schemaNamespace(s, doc.src.chameleon),
				qualified: s.attr("elementFormDefault") == "qualified",
				chameleon: !s.hasAttr("targetNamespace") && doc.src.chameleon != "",
			}
			set.add(s, ctx)
		}
	}
	return set
}

// schemasOf returns the xsd:schema elements of a document.
func schemasOf(doc *document) []*node {
	if doc.root.is(nsXSD, "schema") {
		return []*node{doc.root}
	}
	var out []*node
	if types := doc.root.child(nsWSDL, "types"); types != nil {
		for _, c := range types.children {
			if c.is(nsXSD, "schema") {
				out = append(out, c)
			}
		}
	}
	return out
}

func (set *schemaSet) add(s *node, ctx *schemaContext) {
	for _, c := range s.children {
		name := c.attr("name")
		if name == "" || c.name.Space != nsXSD {
			continue
		}
		var table map[xml.Name]definition
		switch c.name.Local {
		case "element":
			table = set.elements
		case "complexType":
			table = set.complexTypes
		case "simpleType":
			table = set.simpleTypes
		case "group":
			table = set.groups
		default:
			continue
		}
		key := xml.Name{Space: ctx.tns, Local: name}
		if _, dup := table[key]; !dup {
			table[key] = definition{n: c, ctx: ctx}
		}
	}
}

// qname resolves a QName attribute value of n, found in a schema with ctx.
func (ctx *schemaContext) qname(n *node, value string) (xml.Name, error) {
	q, err := n.resolveQName(value)
	if err != nil {
		return q, err
	}
	if q.Space == "" && ctx.chameleon {
		q.Space = ctx.tns
	}
	return q, nil
}

// resolver expands schema declarations into Element trees.
type resolver struct {
	set *schemaSet
	// expanding holds the named types on the current path, so a recursive
	// type stops instead of looping.
	expanding map[xml.Name]bool
	depth     int
	count     int
}

func newResolver(set *schemaSet) *resolver {
	return &resolver{set: set, expanding: map[xml.Name]bool{}}
}

// globalElement expands the global element q, the wrapper of an input.
func (r *resolver) globalElement(q xml.Name) (Element, error) {
	def, ok := r.set.elements[q]
	if !ok {
		return Element{}, fmt.Errorf("element {%s}%s not found in the WSDL or the schemas it imports", q.Space, q.Local)
	}
	el := Element{Name: q.Local, Namespace: q.Space}
	if err := r.content(&el, def.n, def.ctx); err != nil {
		return Element{}, err
	}
	return el, nil
}

// content fills the type and children of el from its declaration n.
func (r *resolver) content(el *Element, n *node, ctx *schemaContext) error {
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > maxSchemaDepth {
		return fmt.Errorf("schema nests elements more than %d levels deep at %s", maxSchemaDepth, el.Name)
	}

	if t := n.attr("type"); t != "" {
		q, err := ctx.qname(n, t)
		if err != nil {
			return fmt.Errorf("element %s: %w", el.Name, err)
		}
		return r.namedType(el, q)
	}
	if ct := n.child(nsXSD, "complexType"); ct != nil {
		children, simple, err := r.complexType(ct, ctx)
		el.Children, el.Type = children, simple
		return err
	}
	if st := n.child(nsXSD, "simpleType"); st != nil {
		el.Type = simpleTypeName(st, ctx)
		return nil
	}
	el.Type = defaultSimpleType
	return nil
}

// namedType fills el from the named type q.
func (r *resolver) namedType(el *Element, q xml.Name) error {
	el.Type = q.Local
	if q.Space == nsXSD {
		return nil
	}
	if def, ok := r.set.complexTypes[q]; ok {
		if r.expanding[q] {
			// NOTE: a recursive type is expanded once; its inner
			// occurrence is a leaf that parameters cannot address.
			return nil
		}
		r.expanding[q] = true
		defer delete(r.expanding, q)
		children, simple, err := r.complexType(def.n, def.ctx)
		el.Children = children
		if simple != "" {
			el.Type = simple
		}
		return err
	}
	// A simple type, or a type from a schema imported without a location:
	// either way the element carries text.
	return nil
}

// complexType returns the child elements of complex type ct, or, for a
// type with simple content, the name of the simple type of its text.
func (r *resolver) complexType(ct *node, ctx *schemaContext) ([]Element, string, error) {
	var out []Element
	for _, c := range ct.children {
		if c.name.Space != nsXSD {
			continue
		}
		switch c.name.Local {
		case "sequence", "all", "choice", "group":
			if err := r.particle(c, ctx, false, false, &out); err != nil {
				return nil, "", err
			}
		case "complexContent":
			children, err := r.complexContent(c, ctx)
			if err != nil {
				return nil, "", err
			}
			out = append(out, children...)
		case "simpleContent":
			return nil, simpleContentType(c, ctx), nil
		}
	}
	return out, "", nil
}

// complexContent expands xsd:complexContent: the members of an extension's
// base type come first, then the extension's own; a restriction lists all
// its members itself.
func (r *resolver) complexContent(cc *node, ctx *schemaContext) ([]Element, error) {
	var out []Element
	for _, d := range cc.children {
		if !d.is(nsXSD, "extension") && !d.is(nsXSD, "restriction") {
			continue
		}
		if d.is(nsXSD, "extension") && d.attr("base") != "" {
			base, err := ctx.qname(d, d.attr("base"))
			if err != nil {
				return nil, err
			}
			inherited, err := r.baseMembers(base)
			if err != nil {
				return nil, err
			}
			out = append(out, inherited...)
		}
		for _, c := range d.children {
			if c.name.Space != nsXSD {
				continue
			}
			switch c.name.Local {
			case "sequence", "all", "choice", "group":
				if err := r.particle(c, ctx, false, false, &out); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// baseMembers returns the members of base type q, its own bases first.
func (r *resolver) baseMembers(q xml.Name) ([]Element, error) {
	if q.Space == nsXSD {
		return nil, nil
	}
	def, ok := r.set.complexTypes[q]
	if !ok {
		return nil, fmt.Errorf("base type {%s}%s not found in the WSDL or the schemas it imports", q.Space, q.Local)
	}
	if r.expanding[q] {
		return nil, fmt.Errorf("type {%s}%s extends itself", q.Space, q.Local)
	}
	r.expanding[q] = true
	defer delete(r.expanding, q)
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > maxSchemaDepth {
		return nil, fmt.Errorf("xsd:extension chain longer than %d types at {%s}%s", maxSchemaDepth, q.Space, q.Local)
	}
	children, _, err := r.complexType(def.n, def.ctx)
	return children, err
}

// particle appends the elements of a sequence, all, choice or group
// reference p. optional and repeated come from the enclosing particles.
func (r *resolver) particle(p *node, ctx *schemaContext, optional, repeated bool, out *[]Element) error {
	optional = optional || p.attr("minOccurs") == "0"
	repeated = repeated || isRepeated(p)

	if p.is(nsXSD, "group") {
		q, err := ctx.qname(p, p.attr("ref"))
		if err != nil {
			return err
		}
		def, ok := r.set.groups[q]
		if !ok {
			return fmt.Errorf("group {%s}%s not found in the WSDL or the schemas it imports", q.Space, q.Local)
		}
		for _, c := range def.n.children {
			if c.is(nsXSD, "sequence") || c.is(nsXSD, "all") || c.is(nsXSD, "choice") {
				if err := r.particle(c, def.ctx, optional, repeated, out); err != nil {
					return err
				}
			}
		}
		return nil
	}

	memberOptional := optional || p.is(nsXSD, "choice")
	for _, c := range p.children {
		if c.name.Space != nsXSD {
			continue
		}
		switch c.name.Local {
		case "element":
			el, err := r.localElement(c, ctx)
			if err != nil {
				return err
			}
			el.Optional = el.Optional || memberOptional
			el.Repeated = el.Repeated || repeated
			*out = append(*out, el)
		case "sequence", "all", "choice", "group":
			if err := r.particle(c, ctx, memberOptional, repeated, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// localElement expands an element declared inside a type: a local
// declaration or a reference to a global element.
func (r *resolver) localElement(n *node, ctx *schemaContext) (Element, error) {
	r.count++
	if r.count > maxInputElements {
		return Element{}, fmt.Errorf("input has more than %d elements", maxInputElements)
	}
	el := Element{Optional: n.attr("minOccurs") == "0", Repeated: isRepeated(n)}

	if ref := n.attr("ref"); ref != "" {
		q, err := ctx.qname(n, ref)
		if err != nil {
			return Element{}, err
		}
		def, ok := r.set.elements[q]
		if !ok {
			return Element{}, fmt.Errorf("element {%s}%s not found in the WSDL or the schemas it imports", q.Space, q.Local)
		}
		el.Name, el.Namespace = q.Local, q.Space
		return el, r.content(&el, def.n, def.ctx)
	}

	el.Name = n.attr("name")
	if el.Name == "" {
		return Element{}, fmt.Errorf("schema of %s has an element with neither name nor ref", ctx.tns)
	}
	switch n.attr("form") {
	case "qualified":
		el.Namespace = ctx.tns
	case "unqualified":
	default:
		if ctx.qualified {
			el.Namespace = ctx.tns
		}
	}
	return el, r.content(&el, n, ctx)
}

func isRepeated(n *node) bool {
	m := strings.TrimSpace(n.attr("maxOccurs"))
	return m != "" && m != "0" && m != "1"
}

// simpleTypeName names the type of an inline xsd:simpleType by its
// restriction base, for listing.
func simpleTypeName(st *node, ctx *schemaContext) string {
	if rs := st.child(nsXSD, "restriction"); rs != nil && rs.attr("base") != "" {
		if q, err := ctx.qname(rs, rs.attr("base")); err == nil {
			return q.Local
		}
	}
	if st.child(nsXSD, "list") != nil {
		return "list"
	}
	if st.child(nsXSD, "union") != nil {
		return "union"
	}
	return defaultSimpleType
}

func simpleContentType(sc *node, ctx *schemaContext) string {
	for _, d := range sc.children {
		if (d.is(nsXSD, "extension") || d.is(nsXSD, "restriction")) && d.attr("base") != "" {
			if q, err := ctx.qname(d, d.attr("base")); err == nil {
				return q.Local
			}
		}
	}
	return defaultSimpleType
}
