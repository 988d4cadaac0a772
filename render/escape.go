package render

import (
	"mime"
	"strings"
	"unicode/utf8"
)

// Escaper appends value to dst, escaped for one context. Every Escaper in
// this package writes each byte of invalid UTF-8 in value as one U+FFFD,
// as a Go range loop over the string decodes it.
type Escaper func(dst []byte, value string) []byte

const upperHex = "0123456789ABCDEF"
const lowerHex = "0123456789abcdef"

// replacementChar is U+FFFD in UTF-8.
const replacementChar = "\uFFFD"

// EscapePlain appends value unchanged apart from invalid UTF-8.
func EscapePlain(dst []byte, value string) []byte {
	if utf8.ValidString(value) {
		return append(dst, value...)
	}
	for _, r := range value {
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// EscapePathSegment appends value as one URL path segment. It escapes the
// same bytes as url.PathEscape: everything except letters, digits and
// "-._~$&+:=@", so "/", "?", "#", "%", ";", "," and space are escaped.
// A value made only of dots is written as %2E escapes, so that it can never
// be read as the "." or ".." segment.
func EscapePathSegment(dst []byte, value string) []byte {
	if value != "" && strings.Trim(value, ".") == "" {
		for range len(value) {
			dst = append(dst, "%2E"...)
		}
		return dst
	}
	return percentEncode(dst, value, keepInPathSegment, false)
}

// EscapeQuery appends value as a query or form component in the
// application/x-www-form-urlencoded format, as url.QueryEscape does: space
// becomes "+", and everything except letters, digits and "-._~" is
// percent-encoded, so a "+" reaches the server as "%2B".
func EscapeQuery(dst []byte, value string) []byte {
	return percentEncode(dst, value, keepInQuery, true)
}

func keepInQuery(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func keepInPathSegment(c byte) bool {
	if keepInQuery(c) {
		return true
	}
	switch c {
	case '$', '&', '+', ':', '=', '@':
		return true
	}
	return false
}

func percentEncode(dst []byte, value string, keep func(byte) bool, spaceAsPlus bool) []byte {
	for i := 0; i < len(value); {
		c := value[i]
		if c < utf8.RuneSelf {
			switch {
			case keep(c):
				dst = append(dst, c)
			case c == ' ' && spaceAsPlus:
				dst = append(dst, '+')
			default:
				dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
			}
			i++
			continue
		}

		r, size := utf8.DecodeRuneInString(value[i:])
		encoded := value[i : i+size]
		if r == utf8.RuneError && size == 1 {
			encoded = replacementChar
		}
		for j := 0; j < len(encoded); j++ {
			b := encoded[j]
			dst = append(dst, '%', upperHex[b>>4], upperHex[b&15])
		}
		i += size
	}
	return dst
}

// EscapeHeader appends value for use as an HTTP header value: every control
// character except tab (CR, LF and NUL included) and DEL become a space, so
// a value can never end its header or add another. Go's HTTP client accepts
// every value this returns.
func EscapeHeader(dst []byte, value string) []byte {
	for i := 0; i < len(value); {
		c := value[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				c = ' '
			}
			dst = append(dst, c)
			i++
			continue
		}

		r, size := utf8.DecodeRuneInString(value[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, replacementChar...)
		} else {
			dst = append(dst, value[i:i+size]...)
		}
		i += size
	}
	return dst
}

// EscapeJSON appends value as the content of a JSON string, without the
// quotes. It escapes '"', '\\' and every control character, and U+2028 and
// U+2029 so the result is also valid JavaScript. It leaves '<', '>' and '&'
// literal.
func EscapeJSON(dst []byte, value string) []byte {
	for i := 0; i < len(value); {
		c := value[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\b':
				dst = append(dst, '\\', 'b')
			case c == '\f':
				dst = append(dst, '\\', 'f')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}

		r, size := utf8.DecodeRuneInString(value[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, replacementChar...)
		case r == '\u2028':
			dst = append(dst, `\u2028`...)
		case r == '\u2029':
			dst = append(dst, `\u2029`...)
		default:
			dst = append(dst, value[i:i+size]...)
		}
		i += size
	}
	return dst
}

// EscapeXML appends value as XML character data, safe both in element text
// and in a quoted attribute. It writes the five predefined entities, writes
// tab, line feed and carriage return as character references, and removes
// every character that XML 1.0 does not allow: the other C0 controls,
// U+FFFE and U+FFFF.
func EscapeXML(dst []byte, value string) []byte {
	for i := 0; i < len(value); {
		c := value[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				dst = append(dst, "&amp;"...)
			case c == '<':
				dst = append(dst, "&lt;"...)
			case c == '>':
				dst = append(dst, "&gt;"...)
			case c == '"':
				dst = append(dst, "&quot;"...)
			case c == '\'':
				dst = append(dst, "&apos;"...)
			case c == '\t':
				dst = append(dst, "&#x9;"...)
			case c == '\n':
				dst = append(dst, "&#xA;"...)
			case c == '\r':
				dst = append(dst, "&#xD;"...)
			case c < 0x20:
				// Forbidden in XML 1.0: removed.
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}

		r, size := utf8.DecodeRuneInString(value[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, replacementChar...)
		case r == 0xFFFE || r == 0xFFFF:
			// Forbidden in XML 1.0: removed.
		default:
			dst = append(dst, value[i:i+size]...)
		}
		i += size
	}
	return dst
}

// BodyFormat is the syntax of a raw request body, which decides how values
// are escaped in it.
type BodyFormat int

// The body formats.
const (
	BodyText BodyFormat = iota
	BodyJSON
	BodyXML
)

// String returns "text", "json" or "xml".
func (f BodyFormat) String() string {
	switch f {
	case BodyJSON:
		return "json"
	case BodyXML:
		return "xml"
	}
	return "text"
}

// Escaper returns the escaper for values placed in a body of this format.
// Values in a JSON body are escaped as JSON string content, so a JSON
// template must put each placeholder inside quotes.
func (f BodyFormat) Escaper() Escaper {
	switch f {
	case BodyJSON:
		return EscapeJSON
	case BodyXML:
		return EscapeXML
	}
	return EscapePlain
}

// BodyFormatOf returns the body format for a Content-Type header value:
// JSON for application/json and any "+json" type, XML for application/xml,
// text/xml and any "+xml" type, and text for everything else, an empty or
// malformed value included. Parameters such as charset are ignored.
func BodyFormatOf(contentType string) BodyFormat {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType, _, _ = strings.Cut(contentType, ";")
		mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	}

	switch {
	case mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"):
		return BodyJSON
	case mediaType == "application/xml" || mediaType == "text/xml" || strings.HasSuffix(mediaType, "+xml"):
		return BodyXML
	}
	return BodyText
}
