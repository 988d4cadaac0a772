package soap

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteOperations prints the operations of s for an operator choosing a
// method. Each comes with the SOAP versions it is bound to and the action
// and address per version. Its input elements follow in schema order, under
// the parameter names that address them, with their types and whether they
// are optional or may repeat.
func WriteOperations(w io.Writer, s *Service) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "WSDL %s\n", s.Location())
	if len(s.operations) == 0 {
		fmt.Fprintln(tw, "no operation is bound to SOAP 1.1 or 1.2")
	}
	for _, op := range s.operations {
		versions := make([]string, len(op.Versions))
		for i, v := range op.Versions {
			versions[i] = "SOAP " + v
		}
		fmt.Fprintf(tw, "\n%s (%s)\n", op.Name, strings.Join(versions, ", "))
		for _, v := range op.Versions {
			fmt.Fprintf(tw, "  SOAP %s: action %q, address %s\n", v, op.Action[v], op.Address[v])
			if err := op.unsupported[v]; err != nil {
				fmt.Fprintf(tw, "  SOAP %s cannot be used: %v\n", v, err)
			}
		}
		if op.inputErr != nil {
			fmt.Fprintf(tw, "  cannot be used: %v\n", op.inputErr)
			continue
		}
		if op.Element.Local == "" {
			fmt.Fprintln(tw, "  input: empty")
			continue
		}
		fmt.Fprintf(tw, "  input {%s}%s, parameters in schema order:\n", op.Element.Space, op.Element.Local)
		if len(op.Input) == 0 {
			fmt.Fprintln(tw, "    (none)")
		}
		writeElements(tw, op.Input, "")
	}
	return tw.Flush()
}

func writeElements(w io.Writer, elements []Element, prefix string) {
	for _, el := range elements {
		name := prefix + el.Name
		typ := el.Type
		if len(el.Children) > 0 {
			typ = "complex"
			if el.Type != "" {
				typ = "complex " + el.Type
			}
		}
		var marks []string
		if el.Optional {
			marks = append(marks, "optional")
		}
		if el.Repeated {
			marks = append(marks, "repeated")
		}
		// The last cell of a line is left unterminated so that tabwriter
		// adds no trailing padding.
		if len(marks) > 0 {
			fmt.Fprintf(w, "    %s\t%s\t%s\n", name, typ, strings.Join(marks, ", "))
		} else {
			fmt.Fprintf(w, "    %s\t%s\n", name, typ)
		}
		if len(el.Children) > 0 {
			writeElements(w, el.Children, name+".")
		}
	}
}
