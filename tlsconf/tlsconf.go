// Package tlsconf builds the TLS client configuration of one application
// from its [tls] table: extra trusted roots (ca_file), a client certificate
// for mutual TLS (cert_file and key_file) and the name to verify
// (server_name). Explain turns a certificate verification error into a
// one-line message with the remedy for the operator.
//
// The package must never turn off certificate verification: no
// configuration it returns sets InsecureSkipVerify, and none accepts a
// protocol older than TLS 1.2.
package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/postcall/postcall/conf"
)

// Client returns the TLS configuration for requests of an application with
// the [tls] table c. A zero c gives the system roots and Go's defaults.
//
// CAFile adds the certificates of a PEM bundle to the system roots rather
// than replacing them, so a private CA can be trusted without distrusting
// public ones. When the system roots cannot be loaded, the bundle is the
// only root set. CertFile and KeyFile must be set together. Each error
// names the key, the file and what is wrong with it.
func Client(c conf.TLS) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: c.ServerName,
	}

	if c.CAFile != "" {
		roots, err := rootsWith(c.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = roots
	}

	switch {
	case c.CertFile != "" && c.KeyFile != "":
		cert, err := loadKeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	case c.CertFile != "":
		return nil, fmt.Errorf("tls cert_file %s is set but key_file is missing: set key_file to the certificate's private key", c.CertFile)
	case c.KeyFile != "":
		return nil, fmt.Errorf("tls key_file %s is set but cert_file is missing: set cert_file to the client certificate", c.KeyFile)
	}
	return cfg, nil
}

// rootsWith returns the system roots plus every certificate in the PEM
// bundle at path.
func rootsWith(path string) (*x509.CertPool, error) {
	certs, err := readCertificates("ca_file", path)
	if err != nil {
		return nil, err
	}

	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	for _, cert := range certs {
		roots.AddCert(cert)
	}
	return roots, nil
}

// loadKeyPair reads a client certificate chain and its private key. Unlike
// tls.LoadX509KeyPair, it names the file and key at fault in every error.
func loadKeyPair(certPath, keyPath string) (tls.Certificate, error) {
	chain, err := readCertificates("cert_file", certPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := readPrivateKey(keyPath)
	if err != nil {
		return tls.Certificate{}, err
	}

	public, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !public.Equal(chain[0].PublicKey) {
		return tls.Certificate{}, fmt.Errorf("tls key_file %s does not match the certificate in cert_file %s: "+
			"set key_file to the private key that belongs to that certificate", keyPath, certPath)
	}

	cert := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, nil
}

// readFile reads a file named by the configuration key, with errors that
// name both.
func readFile(key, path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("tls %s %s: file not found: check the path: %w", key, path, err)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("tls %s %s: permission denied: make it readable by the postcall user: %w", key, path, err)
	case err != nil:
		return nil, fmt.Errorf("tls %s %s: read failed: %w", key, path, err)
	}
	return data, nil
}

// readCertificates returns the certificates of the PEM file at path, in
// file order. Blocks of other types are skipped. A file with no
// CERTIFICATE block, or with one that does not parse, is an error.
func readCertificates(key, path string) ([]*x509.Certificate, error) {
	data, err := readFile(key, path)
	if err != nil {
		return nil, err
	}
	return parseCertificates(key, path, data)
}

func parseCertificates(key, path string, data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	blocks := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		blocks++
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tls %s %s: certificate %d is invalid: replace the file with a valid PEM certificate: %w", key, path, len(certs)+1, err)
		}
		certs = append(certs, cert)
	}

	if blocks == 0 {
		return nil, fmt.Errorf("tls %s %s: not a PEM file (no -----BEGIN block found): convert it to PEM, for example with `openssl x509 -inform der -in FILE -out FILE.pem`", key, path)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("tls %s %s: no certificates in it (found %d PEM blocks of other types): point %s at a file with -----BEGIN CERTIFICATE----- blocks", key, path, blocks, key)
	}
	return certs, nil
}

// readPrivateKey returns the first private key of the PEM file at path. It
// accepts PKCS #8 ("PRIVATE KEY"), PKCS #1 ("RSA PRIVATE KEY") and SEC 1
// ("EC PRIVATE KEY") blocks.
func readPrivateKey(path string) (crypto.Signer, error) {
	data, err := readFile("key_file", path)
	if err != nil {
		return nil, err
	}
	return parsePrivateKey(path, data)
}

func parsePrivateKey(path string, data []byte) (crypto.Signer, error) {
	blocks := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		blocks++

		if _, legacy := block.Headers["DEK-Info"]; legacy || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, fmt.Errorf("tls key_file %s: the private key is encrypted: store it unencrypted with mode 0600, for example with `openssl pkey -in FILE -out FILE.plain`", path)
		}

		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tls key_file %s: the %s block is invalid: %w", path, block.Type, err)
		}
		return usableKey(path, key)
	}

	if blocks == 0 {
		return nil, fmt.Errorf("tls key_file %s: not a PEM file (no -----BEGIN block found): convert the key to PEM", path)
	}
	return nil, fmt.Errorf("tls key_file %s: no private key in it (found %d PEM blocks of other types): point key_file at the file with the -----BEGIN PRIVATE KEY----- block", path, blocks)
}

// usableKey checks that key is of a type crypto/tls can sign with.
func usableKey(path string, key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("tls key_file %s: unsupported private key type %T: use an RSA, ECDSA or Ed25519 key", path, key)
}
