// Package render fills {{name}} placeholders in request templates with the
// variables of one call, escaping every value for the place it lands in.
//
// A template is text with placeholders and nothing else: no conditions, no
// loops, no filters. Text outside placeholders is kept byte for byte. The
// operator never chooses an escaping. The caller picks the Escaper for the
// place the template is used: a URL path segment, a query value, a header
// value, or a JSON, XML or plain-text body. So a value from the caller can
// never end a header, add a query parameter, leave its path segment, change
// the destination host or break the syntax of a body.
//
// The package must never evaluate anything found in a value, and it has no
// package-level mutable state.
//
// Choices worth knowing:
//
//   - Each byte of invalid UTF-8 in a value becomes U+FFFD, in every context.
//   - JSON string escaping writes \" \\ \n \r \t \b \f, \u00XX for the other
//     control characters, and \u2028 and \u2029 so that the text is also a
//     valid JavaScript string. It leaves <, > and & literal, because the body
//     goes to a webservice, not into an HTML page.
//   - XML escaping writes &amp; &lt; &gt; &quot; &apos;, writes tab, line
//     feed and carriage return as character references so that they survive
//     attribute and line-end normalization, and removes the characters XML
//     1.0 forbids.
//   - Header escaping turns every control character except tab into a
//     space, so CR, LF and NUL can never split a header.
//   - In a URL path segment, a value made only of dots is written as %2E
//     escapes, so that "." or ".." cannot climb out of the configured path.
package render
