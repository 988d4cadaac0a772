// Package signing signs post-call requests the way the Standard Webhooks
// specification (version 1.0.0, github.com/standard-webhooks/standard-webhooks)
// describes for symmetric keys: an HMAC-SHA256 over "id.timestamp.body",
// sent in the webhook-id, webhook-timestamp and webhook-signature headers.
// Verify checks such a signature, for tests and for receivers written in Go.
//
// The package must never reveal a key: no error, String or GoString output
// contains the secret or the key bytes.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/postcall/postcall/delivery"
)

// The header names the specification fixes.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix marks a secret written as the specification serializes it:
// the prefix followed by the standard base64 encoding of the key bytes.
const SecretPrefix = "whsec_"

// signatureVersion is the identifier of a symmetric (HMAC-SHA256) signature.
const signatureVersion = "v1"

// Signer computes Standard Webhooks signatures with one key. It is safe for
// concurrent use.
type Signer struct {
	key []byte
}

// New returns a Signer for secret. A secret that starts with "whsec_" is
// decoded as base64 after the prefix, as the specification writes it. Any
// other secret is taken as the key bytes themselves, so an operator can
// share a plain text key with a receiver that uses it verbatim.
//
// NOTE: the reference libraries of the specification also base64-decode a
// secret without the prefix. A receiver built on them needs the "whsec_"
// form of the key.
//
// The specification recommends keys of 24 to 64 bytes; New rejects only an
// empty key, because the receiver chooses the key.
func New(secret string) (*Signer, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return nil, err
	}
	return &Signer{key: key}, nil
}

func decodeSecret(secret string) ([]byte, error) {
	if secret == "" {
		return nil, errors.New("signing secret is empty: set secret, secret_file or secret_env in [signing]")
	}
	encoded, prefixed := strings.CutPrefix(secret, SecretPrefix)
	if !prefixed {
		return []byte(secret), nil
	}

	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		// base64.CorruptInputError carries only an offset, never the input.
		return nil, fmt.Errorf("signing secret starts with %q but the rest is not valid standard base64 (%w): "+
			"copy the key exactly as the receiver issued it, or drop the prefix to use the text as the key", SecretPrefix, err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("signing secret %q contains no key bytes: copy the whole key the receiver issued", SecretPrefix)
	}
	return key, nil
}

// Sign returns the signature of body for message id and time ts, in the
// header form "v1,<base64 of HMAC-SHA256 of id.unix-seconds.body>".
//
// The specification requires that id contain no full stop, so that the signed
// content splits one way only. Sign does not check it; postcall passes the
// job key, which is built from UUIDs.
func (s *Signer) Sign(id string, ts time.Time, body []byte) string {
	return signatureVersion + "," + base64.StdEncoding.EncodeToString(s.mac(id, ts.Unix(), body))
}

// Headers returns the three headers that carry a signature of body, in the
// order webhook-id, webhook-timestamp, webhook-signature. Every attempt of
// a job should use the same id and a fresh ts, as the specification recommends.
func (s *Signer) Headers(id string, ts time.Time, body []byte) []delivery.Field {
	return []delivery.Field{
		{Name: HeaderID, Value: id},
		{Name: HeaderTimestamp, Value: strconv.FormatInt(ts.Unix(), 10)},
		{Name: HeaderSignature, Value: s.Sign(id, ts, body)},
	}
}

// String returns a description without the key, so that printing a Signer
// with %v or %+v never reveals it.
func (s *Signer) String() string { return "signing.Signer{key: redacted}" }

// GoString returns the same redacted description for %#v.
func (s *Signer) GoString() string { return s.String() }

func (s *Signer) mac(id string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}
