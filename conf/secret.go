package conf

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// redactedText replaces a secret in every printed form of the configuration.
const redactedText = "(redacted)"

// maxSecretFileSize bounds a password, secret or header value file. Such a
// file holds one line; a larger one is a wrong path.
const maxSecretFileSize = 64 << 10

// loader is the access to the environment and to the files a
// configuration names (secrets, TLS files, a local WSDL). The fuzz test
// replaces it to keep generated input away from the host's files.
type loader struct {
	lookupEnv func(string) (string, bool)
	stat      func(string) (fs.FileInfo, error)
	open      func(string) (io.ReadCloser, error)
}

func osLoader() *loader {
	return &loader{
		lookupEnv: os.LookupEnv,
		stat:      os.Stat,
		open:      func(path string) (io.ReadCloser, error) { return os.Open(path) },
	}
}

// readFile reads a regular file of at most limit bytes. It checks the file
// type first, so that a FIFO or a device such as /dev/zero is rejected
// instead of blocking or filling memory.
func (l *loader) readFile(path string, limit int64) ([]byte, error) {
	info, err := l.stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if info.Size() > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	f, err := l.open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// resolvePath makes a relative path relative to the folder of the file
// that names it, so a configuration works from any working directory.
func resolvePath(dir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// secretKeys names the three keys that can give one secret: the value
// itself, a file that holds it, and an environment variable.
type secretKeys struct {
	table              string
	inline, file, envs string
}

func (k secretKeys) path(name string) string { return joinKey(k.table, name) }

// resolveSecret sets *value from the file or environment variable that the
// file names, if any. At most one of the three keys may be written; when
// required, exactly one. Messages name the key, file or variable, never
// the value.
func (st *fileState) resolveSecret(l *loader, dir string, keys secretKeys, value, file *string, env string, required bool) {
	var written []string
	for _, name := range []string{keys.inline, keys.file, keys.envs} {
		if st.written[keys.path(name)] {
			written = append(written, name)
		}
	}
	switch {
	case len(written) > 1:
		st.add(keys.path(written[1]),
			fmt.Sprintf("%s and %s are both set", keys.path(written[0]), keys.path(written[1])),
			fmt.Sprintf("set only one of %s, %s and %s", keys.inline, keys.file, keys.envs), nil)
		return
	case len(written) == 0:
		if required {
			st.add(keys.table, fmt.Sprintf("%s has no %s", tableLabel(keys.table), keys.inline),
				fmt.Sprintf("set one of %s, %s and %s", keys.inline, keys.file, keys.envs), nil)
		}
		return
	}

	switch written[0] {
	case keys.file:
		st.secretFromFile(l, dir, keys.path(keys.file), value, file)
	case keys.envs:
		st.secretFromEnv(l, keys.path(keys.envs), value, env)
	}
}

func (st *fileState) secretFromFile(l *loader, dir, key string, value, file *string) {
	if *file == "" {
		st.add(key, fmt.Sprintf("%s is empty", key), "name the file that holds the value", nil)
		return
	}
	*file = resolvePath(dir, *file)
	data, err := l.readFile(*file, maxSecretFileSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		st.add(key, fmt.Sprintf("%s %s does not exist", key, *file), "create the file or correct the path", err)
		return
	case err != nil:
		st.add(key, fmt.Sprintf("%s %s cannot be read: %v", key, *file, err),
			"make it a regular file that the postcall user can read", err)
		return
	}
	*value = strings.TrimRight(string(data), "\r\n")
	if *value == "" {
		st.add(key, fmt.Sprintf("%s %s is empty", key, *file), "write the value on the file's first line", nil)
	}
}

func (st *fileState) secretFromEnv(l *loader, key string, value *string, env string) {
	if env == "" || strings.ContainsAny(env, "=\x00") {
		st.add(key, fmt.Sprintf("%s %q is not a valid environment variable name", key, env),
			"write the name of the variable, for example POSTCALL_TOKEN", nil)
		return
	}
	v, ok := l.lookupEnv(env)
	if !ok {
		st.add(key, fmt.Sprintf("%s names %s, which is not set in the environment", key, env),
			"set the variable in the environment of the postcall service, or use a file instead", nil)
		return
	}
	if v == "" {
		st.add(key, fmt.Sprintf("%s names %s, which is empty", key, env), "give the variable a value", nil)
		return
	}
	*value = v
}

func tableLabel(table string) string {
	if table == "" {
		return "the file"
	}
	return table
}

// Printing: the resolved secrets stay in the exported fields that hold
// them, because the senders need them, and the types that carry a secret
// print it as "(redacted)" through String and GoString. fmt calls these
// methods for nested values too, so %v, %+v and %#v of a Config, a Main or
// an App never show a secret.

// String prints the table with the password redacted.
func (f FreeSWITCH) String() string {
	type redactedFreeSWITCH FreeSWITCH
	if f.Password != "" {
		f.Password = redactedText
	}
	return fmt.Sprintf("%+v", redactedFreeSWITCH(f))
}

// GoString prints the table in Go syntax with the password redacted.
func (f FreeSWITCH) GoString() string {
	type redactedFreeSWITCH FreeSWITCH
	if f.Password != "" {
		f.Password = redactedText
	}
	return fmt.Sprintf("%#v", redactedFreeSWITCH(f))
}

// String prints the table with the secret redacted.
func (s Signing) String() string {
	type redactedSigning Signing
	if s.Secret != "" {
		s.Secret = redactedText
	}
	return fmt.Sprintf("%+v", redactedSigning(s))
}

// GoString prints the table in Go syntax with the secret redacted.
func (s Signing) GoString() string {
	type redactedSigning Signing
	if s.Secret != "" {
		s.Secret = redactedText
	}
	return fmt.Sprintf("%#v", redactedSigning(s))
}

// String prints the header with its value redacted when IsSecret reports
// true.
func (h Header) String() string {
	type redactedHeader Header
	if h.IsSecret() {
		h.Value = redactedText
	}
	return fmt.Sprintf("%+v", redactedHeader(h))
}

// GoString prints the header in Go syntax with its value redacted when
// IsSecret reports true.
func (h Header) GoString() string {
	type redactedHeader Header
	if h.IsSecret() {
		h.Value = redactedText
	}
	return fmt.Sprintf("%#v", redactedHeader(h))
}

// IsSecret reports whether the header's value must not be printed: it came
// from a file or an environment variable, or the header carries credentials
// by its name (Authorization, Cookie, or a name with "token", "secret",
// "password" or "key" in it).
func (h Header) IsSecret() bool {
	if h.ValueFile != "" || h.ValueEnv != "" {
		return true
	}
	name := strings.ToLower(h.Name)
	switch name {
	case "authorization", "proxy-authorization", "cookie":
		return true
	}
	for _, word := range []string{"token", "secret", "password", "key", "auth"} {
		if strings.Contains(name, word) {
			return true
		}
	}
	return false
}

// String prints the application with the password of its URL, its
// signing secret and its secret header values redacted.
func (a App) String() string {
	type redactedApp App
	a.URL = redactUserinfo(a.URL)
	return fmt.Sprintf("%+v", redactedApp(a))
}

// GoString prints the application in Go syntax with the same redactions as
// String.
func (a App) GoString() string {
	type redactedApp App
	a.URL = redactUserinfo(a.URL)
	return fmt.Sprintf("%#v", redactedApp(a))
}

// String summarizes the configuration without any secret: the main file
// and the applications it loaded.
func (c Config) String() string {
	names := make([]string, len(c.Apps))
	for i, a := range c.Apps {
		names[i] = a.Name
	}
	return fmt.Sprintf("postcall configuration from %s with %d applications [%s]",
		c.File, len(c.Apps), strings.Join(names, ", "))
}
