// Package soap calls SOAP 1.1 and 1.2 webservices described by a WSDL 1.1
// document: it reads the WSDL and the schemas it imports, lists the
// operations and their inputs, checks an application's parameters against
// an operation, builds the envelope, sends it, and classifies the reply,
// SOAP faults included.
//
// It sends document/literal wrapped requests only: the Body holds the
// operation's global input element, whose members follow the schema's
// sequence order and namespace rules whatever the order of the
// parameters. A nested member is addressed by a dotted parameter name
// ("routing.queue").
//
// The package keeps no mutable state at package level. It never follows a
// redirect for a request, and it never reads more of a document or reply
// than its limits allow. It never writes a private application's envelope,
// values or reply into a log line or an error.
package soap
