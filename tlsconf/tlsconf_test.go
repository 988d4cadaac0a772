package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/postcall/postcall/conf"
)

func TestClientDefaults(t *testing.T) {
	cfg, err := Client(conf.TLS{})
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	if cfg.InsecureSkipVerify {
		t.Error("InsecureSkipVerify is set")
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %#x, want TLS 1.2 (%#x)", cfg.MinVersion, tls.VersionTLS12)
	}
	if cfg.RootCAs != nil {
		t.Error("RootCAs is set without ca_file, want nil so the system roots apply")
	}
	if len(cfg.Certificates) != 0 {
		t.Errorf("Certificates = %d without cert_file, want 0", len(cfg.Certificates))
	}
}

func TestClientMutualTLS(t *testing.T) {
	serverCA := newCA(t, "server CA")
	clientCA := newCA(t, "client CA")
	client := clientCA.issue(t, leafOptions{commonName: "postcall-client", client: true})
	srv := startServer(t, serverOptions{cert: serverCA.serverLeaf(t), clientCA: clientCA})

	cfg, err := Client(conf.TLS{
		CAFile:   writeFile(t, "ca.pem", serverCA.pem),
		CertFile: writeFile(t, "client.pem", client.certPEM),
		KeyFile:  writeFile(t, "client.key", client.keyPEM),
	})
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	if cfg.InsecureSkipVerify {
		t.Error("InsecureSkipVerify is set")
	}

	body, err := get(t, cfg, srv.URL)
	if err != nil {
		t.Fatalf("GET with a client certificate: %v", err)
	}
	if body != "postcall-client" {
		t.Errorf("server saw client %q, want postcall-client", body)
	}
}

func TestClientWithoutClientCertificate(t *testing.T) {
	serverCA := newCA(t, "server CA")
	clientCA := newCA(t, "client CA")
	for _, version := range []struct {
		name string
		max  uint16
	}{{"TLS 1.3", 0}, {"TLS 1.2", tls.VersionTLS12}} {
		t.Run(version.name, func(t *testing.T) {
			srv := startServer(t, serverOptions{cert: serverCA.serverLeaf(t), clientCA: clientCA, maxVersion: version.max})
			cfg, err := Client(conf.TLS{CAFile: writeFile(t, "ca.pem", serverCA.pem)})
			if err != nil {
				t.Fatalf("Client: %v", err)
			}

			body, err := get(t, cfg, srv.URL)
			if err == nil {
				t.Fatalf("GET without a client certificate succeeded (server saw %q), want an error", body)
			}
			if got := Explain(err); !strings.Contains(got, "cert_file") {
				t.Errorf("Explain = %q, want the remedy cert_file (error: %v)", got, err)
			}
		})
	}
}

func TestClientUntrustedServer(t *testing.T) {
	trusted := newCA(t, "trusted CA")
	rogue := newCA(t, "rogue CA")
	srv := startServer(t, serverOptions{cert: rogue.serverLeaf(t)})

	cfg, err := Client(conf.TLS{CAFile: writeFile(t, "ca.pem", trusted.pem)})
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	_, err = get(t, cfg, srv.URL)
	if err == nil {
		t.Fatal("GET to a server with an untrusted certificate succeeded, want an error")
	}

	// The error from net/http must already name the problem.
	if !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("http.Client error %q does not say the certificate is not trusted", err)
	}
	explained := Explain(err)
	if !strings.Contains(explained, "not trusted") {
		t.Errorf("Explain = %q, want it to say the certificate is not trusted", explained)
	}
	if !strings.Contains(explained, "ca_file") {
		t.Errorf("Explain = %q, want the remedy ca_file", explained)
	}
	if !strings.Contains(explained, "rogue CA") {
		t.Errorf("Explain = %q, want the issuer's name", explained)
	}
}

func TestClientCAFileAddsToSystemRoots(t *testing.T) {
	system, err := x509.SystemCertPool()
	if err != nil {
		t.Skipf("no system roots on this machine: %v", err)
	}
	ca := newCA(t, "private CA")

	cfg, err := Client(conf.TLS{CAFile: writeFile(t, "ca.pem", ca.pem)})
	if err != nil {
		t.Fatalf("Client: %v", err)
	}

	want := system.Clone()
	want.AddCert(ca.cert)
	if !cfg.RootCAs.Equal(want) {
		t.Error("RootCAs is not the system roots plus the ca_file certificate")
	}
	onlyCA := x509.NewCertPool()
	onlyCA.AddCert(ca.cert)
	if cfg.RootCAs.Equal(onlyCA) && !system.Equal(x509.NewCertPool()) {
		t.Error("RootCAs holds only the ca_file certificate, want the system roots too")
	}
}

func TestClientServerNameOverride(t *testing.T) {
	ca := newCA(t, "CA")
	cert := ca.issue(t, leafOptions{commonName: "hooks", dnsNames: []string{"hooks.internal.test"}})
	srv := startServer(t, serverOptions{cert: cert})
	caFile := writeFile(t, "ca.pem", ca.pem)

	t.Run("without server_name", func(t *testing.T) {
		cfg, err := Client(conf.TLS{CAFile: caFile})
		if err != nil {
			t.Fatalf("Client: %v", err)
		}
		_, err = get(t, cfg, srv.URL)
		var hostname x509.HostnameError
		if !errors.As(err, &hostname) {
			t.Fatalf("GET error = %v, want an x509.HostnameError", err)
		}
		explained := Explain(err)
		if !strings.Contains(explained, "server_name") {
			t.Errorf("Explain = %q, want the remedy server_name", explained)
		}
		if !strings.Contains(explained, "hooks.internal.test") {
			t.Errorf("Explain = %q, want the names the certificate lists", explained)
		}
	})

	t.Run("with server_name", func(t *testing.T) {
		cfg, err := Client(conf.TLS{CAFile: caFile, ServerName: "hooks.internal.test"})
		if err != nil {
			t.Fatalf("Client: %v", err)
		}
		if cfg.ServerName != "hooks.internal.test" {
			t.Errorf("ServerName = %q, want hooks.internal.test", cfg.ServerName)
		}
		if _, err := get(t, cfg, srv.URL); err != nil {
			t.Errorf("GET with server_name: %v", err)
		}
	})
}

func TestExplainCertificateProblems(t *testing.T) {
	ca := newCA(t, "CA")
	caFile := writeFile(t, "ca.pem", ca.pem)
	loopback := []net.IP{net.IPv4(127, 0, 0, 1)}
	clientCA := newCA(t, "client CA")

	tests := []struct {
		name   string
		server serverOptions
		want   []string
	}{
		{
			name:   "expired",
			server: serverOptions{cert: ca.issue(t, leafOptions{commonName: "old", ips: loopback, notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)})},
			want:   []string{"expired", "renew", "CN=old"},
		},
		{
			name:   "not yet valid",
			server: serverOptions{cert: ca.issue(t, leafOptions{commonName: "early", ips: loopback, notBefore: time.Now().Add(time.Hour), notAfter: time.Now().Add(48 * time.Hour)})},
			want:   []string{"not valid until", "clock"},
		},
		{
			name:   "client certificate required",
			server: serverOptions{cert: ca.serverLeaf(t), clientCA: clientCA, maxVersion: tls.VersionTLS12},
			want:   []string{"cert_file", "key_file"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.server)
			cfg, err := Client(conf.TLS{CAFile: caFile})
			if err != nil {
				t.Fatalf("Client: %v", err)
			}

			_, err = get(t, cfg, srv.URL)
			if err == nil {
				t.Fatal("GET succeeded, want an error")
			}
			explained := Explain(err)
			for _, w := range tc.want {
				if !strings.Contains(explained, w) {
					t.Errorf("Explain = %q, want it to contain %q (error: %v)", explained, w, err)
				}
			}
			if strings.Contains(explained, "\n") {
				t.Errorf("Explain = %q spans several lines", explained)
			}
		})
	}
}

func TestExplainNotTLSServer(t *testing.T) {
	cfg, err := Client(conf.TLS{})
	if err != nil {
		t.Fatalf("Client: %v", err)
	}

	t.Run("plain HTTP server", func(t *testing.T) {
		srv := httptest.NewServer(nil)
		defer srv.Close()

		_, err := get(t, cfg, strings.Replace(srv.URL, "http://", "https://", 1))
		if err == nil {
			t.Fatal("HTTPS request to a plain HTTP server succeeded, want an error")
		}
		// The error from net/http already names the problem, so Explain adds nothing.
		if !strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
			t.Errorf("http.Client error %q does not say the server speaks plain HTTP", err)
		}
	})

	t.Run("other protocol", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		defer ln.Close()
		go func() {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
			conn.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
		}()

		_, err = get(t, cfg, "https://"+ln.Addr().String())
		if err == nil {
			t.Fatal("HTTPS request to a non-TLS server succeeded, want an error")
		}
		if got := Explain(err); !strings.Contains(got, "did not respond with TLS") {
			t.Errorf("Explain = %q, want it to say the server does not speak TLS (error: %v)", got, err)
		}
	})
}

func TestExplainOtherErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{name: "nil", err: nil},
		{name: "plain error", err: errors.New("connection refused")},
		{name: "wrapped timeout", err: fmt.Errorf("post failed: %w", os.ErrDeadlineExceeded)},
		{name: "other remote alert", err: &net.OpError{Op: "remote error", Err: tls.AlertError(80)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Explain(tc.err); got != "" {
				t.Errorf("Explain(%v) = %q, want empty", tc.err, got)
			}
		})
	}
}

func TestClientFileErrors(t *testing.T) {
	ca := newCA(t, "CA")
	client := ca.issue(t, leafOptions{commonName: "client", client: true})
	other := ca.issue(t, leafOptions{commonName: "other", client: true})
	missing := t.TempDir() + "/missing.pem"
	garbage := writeFile(t, "garbage.pem", []byte("this is not a certificate\n"))
	keyOnly := writeFile(t, "key-only.pem", client.keyPEM)
	badCert := writeFile(t, "bad-cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}}))
	certFile := writeFile(t, "client.pem", client.certPEM)
	keyFile := writeFile(t, "client.key", client.keyPEM)
	otherKey := writeFile(t, "other.key", other.keyPEM)
	encryptedKey := writeFile(t, "encrypted.key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}}))
	legacyEncrypted := writeFile(t, "legacy.key", pem.EncodeToMemory(&pem.Block{
		Type:    "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   []byte{1, 2, 3},
	}))

	tests := []struct {
		name string
		tls  conf.TLS
		want []string
	}{
		{name: "ca_file not found", tls: conf.TLS{CAFile: missing}, want: []string{"ca_file", missing, "file not found"}},
		{name: "ca_file not PEM", tls: conf.TLS{CAFile: garbage}, want: []string{"ca_file", garbage, "not a PEM file"}},
		{name: "ca_file without certificates", tls: conf.TLS{CAFile: keyOnly}, want: []string{"ca_file", keyOnly, "no certificates"}},
		{name: "ca_file with invalid certificate", tls: conf.TLS{CAFile: badCert}, want: []string{"ca_file", badCert, "certificate 1 is invalid"}},
		{name: "cert_file without key_file", tls: conf.TLS{CertFile: certFile}, want: []string{"cert_file", "key_file is missing"}},
		{name: "key_file without cert_file", tls: conf.TLS{KeyFile: keyFile}, want: []string{"key_file", "cert_file is missing"}},
		{name: "cert_file not found", tls: conf.TLS{CertFile: missing, KeyFile: keyFile}, want: []string{"cert_file", missing, "file not found"}},
		{name: "cert_file without certificates", tls: conf.TLS{CertFile: keyOnly, KeyFile: keyFile}, want: []string{"cert_file", "no certificates"}},
		{name: "key_file not found", tls: conf.TLS{CertFile: certFile, KeyFile: missing}, want: []string{"key_file", missing, "file not found"}},
		{name: "key_file not PEM", tls: conf.TLS{CertFile: certFile, KeyFile: garbage}, want: []string{"key_file", garbage, "not a PEM file"}},
		{name: "key_file without key", tls: conf.TLS{CertFile: certFile, KeyFile: certFile}, want: []string{"key_file", "no private key"}},
		{name: "key does not match", tls: conf.TLS{CertFile: certFile, KeyFile: otherKey}, want: []string{"key_file", otherKey, "does not match", certFile}},
		{name: "encrypted key", tls: conf.TLS{CertFile: certFile, KeyFile: encryptedKey}, want: []string{"key_file", "encrypted"}},
		{name: "legacy encrypted key", tls: conf.TLS{CertFile: certFile, KeyFile: legacyEncrypted}, want: []string{"key_file", "encrypted"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Client(tc.tls)
			if err == nil {
				t.Fatalf("Client succeeded (%d certificates), want an error", len(cfg.Certificates))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestClientKeyFormats(t *testing.T) {
	ca := newCA(t, "CA")
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating an ECDSA key: %v", err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generating an RSA key: %v", err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatalf("encoding the ECDSA key: %v", err)
	}

	tests := []struct {
		name   string
		public any
		block  *pem.Block
	}{
		{name: "SEC 1 EC key", public: &ecKey.PublicKey, block: &pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}},
		{name: "PKCS 1 RSA key", public: &rsaKey.PublicKey, block: &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certPEM := ca.certFor(t, tc.public)
			// An EC PARAMETERS block before the key, as openssl writes it,
			// must be skipped.
			keyPEM := append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}), pem.EncodeToMemory(tc.block)...)

			cfg, err := Client(conf.TLS{
				CertFile: writeFile(t, "client.pem", certPEM),
				KeyFile:  writeFile(t, "client.key", keyPEM),
			})
			if err != nil {
				t.Fatalf("Client: %v", err)
			}
			if len(cfg.Certificates) != 1 {
				t.Fatalf("Certificates = %d, want 1", len(cfg.Certificates))
			}
			if cfg.Certificates[0].Leaf == nil {
				t.Error("Leaf is not set")
			}
		})
	}
}

// certFor issues a client certificate for an existing public key.
func (ca *testCA) certFor(t *testing.T, public any) []byte {
	t.Helper()
	template := &x509.Certificate{
		SerialNumber: newSerial(t),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, public, ca.key)
	if err != nil {
		t.Fatalf("issuing a certificate: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func FuzzParseCertificates(f *testing.F) {
	ca := newCA(f, "seed CA")
	f.Add(ca.pem)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("not pem"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := parseCertificates("ca_file", "/etc/postcall/ca.pem", data)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificates")
		}
		if err != nil && !strings.Contains(err.Error(), "/etc/postcall/ca.pem") {
			t.Errorf("error %q does not name the file", err)
		}
	})
}

func FuzzParsePrivateKey(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatalf("generating a key: %v", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		f.Fatalf("encoding a key: %v", err)
	}
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("garbage"))

	f.Fuzz(func(t *testing.T, data []byte) {
		signer, err := parsePrivateKey("/etc/postcall/client.key", data)
		if err == nil && signer == nil {
			t.Fatal("no error and no key")
		}
		if err != nil && !strings.Contains(err.Error(), "/etc/postcall/client.key") {
			t.Errorf("error %q does not name the file", err)
		}
	})
}
