package conf

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// fileState collects what the loader learns about one file: where its keys
// are, which keys it wrote, and the problems found.
type fileState struct {
	file    string
	src     *source
	written map[string]bool
	errs    Errors
	// root is the schema of the whole file: Main or App.
	root reflect.Type
}

// isSecretKey reports whether the value at a key path may be a secret,
// so that no message echoes it: a password, a signing secret or a header
// value.
func isSecretKey(path string) bool {
	name := path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		name = path[i+1:]
	}
	switch name {
	case "password", "secret":
		return true
	case "value":
		return strings.HasPrefix(path, "headers[")
	}
	return false
}

func newFileState(file string, root reflect.Type) *fileState {
	return &fileState{
		file:    file,
		root:    root,
		src:     &source{keys: map[string]keyPos{}},
		written: make(map[string]bool),
	}
}

// add records a problem at the key path.
func (st *fileState) add(key, message, remedy string, err error) {
	line, col := st.src.position(key)
	st.errs = append(st.errs, &Error{
		File: st.file, Line: line, Column: col, Key: key,
		Message: message, Remedy: remedy, Err: err,
	})
}

// parse decodes TOML 1.0 text over v, a pointer to a struct that already
// holds the defaults. It reports syntax errors, TOML 1.1 constructs, unknown
// keys, values of the wrong type and unquoted dates. It returns false when
// the text could not be parsed at all.
func (st *fileState) parse(text string, v any) bool {
	raw := make(map[string]any)
	if _, err := toml.Decode(text, &raw); err != nil {
		st.errs = append(st.errs, parseError(st.file, text, err))
		return false
	}

	src, newer := scanSource(text)
	st.src = src
	if len(newer) > 0 {
		for _, n := range newer {
			st.errs = append(st.errs, st.newerSyntaxError(n, reflect.TypeOf(v).Elem()))
		}
		return false
	}

	st.table("", raw, reflect.ValueOf(v).Elem())
	return true
}

func (st *fileState) newerSyntaxError(n newerSyntax, schema reflect.Type) *Error {
	e := &Error{File: st.file, Line: n.line, Column: n.col, Key: n.key, Message: n.message, Remedy: n.remedy}
	if n.inlineTable {
		e.Remedy = "inline tables must be on one line in TOML 1.0: " + inlineTableAdvice(n.key, schema)
	}
	return e
}

// inlineTableAdvice suggests the table syntax that replaces a multi-line
// inline table at path.
func inlineTableAdvice(path string, schema reflect.Type) string {
	tablePath := path
	for strings.HasSuffix(tablePath, "]") {
		tablePath = parentKey(tablePath)
	}
	name := tablePath
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if t := schemaType(schema, tablePath); t != nil && t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
		return fmt.Sprintf("use [[%s]] entries, one per %s, each with its own keys", tablePath, singular(name))
	}
	return fmt.Sprintf("use a [%s] table with one key per line", tablePath)
}

func singular(name string) string {
	if strings.HasSuffix(name, "s") {
		return strings.TrimSuffix(name, "s")
	}
	return "entry"
}

// schemaType returns the Go type of the key path in the schema, or nil.
func schemaType(t reflect.Type, path string) reflect.Type {
	if path == "" {
		return t
	}
	for _, part := range strings.Split(path, ".") {
		part = strings.Trim(part, `"`)
		if i := strings.IndexByte(part, '['); i >= 0 {
			part = part[:i]
		}
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := tableFields(t)[part]
		if !ok {
			return nil
		}
		t = f.Type
	}
	return t
}

// tableFields maps each TOML key of a struct to its field.
func tableFields(t reflect.Type) map[string]reflect.StructField {
	fields := make(map[string]reflect.StructField, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fields[name] = f
	}
	return fields
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// table decodes a TOML table into the struct v.
func (st *fileState) table(path string, raw map[string]any, v reflect.Value) {
	fields := tableFields(v.Type())
	for _, key := range sortedKeys(raw) {
		keyPath := joinKey(path, key)
		f, ok := fields[key]
		if !ok {
			st.unknownKey(path, keyPath, key, raw[key], v.Type())
			continue
		}
		st.written[keyPath] = true
		st.value(keyPath, key, raw[key], v.FieldByIndex(f.Index))
	}
}

var (
	durationType = reflect.TypeOf(Duration(0))
	sizeType     = reflect.TypeOf(Size(0))
)

// value decodes one TOML value into v.
func (st *fileState) value(path, name string, raw any, v reflect.Value) {
	if t, ok := raw.(time.Time); ok {
		st.unquotedDate(path, name, t, v.Type())
		return
	}

	switch v.Type() {
	case durationType:
		st.duration(path, raw, v)
		return
	case sizeType:
		st.size(path, raw, v)
		return
	}

	switch v.Kind() {
	case reflect.String:
		if s, ok := raw.(string); ok {
			v.SetString(s)
			return
		}
	case reflect.Bool:
		if b, ok := raw.(bool); ok {
			v.SetBool(b)
			return
		}
	case reflect.Int:
		if n, ok := raw.(int64); ok {
			if v.OverflowInt(n) {
				st.add(path, fmt.Sprintf("%s %d is too large", path, n), "use a smaller whole number", nil)
				return
			}
			v.SetInt(n)
			return
		}
	case reflect.Float64:
		switch n := raw.(type) {
		case int64:
			v.SetFloat(float64(n))
			return
		case float64:
			v.SetFloat(n)
			return
		}
	case reflect.Slice:
		if st.slice(path, name, raw, v) {
			return
		}
	case reflect.Pointer:
		if m, ok := raw.(map[string]any); ok {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			st.table(path, m, v.Elem())
			return
		}
	case reflect.Struct:
		if m, ok := raw.(map[string]any); ok {
			st.table(path, m, v)
			return
		}
	case reflect.Map:
		if m, ok := raw.(map[string]any); ok {
			st.stringMap(path, m, v)
			return
		}
	}
	st.wrongType(path, name, raw, v.Type())
}

// slice decodes an array of strings or an array of tables; it returns false
// when raw is not an array of the right kind.
func (st *fileState) slice(path, name string, raw any, v reflect.Value) bool {
	var items []any
	switch r := raw.(type) {
	case []any:
		items = r
	case []map[string]any:
		for _, m := range r {
			items = append(items, m)
		}
	default:
		return false
	}

	elemType := v.Type().Elem()
	out := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, item := range items {
		itemPath := indexKey(path, i+1)
		st.written[itemPath] = true
		elem := out.Index(i)
		switch {
		case elemType.Kind() == reflect.Struct:
			m, ok := item.(map[string]any)
			if !ok {
				st.wrongType(itemPath, name, item, elemType)
				continue
			}
			st.table(itemPath, m, elem)
		case elemType.Kind() == reflect.String:
			if t, ok := item.(time.Time); ok {
				st.unquotedDate(itemPath, name, t, elemType)
				continue
			}
			s, ok := item.(string)
			if !ok {
				st.wrongType(itemPath, name, item, elemType)
				continue
			}
			elem.SetString(s)
		default:
			st.wrongType(itemPath, name, item, elemType)
		}
	}
	v.Set(out)
	return true
}

// stringMap decodes a table of strings, such as [variables] of an
// application.
func (st *fileState) stringMap(path string, raw map[string]any, v reflect.Value) {
	out := reflect.MakeMapWithSize(v.Type(), len(raw))
	for _, key := range sortedKeys(raw) {
		keyPath := joinKey(path, key)
		st.written[keyPath] = true
		switch item := raw[key].(type) {
		case string:
			out.SetMapIndex(reflect.ValueOf(key), reflect.ValueOf(item))
		case time.Time:
			st.unquotedDate(keyPath, key, item, v.Type().Elem())
		case map[string]any:
			st.add(keyPath, fmt.Sprintf("%s is a table, but %s holds only name = \"source\" lines", keyPath, path),
				fmt.Sprintf("a name with dots must be quoted: write %q = \"...\"", dottedName(key, item)), nil)
		default:
			st.wrongType(keyPath, key, item, v.Type().Elem())
		}
	}
	v.Set(out)
}

// dottedName rebuilds the name that an unquoted dotted key such as
// request.data.name was meant to be, following the first key of each
// nested table.
func dottedName(key string, table map[string]any) string {
	for len(table) > 0 {
		next := sortedKeys(table)[0]
		key += "." + next
		nested, ok := table[next].(map[string]any)
		if !ok {
			break
		}
		table = nested
	}
	return key
}

func (st *fileState) duration(path string, raw any, v reflect.Value) {
	s, ok := raw.(string)
	if !ok {
		st.wrongType(path, path, raw, durationType)
		return
	}
	var d Duration
	if err := d.UnmarshalText([]byte(s)); err != nil {
		st.add(path, fmt.Sprintf("%s: %v", path, err), "", err)
		return
	}
	v.SetInt(int64(d))
}

func (st *fileState) size(path string, raw any, v reflect.Value) {
	var text string
	switch r := raw.(type) {
	case string:
		text = r
	case int64:
		text = strconv.FormatInt(r, 10)
	default:
		st.wrongType(path, path, raw, sizeType)
		return
	}
	var size Size
	if err := size.UnmarshalText([]byte(text)); err != nil {
		st.add(path, fmt.Sprintf("%s: %v", path, err), "", err)
		return
	}
	v.SetInt(int64(size))
}

// unquotedDate reports a TOML date or time where text is expected. The
// value is never converted, because a local date-time would take the host's
// time zone.
func (st *fileState) unquotedDate(path, name string, t time.Time, want reflect.Type) {
	if want.Kind() != reflect.String {
		st.wrongType(path, name, t, want)
		return
	}
	written := st.src.valueText(path)
	if written == "" || isSecretKey(path) {
		st.add(path, fmt.Sprintf("%s is an unquoted TOML date or time, not a string", path),
			"quote the value to keep it as text", nil)
		return
	}
	quoted := written
	if st.root == reflect.TypeOf(App{}) && parentKey(path) == "variables" {
		// An application's [variables] value is a source; a fixed text
		// needs the text: prefix.
		quoted = "text:" + written
	}
	st.add(path, fmt.Sprintf("%s is the TOML date or time %s, not a string", path, written),
		fmt.Sprintf("quote it to keep the text exactly: %s = %q", name, quoted), nil)
}

// wrongType reports a value whose TOML type does not fit the schema.
func (st *fileState) wrongType(path, name string, raw any, want reflect.Type) {
	message := fmt.Sprintf("%s must be %s, not %s", path, typeWanted(want), typeFound(raw))
	st.add(path, message, typeRemedy(name, raw, want), nil)
}

func typeWanted(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration string"
	case t == sizeType:
		return "a size"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "an array of tables"
		}
		return "an array of strings"
	case reflect.Map:
		return "a table of strings"
	}
	return "a table"
}

func typeFound(raw any) string {
	switch r := raw.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return "the float " + strconv.FormatFloat(r, 'g', -1, 64)
		}
		return "a float"
	case time.Time:
		return "a date or time"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", raw)
}

func typeRemedy(name string, raw any, want reflect.Type) string {
	switch {
	case want == durationType:
		return fmt.Sprintf(`write a number with a unit in quotes, for example %s = "30s"`, name)
	case want == sizeType:
		return fmt.Sprintf(`write a byte count or a quoted size, for example %s = "64KiB"`, name)
	}
	switch want.Kind() {
	case reflect.String:
		if _, ok := raw.(map[string]any); ok && strings.Contains(name, ".") {
			return "a key with dots makes nested tables: quote the whole key"
		}
		return "put the value in double quotes"
	case reflect.Bool:
		return fmt.Sprintf("write %s = true or %s = false, without quotes", name, name)
	case reflect.Int:
		return fmt.Sprintf("write a whole number without quotes, for example %s = 8", name)
	case reflect.Float64:
		if s, ok := raw.(string); ok {
			if d, err := time.ParseDuration(s); err == nil {
				return fmt.Sprintf("write the seconds as a number without quotes: %s = %s", name, strconv.FormatFloat(d.Seconds(), 'f', -1, 64))
			}
		}
		return fmt.Sprintf("write a number of seconds without quotes, for example %s = 10", name)
	case reflect.Slice:
		if want.Elem().Kind() == reflect.Struct {
			return fmt.Sprintf("write one [[%s]] table per entry", name)
		}
		return fmt.Sprintf(`write an array of strings, for example %s = ["a", "b"]`, name)
	case reflect.Map:
		return fmt.Sprintf(`write a [%s] table with lines such as name = "channel:some_variable"`, name)
	case reflect.Pointer, reflect.Struct:
		if _, ok := raw.([]map[string]any); ok {
			return fmt.Sprintf("write [%s] with single brackets, once", name)
		}
		return fmt.Sprintf("write a [%s] table", name)
	}
	return ""
}

// unknownKey reports a key the schema does not have, with the closest
// known name or the table where the key belongs.
func (st *fileState) unknownKey(tablePath, keyPath, key string, raw any, t reflect.Type) {
	fields := tableFields(t)
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)

	remedy := "remove it or check its spelling; keys are case-sensitive"
	if match := closestName(key, names); match != "" {
		remedy = fmt.Sprintf("did you mean %q?", match)
		ft := fields[match].Type
		if _, isTable := raw.(map[string]any); isTable && ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			remedy += fmt.Sprintf(" Write each %s as a [[%s]] entry with its own keys", singular(match), joinKey(tablePath, match))
		}
	} else if home := keyHome(key, st.root, tablePath); home != "" {
		remedy = home
	}
	st.add(keyPath, fmt.Sprintf("unknown key %s", keyPath), remedy, nil)
}

// keyHome returns where a key that is unknown in one table belongs, when
// another table of the same kind of file has it. It returns "" when no
// table has it.
func keyHome(key string, root reflect.Type, tablePath string) string {
	if _, ok := tableFields(root)[key]; ok && tablePath != "" {
		return fmt.Sprintf("%s belongs at the top of the file, before the first [table] header", key)
	}
	var homes []string
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for name, f := range tableFields(t) {
			ft := f.Type
			isArray := ft.Kind() == reflect.Slice
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() != reflect.Struct {
				continue
			}
			sub := joinKey(path, name)
			if _, ok := tableFields(ft)[key]; ok && sub != tableBase(tablePath) {
				if isArray {
					homes = append(homes, "[["+sub+"]]")
				} else {
					homes = append(homes, "["+sub+"]")
				}
			}
			walk(ft, sub)
		}
	}
	walk(root, "")
	if len(homes) == 0 {
		return ""
	}
	slices.Sort(homes)
	return fmt.Sprintf("%s belongs in %s", key, strings.Join(homes, " or "))
}

// tableBase strips the entry numbers from a table path: "headers[2]"
// becomes "headers".
func tableBase(path string) string {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// closestName returns the known name nearest to key: the same name in
// another case, or one at most two edits away. It returns "" when none is
// close enough.
func closestName(key string, names []string) string {
	best, bestDistance := "", 3
	for _, name := range names {
		if strings.EqualFold(name, key) {
			return name
		}
		limit := 2
		if len(key) <= 3 {
			limit = 1
		}
		if d := editDistance(key, name); d <= limit && d < bestDistance {
			best, bestDistance = name, d
		}
		if best == "" && min(len(key), len(name)) >= 3 && (strings.HasPrefix(key, name) || strings.HasPrefix(name, key)) {
			best = name
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	previous := make([]int, len(b)+1)
	current := make([]int, len(b)+1)
	for j := range previous {
		previous[j] = j
	}
	for i := 1; i <= len(a); i++ {
		current[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			current[j] = min(previous[j]+1, current[j-1]+1, previous[j-1]+cost)
		}
		previous, current = current, previous
	}
	return previous[len(b)]
}

// parseError turns an error of the TOML parser into an Error with the
// position, and our own wording and remedy for the common mistakes.
func parseError(file, text string, err error) *Error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return &Error{File: file, Message: "cannot parse the file as TOML", Remedy: err.Error(), Err: err}
	}

	e := &Error{
		File:   file,
		Line:   pe.Position.Line,
		Column: columnAt(text, pe.Position.Start),
		Key:    pe.LastKey,
		Err:    err,
	}
	lineText := lineAt(text, pe.Position.Line)

	// NOTE: BurntSushi/toml v1.6.0 gives its error kinds unexported types,
	// so the switch matches the message text to find the kind.
	switch msg := pe.Message; {
	case strings.HasPrefix(msg, "invalid escape in string"):
		offset, escape := invalidEscape(text, pe.Position.Start, pe.Position.Start+pe.Position.Len+1)
		if offset >= 0 {
			e.Column = columnAt(text, offset)
		}
		e.Message = fmt.Sprintf(`invalid escape %s in a "..." string`, escape)
		if pe.LastKey != "" {
			e.Message = fmt.Sprintf(`%s: invalid escape %s in a "..." string`, pe.LastKey, escape)
		}
		e.Remedy = `use a literal string '...' or '''...''' for text with backslashes, or double each backslash`
	case strings.Contains(msg, "has already been defined"):
		name := quotedName(msg)
		if strings.HasPrefix(strings.TrimSpace(lineText), "[") {
			e.Key = name
			e.Message = fmt.Sprintf("table [%s] is defined twice", name)
			e.Remedy = "TOML does not allow a table header twice: merge both into one table"
		} else {
			e.Message = fmt.Sprintf("key %s is defined twice", name)
			e.Remedy = "TOML does not allow a key twice in one table: keep one of them"
		}
	case msg == "strings cannot contain newlines":
		e.Message = "a string is not closed on its line"
		e.Remedy = `close the quote on the same line, or use """...""" for text over several lines`
	case msg == "newlines not allowed within inline tables":
		e.Message = "an inline table is written over several lines"
		e.Remedy = "inline tables must be on one line in TOML 1.0: use a [table] header or [[table]] entries"
	case strings.HasPrefix(msg, "invalid datetime"):
		e.Message = msg
		e.Remedy = `write a date as 2006-01-02, or quote the value to keep it as text`
	default:
		e.Message = "invalid TOML: " + lowerFirst(msg)
		e.Remedy = "fix the syntax at this position (the file must be TOML 1.0)"
	}
	return e
}

// invalidEscape finds the first backslash escape that TOML does not define
// in text[from:to] and returns its offset and text, or -1.
func invalidEscape(text string, from, to int) (int, string) {
	from = max(0, from)
	to = min(len(text), to)
	for i := from; i < to; i++ {
		if text[i] != '\\' || i+1 >= len(text) {
			continue
		}
		switch text[i+1] {
		case 'b', 't', 'n', 'f', 'r', '"', '\\', 'u', 'U', 'e', 'x', ' ', '\t', '\n', '\r':
			i++
		default:
			r := text[i+1 : i+2]
			return i, `\` + r
		}
	}
	return -1, `\?`
}

func quotedName(msg string) string {
	start := strings.IndexByte(msg, '\'')
	end := strings.LastIndexByte(msg, '\'')
	if start < 0 || end <= start {
		return "?"
	}
	return msg[start+1 : end]
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// columnAt returns the 1-based character column of a byte offset.
func columnAt(text string, offset int) int {
	if offset < 0 || offset > len(text) {
		return 0
	}
	lineStart := strings.LastIndexByte(text[:offset], '\n') + 1
	return utf8.RuneCountInString(text[lineStart:offset]) + 1
}

// lineAt returns line n (1-based) of text, without its newline.
func lineAt(text string, n int) string {
	for i := 1; i < n; i++ {
		j := strings.IndexByte(text, '\n')
		if j < 0 {
			return ""
		}
		text = text[j+1:]
	}
	line, _, _ := strings.Cut(text, "\n")
	return line
}
