package conf

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// privateText replaces the parts of a private application that may carry
// call data in Redacted output.
const privateText = "(private)"

// Redacted returns the effective configuration as TOML, for
// `postcall check -v`: the main file with every default filled in, then
// each application with its merged retry policy. The ESL password, signing
// secrets, header values that come from a file or the environment or that
// carry credentials, and the password in a URL are replaced by
// "(redacted)". For a private application, the URL path and query, header
// values, parameter values and the body are replaced by "(private)".
//
// Each file's part is valid TOML on its own. The whole text is meant to be
// read, not loaded, because every application has its own top-level keys.
func Redacted(c *Config) string {
	if c == nil {
		return ""
	}
	var w tomlWriter
	w.comment("Effective configuration; secrets are shown as " + strconv.Quote(redactedText) + ".")
	w.comment("Main file: " + c.File)
	m := c.Main
	if m.FreeSWITCH.Password != "" {
		m.FreeSWITCH.Password = redactedText
	}
	w.table("", reflect.ValueOf(m), false)

	for _, a := range c.Apps {
		w.blank()
		w.comment("Application file: " + a.File)
		w.table("", reflect.ValueOf(redactApp(a)), true)
	}
	return w.String()
}

// redactApp returns a copy of the application with its secrets, and for a
// private application its call data templates, replaced.
func redactApp(a *App) App {
	out := *a
	out.Headers = slices.Clone(a.Headers)
	out.Params = slices.Clone(a.Params)
	out.URL = redactUserinfo(a.URL)
	if a.Signing != nil {
		signing := *a.Signing
		if signing.Secret != "" {
			signing.Secret = redactedText
		}
		out.Signing = &signing
	}
	for i, h := range out.Headers {
		if h.IsSecret() {
			out.Headers[i].Value = redactedText
		} else if a.Private {
			out.Headers[i].Value = privateText
		}
	}
	if !a.Private {
		return out
	}

	out.URL = privateURL(out.URL)
	for i := range out.Params {
		out.Params[i].Value = privateText
	}
	if out.Body != "" {
		out.Body = privateText
	}
	return out
}

// urlParts splits a URL into scheme and "://", authority, and the rest
// (path, query and fragment), by text, so that placeholders in the path do
// not matter. ok is false when there is no "://".
func urlParts(raw string) (prefix, authority, rest string, ok bool) {
	i := strings.Index(raw, "://")
	if i < 0 {
		return "", "", raw, false
	}
	prefix, after := raw[:i+3], raw[i+3:]
	end := strings.IndexAny(after, "/?#")
	if end < 0 {
		end = len(after)
	}
	return prefix, after[:end], after[end:], true
}

// redactUserinfo replaces the password in a URL's userinfo.
func redactUserinfo(raw string) string {
	prefix, authority, rest, ok := urlParts(raw)
	if !ok {
		return raw
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return raw
	}
	user, _, hasPassword := strings.Cut(authority[:at], ":")
	if !hasPassword {
		return raw
	}
	return prefix + user + ":" + redactedText + authority[at:] + rest
}

// privateURL keeps the scheme and authority of a URL and hides the rest.
func privateURL(raw string) string {
	prefix, authority, rest, ok := urlParts(raw)
	if !ok {
		return privateText
	}
	if rest == "" {
		return raw
	}
	return prefix + authority + "/" + privateText
}

// tomlWriter writes configuration structs as TOML in field order.
type tomlWriter struct {
	b strings.Builder
}

func (w *tomlWriter) String() string { return w.b.String() }

func (w *tomlWriter) blank() { w.b.WriteByte('\n') }

func (w *tomlWriter) comment(text string) {
	w.b.WriteString("# ")
	w.b.WriteString(strings.ReplaceAll(text, "\n", " "))
	w.b.WriteByte('\n')
}

// table writes the keys of the struct v, then its tables and arrays of
// tables. With omitEmpty, empty strings, empty lists and absent tables are
// left out.
func (w *tomlWriter) table(path string, v reflect.Value, omitEmpty bool) {
	t := v.Type()
	type later struct {
		name string
		v    reflect.Value
	}
	var tables []later
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fv := v.Field(i)
		if isTableValue(fv) {
			tables = append(tables, later{name, fv})
			continue
		}
		if omitEmpty && isEmptyValue(fv) {
			continue
		}
		fmt.Fprintf(&w.b, "%s = %s\n", joinKey("", name), tomlValue(fv))
	}

	for _, tbl := range tables {
		w.subtable(joinKey(path, tbl.name), tbl.v, omitEmpty)
	}
}

func (w *tomlWriter) subtable(path string, v reflect.Value, omitEmpty bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		w.subtable(path, v.Elem(), omitEmpty)
	case reflect.Struct:
		if omitEmpty && v.IsZero() {
			return
		}
		fmt.Fprintf(&w.b, "\n[%s]\n", path)
		w.table(path, v, omitEmpty)
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			fmt.Fprintf(&w.b, "\n[[%s]]\n", path)
			w.table(path, v.Index(i), omitEmpty)
		}
	case reflect.Map:
		if v.Len() == 0 && omitEmpty {
			return
		}
		fmt.Fprintf(&w.b, "\n[%s]\n", path)
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&w.b, "%s = %s\n", joinKey("", k), tomlString(v.MapIndex(reflect.ValueOf(k)).String()))
		}
	}
}

// isTableValue reports whether v is written as a table or array of tables.
func isTableValue(v reflect.Value) bool {
	t := v.Type()
	if t == durationType || t == sizeType {
		return false
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return true
	case reflect.Pointer:
		return t.Elem().Kind() == reflect.Struct
	case reflect.Slice:
		return t.Elem().Kind() == reflect.Struct
	}
	return false
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String, reflect.Slice:
		return v.Len() == 0
	}
	return false
}

func tomlValue(v reflect.Value) string {
	switch v.Type() {
	case durationType:
		return strconv.Quote(shortDuration(Duration(v.Int())))
	case sizeType:
		return strconv.FormatInt(v.Int(), 10)
	}
	switch v.Kind() {
	case reflect.String:
		return tomlString(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64)
	case reflect.Slice:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = tomlValue(v.Index(i))
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return tomlString(fmt.Sprint(v.Interface()))
}

// tomlString quotes s as a TOML 1.0 basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// shortDuration formats d without trailing zero units: "24h", not
// "24h0m0s".
func shortDuration(d Duration) string {
	s := d.D().String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
