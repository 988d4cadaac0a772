package conf

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// closedLoader refuses every file and environment variable, so that
// generated input never reads the host's files.
func closedLoader() *loader {
	return &loader{
		lookupEnv: func(string) (string, bool) { return "", false },
		stat:      func(string) (fs.FileInfo, error) { return nil, fs.ErrNotExist },
		open:      func(string) (io.ReadCloser, error) { return nil, fs.ErrNotExist },
	}
}

func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{
		filepath.Join("..", "examples", "apps.d", "*.toml"),
		filepath.Join("testdata", "*.toml"),
	} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}

	const name = "apps.d/fuzz.toml"
	f.Fuzz(func(t *testing.T, data []byte) {
		st := newFileState(name, reflect.TypeOf(App{}))
		app := closedLoader().decodeApp(st, data, nil)
		for _, e := range st.errs {
			if e.File != name {
				t.Errorf("error without the file name: %q", e.Error())
			}
			if e.Message == "" {
				t.Errorf("error without a message: %+v", e)
			}
			if e.Line < 0 || e.Column < 0 {
				t.Errorf("error with a negative position: %+v", e)
			}
		}
		if len(st.errs) > 0 || app == nil {
			return
		}
		// A file that loads is complete.
		if app.Name == "" || (app.Type != "rest" && app.Type != "soap") {
			t.Errorf("loaded without name or type: %+v", app)
		}
		if !(app.Timeout > 0 && app.Timeout <= maxTimeout) || app.Concurrency < 1 {
			t.Errorf("loaded with timeout %v and concurrency %d", app.Timeout, app.Concurrency)
		}
		if app.Type == "soap" && (app.SOAPVersion != "1.1" && app.SOAPVersion != "1.2") {
			t.Errorf("loaded with soap_version %q", app.SOAPVersion)
		}
	})
}

func BenchmarkLoadExamples(b *testing.B) {
	path := filepath.Join("..", "examples", "postcall.toml")
	for b.Loop() {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeApp(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "examples", "apps.d", "survey.toml"))
	if err != nil {
		b.Fatal(err)
	}
	l := closedLoader()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		st := newFileState("survey.toml", reflect.TypeOf(App{}))
		if l.decodeApp(st, data, nil) == nil || len(st.errs) > 0 {
			b.Fatal(st.errs)
		}
	}
}
