package conf

import (
	"time"
)

// Config is a loaded, validated configuration: the main file and every
// application file it names. Secrets are already resolved.
type Config struct {
	// File is the path of the main file.
	File string
	Main Main
	// Apps are in the order their files were found; names are unique.
	Apps []*App
	// Warnings are problems that do not stop the daemon, such as an apps
	// pattern that matches no file.
	Warnings []string
}

// App returns the application called name, or nil.
func (c *Config) App(name string) *App {
	for _, a := range c.Apps {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Main is the main file (default /etc/postcall/postcall.toml).
type Main struct {
	// Apps lists glob patterns of application files, relative to the main
	// file's folder unless absolute. Default: ["apps.d/*.toml"].
	Apps       []string   `toml:"apps"`
	FreeSWITCH FreeSWITCH `toml:"freeswitch"`
	Variables  Variables  `toml:"variables"`
	Spool      Spool      `toml:"spool"`
	Delivery   Delivery   `toml:"delivery"`
	Admin      Admin      `toml:"admin"`
	Log        Log        `toml:"log"`
}

// FreeSWITCH is the [freeswitch] table: the Event Socket connection.
type FreeSWITCH struct {
	// Address is host:port of mod_event_socket. Default 127.0.0.1:8021.
	Address string `toml:"address"`
	// Password is the Event Socket password. Default ClueCon. At most one
	// of Password, PasswordFile and PasswordEnv may be set; after loading,
	// Password holds the resolved value.
	Password     string `toml:"password"`
	PasswordFile string `toml:"password_file"`
	PasswordEnv  string `toml:"password_env"`
	// ExitSubclass is the CUSTOM subclass the IVR fires when it exits.
	// Default fuse::exit.
	ExitSubclass string `toml:"exit_subclass"`
	// EventFormat is "json" (default) or "plain".
	EventFormat string `toml:"event_format"`
	// ReconnectMin and ReconnectMax bound the reconnect backoff. Defaults 1s and 30s.
	ReconnectMin Duration `toml:"reconnect_min"`
	ReconnectMax Duration `toml:"reconnect_max"`
	// AuthTimeout bounds the wait for auth/request and the auth reply. Default 5s.
	AuthTimeout Duration `toml:"auth_timeout"`
	// Watchdog is how often postcall sends "api status"; a connection with no
	// traffic for twice this long is closed and reconnected. Default 10s.
	Watchdog Duration `toml:"watchdog"`
	// QueueSize bounds the events read but not yet handled. Default 4096.
	QueueSize int `toml:"queue_size"`
}

// Variables is the [variables] table: how the dialplan marks IVR calls.
type Variables struct {
	// App is the channel variable naming the application. Default fuse_app.
	App string `toml:"app"`
	// Prefix marks IVR variables: PREFIXname becomes name. Default fuse_var_.
	Prefix string `toml:"prefix"`
	// Exit is the channel variable that marks an IVR exit. Default fuse_exit.
	Exit string `toml:"exit"`
	// ExitGrace is how long to wait after the exit event for the channel's
	// hangup. Default 2s.
	ExitGrace Duration `toml:"exit_grace"`
}

// Spool is the [spool] table: the durable job store.
type Spool struct {
	// Path of the spool file. Default /var/lib/postcall/spool.db.
	Path string `toml:"path"`
	// MemoryQueue bounds the jobs held in memory while the spool cannot be
	// written. Default 10000.
	MemoryQueue int `toml:"memory_queue"`
	// KeepDelivered is how long delivered jobs and their dedup records are
	// kept. Default 24h.
	KeepDelivered Duration `toml:"keep_delivered"`
}

// Delivery is the [delivery] table: defaults for every application.
type Delivery struct {
	// Workers bounds the attempts in flight overall. Default 32.
	Workers int `toml:"workers"`
	// PerApp bounds the attempts in flight for one application. Default 8.
	PerApp int `toml:"per_app"`
	// Timeout is the default per-attempt timeout, in seconds. Default 10.
	Timeout float64 `toml:"timeout"`
	// IdempotencyHeader names the header that carries the job key.
	// Default Idempotency-Key.
	IdempotencyHeader string `toml:"idempotency_header"`
	// MaxResponseBytes bounds how much of a response is read. Default 64 KiB.
	MaxResponseBytes Size  `toml:"max_response_bytes"`
	Retry            Retry `toml:"retry"`
	// UserAgent is sent with every request. Empty, the default, means
	// postcall/VERSION with the version of the running binary.
	UserAgent string `toml:"user_agent"`
}

// Retry is a retry policy. In an application file every field is optional
// and falls back to [delivery.retry] of the main file.
type Retry struct {
	// InitialDelay is the delay before the second attempt. Default 1s.
	InitialDelay Duration `toml:"initial_delay"`
	// MaxDelay caps the delay between attempts. Default 10m.
	MaxDelay Duration `toml:"max_delay"`
	// Multiplier grows the delay after each attempt. Default 2.
	Multiplier float64 `toml:"multiplier"`
	// MaxAttempts ends retrying after this many attempts; 0 means no limit
	// (MaxAge still applies). Default 0.
	MaxAttempts int `toml:"max_attempts"`
	// MaxAge ends retrying once the job is this old. Default 24h.
	MaxAge Duration `toml:"max_age"`
	// MaxRetryAfter caps a Retry-After the webservice sends. Default 1h.
	MaxRetryAfter Duration `toml:"max_retry_after"`
}

// Admin is the [admin] table: metrics and health.
type Admin struct {
	// Listen is the admin listener's address. Default 127.0.0.1:9466;
	// empty turns it off.
	Listen string `toml:"listen"`
	// PIDFile, when set, receives the daemon's process id.
	PIDFile string `toml:"pid_file"`
}

// Log is the [log] table.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `toml:"level"`
	// Format is text or json. Default text.
	Format string `toml:"format"`
}

// The request types of a REST application, as Fuse names them.
const (
	RequestGET     = "GET"
	RequestPOST    = "POST"
	RequestPOSTRaw = "POST RAW"
	RequestPUT     = "PUT"
	RequestDELETE  = "DELETE"
)

// App is one application file.
type App struct {
	// File is the path the application was loaded from.
	File string `toml:"-"`

	// Name is the value of the application variable (fuse_app) that selects
	// this application.
	Name string `toml:"name"`
	// Type is "rest" or "soap".
	Type string `toml:"type"`
	// Timeout is the per-attempt timeout in seconds, body read included.
	// Default: [delivery] timeout.
	Timeout float64 `toml:"timeout"`
	// Private keeps the request, its data and its response out of every
	// log, error, status output and metric label.
	Private bool `toml:"private"`

	// RequestType is GET, POST, POST RAW, PUT or DELETE (REST only).
	RequestType string `toml:"request_type"`
	// URL may hold placeholders in its path and query, never in its
	// scheme, host or port.
	URL     string   `toml:"url"`
	Headers []Header `toml:"headers"`
	// Params keep the order of the file.
	Params []Param `toml:"params"`
	// Body is the raw body template of POST RAW and PUT.
	Body string `toml:"body"`
	// FollowRedirects lets a 307 or 308 answer be followed with the same
	// method and body. 301, 302 and 303 are never followed for requests
	// other than GET.
	FollowRedirects bool `toml:"follow_redirects"`

	// WSDL is an http(s) URL or a local file path (SOAP only).
	WSDL string `toml:"wsdl"`
	// Method is the WSDL operation to call.
	Method string `toml:"method"`
	// SOAPVersion is "1.1" or "1.2". Default 1.1.
	SOAPVersion string `toml:"soap_version"`

	// Concurrency bounds this application's attempts in flight. Default:
	// [delivery] per_app.
	Concurrency int `toml:"concurrency"`
	// Retry overrides fields of [delivery.retry]; after loading it holds
	// the merged policy.
	Retry   Retry    `toml:"retry"`
	Signing *Signing `toml:"signing"`
	TLS     TLS      `toml:"tls"`
	// Variables adds or overrides variable names: the key is the variable
	// name, the value a source such as "channel:sip_h_X-Account",
	// "event:Caller-ANI", "exit:fuse_score" or "text:a literal".
	Variables map[string]string `toml:"variables"`
}

// Header is one configured request header. After loading, Value holds the
// template (resolved from ValueFile or ValueEnv when one of those is set).
type Header struct {
	Name      string `toml:"name"`
	Value     string `toml:"value"`
	ValueFile string `toml:"value_file"`
	ValueEnv  string `toml:"value_env"`
}

// Param is one ordered request parameter; Value may hold placeholders.
type Param struct {
	Name  string `toml:"name"`
	Value string `toml:"value"`
}

// Signing is the [signing] table of an application: Standard Webhooks
// signatures (HMAC-SHA256 over id.timestamp.body). After loading, Secret
// holds the resolved key bytes as written (a "whsec_" base64 key or raw text).
type Signing struct {
	Secret     string `toml:"secret"`
	SecretFile string `toml:"secret_file"`
	SecretEnv  string `toml:"secret_env"`
}

// TLS is the [tls] table of an application. Certificates are always
// verified; CAFile adds trusted roots, CertFile and KeyFile send a client
// certificate.
type TLS struct {
	CAFile     string `toml:"ca_file"`
	CertFile   string `toml:"cert_file"`
	KeyFile    string `toml:"key_file"`
	ServerName string `toml:"server_name"`
}

// TimeoutDuration returns the application's per-attempt timeout.
func (a *App) TimeoutDuration() time.Duration {
	return time.Duration(a.Timeout * float64(time.Second))
}
