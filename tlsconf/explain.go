package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Explain returns a one-line message that names the TLS check that failed
// in err and the change that fixes it, or "" when err contains no TLS
// problem that Explain recognizes. It looks through wrapped errors, so err
// may be what an http.Client returned.
//
// The message names only the host and the names and validity dates of the
// certificates involved, never a URL path, query or body, so it may be
// logged for a private application too.
func Explain(err error) string {
	if err == nil {
		return ""
	}

	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var systemRoots x509.SystemRootsError
	var record tls.RecordHeaderError
	switch {
	case errors.As(err, &unknownAuthority):
		return explainUnknownAuthority(unknownAuthority)
	case errors.As(err, &hostname):
		return explainHostname(hostname)
	case errors.As(err, &invalid):
		return explainInvalid(invalid)
	case errors.As(err, &systemRoots):
		return "no trusted root certificates could be loaded on this machine: install the system CA bundle or set ca_file in [tls]"
	case errors.As(err, &record):
		return "the server did not respond with TLS: check that the URL names the server's TLS port, or use http://"
	}
	return explainRemoteAlert(err)
}

func explainUnknownAuthority(e x509.UnknownAuthorityError) string {
	issuer := "an unknown authority"
	if e.Cert != nil {
		issuer = fmt.Sprintf("%q", e.Cert.Issuer.String())
		if e.Cert.Issuer.String() == e.Cert.Subject.String() {
			issuer += " (self-signed)"
		}
	}
	return "the server's certificate is not trusted: it is signed by " + issuer +
		": set ca_file in [tls] to the PEM bundle of that CA"
}

func explainHostname(e x509.HostnameError) string {
	var names []string
	if e.Certificate != nil {
		names = append(names, e.Certificate.DNSNames...)
		for _, ip := range e.Certificate.IPAddresses {
			names = append(names, ip.String())
		}
	}
	listed := "no names"
	if len(names) > 0 {
		listed = strings.Join(names, ", ")
	}
	return fmt.Sprintf("the server's certificate is not valid for %q (it lists %s): "+
		"put one of those names in the URL, or set server_name in [tls] to the name to verify", e.Host, listed)
}

func explainInvalid(e x509.CertificateInvalidError) string {
	if e.Reason == x509.Expired && e.Cert != nil {
		now := time.Now()
		if now.Before(e.Cert.NotBefore) {
			return fmt.Sprintf("the server's certificate %q is not valid until %s: check this machine's clock, or ask the server's operator to fix the certificate",
				e.Cert.Subject.String(), e.Cert.NotBefore.UTC().Format(time.RFC3339))
		}
		return fmt.Sprintf("the server's certificate %q expired at %s: ask the server's operator to renew it, or check this machine's clock",
			e.Cert.Subject.String(), e.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return "the server's certificate is invalid (" + e.Error() + "): ask the server's operator to renew or reissue it"
}

// clientAlerts are the TLS alerts a server sends when it rejects the client
// certificate, with the remedy for each.
var clientAlerts = []struct {
	alert  tls.AlertError
	remedy string
}{
	{116, "the server requires a client certificate: set cert_file and key_file in [tls]"},
	{42, "the server rejected the client certificate: set cert_file and key_file in [tls] to a certificate the server accepts"},
	{48, "the server does not trust the CA of the client certificate: use a client certificate issued by a CA the server trusts"},
	{45, "the server reports that the client certificate expired: renew the certificate in cert_file"},
	{44, "the server reports that the client certificate is revoked: replace the certificate in cert_file"},
	{46, "the server could not verify the client certificate: check cert_file and its chain"},
	// A TLS 1.2 server without a client certificate often sends only this
	// generic alert (Go's crypto/tls does, as of Go 1.26).
	{40, "the server rejected the TLS handshake: it may require a client certificate (set cert_file and key_file in [tls]) or share no cipher suite with postcall"},
}

// explainRemoteAlert recognizes an alert the server sent. crypto/tls
// reports a received alert as a *net.OpError with Op "remote error" and an
// unexported alert type, so the alert is recognized by comparing its text
// with the text of tls.AlertError, which formats the same way.
func explainRemoteAlert(err error) string {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return ""
	}
	text := op.Err.Error()
	for _, a := range clientAlerts {
		if text == a.alert.Error() {
			return a.remedy + " (" + text + ")"
		}
	}
	return ""
}
