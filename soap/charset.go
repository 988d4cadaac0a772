package soap

import (
	"bytes"
	"fmt"
	"mime"
	"regexp"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// toUTF8 converts an XML document to UTF-8. The charset comes from, in
// order: a byte order mark, the charset parameter of contentType (empty for
// local files), the encoding in the XML declaration. A document with none
// of them is taken as UTF-8. The XML declaration may still name the old
// charset afterwards, so the decoder must be built with passThroughCharset.
//
// Supported: UTF-8, US-ASCII, ISO-8859-1 (latin1), windows-1252 and UTF-16
// (LE and BE).
func toUTF8(doc []byte, contentType string) ([]byte, error) {
	switch {
	case bytes.HasPrefix(doc, []byte{0xEF, 0xBB, 0xBF}):
		return doc[3:], nil
	case bytes.HasPrefix(doc, []byte{0xFF, 0xFE}):
		return decodeUTF16(doc[2:], false)
	case bytes.HasPrefix(doc, []byte{0xFE, 0xFF}):
		return decodeUTF16(doc[2:], true)
	}

	label := ""
	if contentType != "" {
		if _, params, err := mime.ParseMediaType(contentType); err == nil {
			label = params["charset"]
		}
	}
	if label == "" {
		label = declaredEncoding(doc)
	}
	return decodeCharset(doc, label)
}

// xmlDeclEncoding finds encoding="..." inside a leading XML declaration.
var xmlDeclEncoding = regexp.MustCompile(`^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']`)

// declaredEncoding returns the encoding named by the XML declaration, or
// "utf-16" for a document without a byte order mark that starts with "<"
// in UTF-16, or "" when the document names none.
func declaredEncoding(doc []byte) string {
	if len(doc) >= 2 && ((doc[0] == '<' && doc[1] == 0) || (doc[0] == 0 && doc[1] == '<')) {
		return "utf-16"
	}
	head := doc
	if len(head) > 256 {
		head = head[:256]
	}
	m := xmlDeclEncoding.FindSubmatch(head)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// decodeCharset converts doc from the charset called label to UTF-8.
func decodeCharset(doc []byte, label string) ([]byte, error) {
	switch normalizeCharset(label) {
	case "", "utf-8", "us-ascii":
		return doc, nil
	case "iso-8859-1":
		return decodeSingleByte(doc, nil), nil
	case "windows-1252":
		return decodeSingleByte(doc, &windows1252High), nil
	case "utf-16":
		// Without a byte order mark the first character, "<", shows the
		// byte order.
		bigEndian := !(len(doc) >= 2 && doc[0] != 0 && doc[1] == 0)
		return decodeUTF16(doc, bigEndian)
	case "utf-16le":
		return decodeUTF16(doc, false)
	case "utf-16be":
		return decodeUTF16(doc, true)
	}
	return nil, fmt.Errorf("unsupported charset %q: postcall reads UTF-8, ISO-8859-1, windows-1252 and UTF-16 documents", label)
}

// normalizeCharset maps the common aliases of a charset to one name.
func normalizeCharset(label string) string {
	l := strings.ToLower(strings.TrimSpace(label))
	switch l {
	case "utf-8", "utf8", "unicode-1-1-utf-8":
		return "utf-8"
	case "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us":
		return "us-ascii"
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819", "ibm819", "iso-ir-100":
		return "iso-8859-1"
	case "windows-1252", "cp1252", "x-cp1252":
		return "windows-1252"
	case "utf-16", "utf16":
		return "utf-16"
	case "utf-16le", "utf16le":
		return "utf-16le"
	case "utf-16be", "utf16be":
		return "utf-16be"
	}
	return l
}

// windows1252High maps the bytes 0x80 to 0x9F of windows-1252. The five
// bytes the charset leaves undefined map to the same C1 code point, as
// browsers do.
var windows1252High = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

// decodeSingleByte converts ISO-8859-1, or windows-1252 when high is set.
func decodeSingleByte(doc []byte, high *[32]rune) []byte {
	out := make([]byte, 0, len(doc)+len(doc)/8)
	for _, b := range doc {
		r := rune(b)
		if high != nil && b >= 0x80 && b <= 0x9F {
			r = high[b-0x80]
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// decodeUTF16 converts UTF-16 without a byte order mark. An odd trailing
// byte is an error; unpaired surrogates become U+FFFD.
func decodeUTF16(doc []byte, bigEndian bool) ([]byte, error) {
	if len(doc)%2 != 0 {
		return nil, fmt.Errorf("invalid UTF-16 document: odd length %d bytes", len(doc))
	}
	units := make([]uint16, len(doc)/2)
	for i := range units {
		if bigEndian {
			units[i] = uint16(doc[2*i])<<8 | uint16(doc[2*i+1])
		} else {
			units[i] = uint16(doc[2*i+1])<<8 | uint16(doc[2*i])
		}
	}
	out := make([]byte, 0, len(units))
	for _, r := range utf16.Decode(units) {
		out = utf8.AppendRune(out, r)
	}
	return out, nil
}
