// Package conf loads and validates postcall's configuration: the main file
// (connection, variable names, spool, delivery defaults, admin listener,
// logging) and one TOML file per IVR application.
//
// Loading is strict. Files must be TOML 1.0: BurntSushi/toml v1.6.0 also
// accepts TOML 1.1 (multi-line inline tables, \e and \x escapes, times
// without seconds), so the loader rejects those constructs itself. An
// unknown key, a value of the wrong type, an unquoted date where text is
// expected, and every semantic problem are errors. Each names the file, the
// line where known, the key and what to do, and Load returns all of them at
// once.
//
// Secrets (the Event Socket password, signing keys, header values) may come
// from a file or an environment variable. They are resolved at load time and
// never appear in an error message or in the printed configuration: String,
// GoString and Redacted replace them with "(redacted)".
//
// Load is a pure function of the files and the environment: it keeps no
// state, so a reload is a new Load followed by a swap, and a failed reload
// leaves the running configuration untouched. The package never contacts a
// webservice; in particular it does not fetch a WSDL.
package conf
