package signing

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Errors that Verify wraps, so that a receiver can tell them apart with
// errors.Is.
var (
	ErrMissingHeader     = errors.New("missing webhook header")
	ErrInvalidTimestamp  = errors.New("invalid webhook-timestamp")
	ErrTimestampTooOld   = errors.New("webhook-timestamp is too old")
	ErrTimestampTooNew   = errors.New("webhook-timestamp is too far in the future")
	ErrSignatureMismatch = errors.New("no webhook-signature matches")
)

// maxTimestampDigits bounds the webhook-timestamp text. Unix seconds fit in
// 11 digits until the year 5138, and 18 digits always fit in an int64.
const maxTimestampDigits = 18

// Verify checks the Standard Webhooks signature of a request against the
// current time. See VerifyAt.
func Verify(secret string, header http.Header, body []byte, tolerance time.Duration) error {
	return VerifyAt(secret, header, body, tolerance, time.Now())
}

// VerifyAt checks that header carries a v1 signature of body made with
// secret, and that its webhook-timestamp lies within tolerance of now.
// header is read with http.Header.Get, so its keys must be canonical, as
// net/http delivers them. The webhook-signature header may list several
// space-separated signatures; one matching v1 signature is enough, and
// other versions are skipped. Signatures are compared in constant time.
//
// The error wraps ErrMissingHeader, ErrInvalidTimestamp, ErrTimestampTooOld,
// ErrTimestampTooNew or ErrSignatureMismatch, or describes an invalid secret
// or tolerance.
func VerifyAt(secret string, header http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		return fmt.Errorf("invalid tolerance %s: it must be positive, for example 5m", tolerance)
	}
	signer, err := New(secret)
	if err != nil {
		return err
	}

	id, stamp, signatures, err := requiredHeaders(header)
	if err != nil {
		return err
	}
	unix, err := parseTimestamp(stamp)
	if err != nil {
		return err
	}
	if err := checkWindow(unix, tolerance, now); err != nil {
		return err
	}

	expected := signer.mac(id, unix, body)
	for _, item := range strings.Fields(signatures) {
		version, encoded, ok := strings.Cut(item, ",")
		if !ok || version != signatureVersion {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			continue
		}
		if hmac.Equal(got, expected) {
			return nil
		}
	}
	return fmt.Errorf("%w: check that the receiver uses the sender's secret and reads the body bytes unchanged", ErrSignatureMismatch)
}

func requiredHeaders(header http.Header) (id, stamp, signatures string, err error) {
	id = header.Get(HeaderID)
	stamp = header.Get(HeaderTimestamp)
	signatures = header.Get(HeaderSignature)
	for _, h := range []struct{ name, value string }{
		{HeaderID, id}, {HeaderTimestamp, stamp}, {HeaderSignature, signatures},
	} {
		if h.value == "" {
			return "", "", "", fmt.Errorf("%w %s", ErrMissingHeader, h.name)
		}
	}
	return id, stamp, signatures, nil
}

func parseTimestamp(stamp string) (int64, error) {
	if len(stamp) > maxTimestampDigits || strings.TrimLeft(stamp, "0123456789") != "" {
		return 0, fmt.Errorf("%w %q: it must be Unix seconds written as decimal digits", ErrInvalidTimestamp, truncate(stamp, 32))
	}
	unix, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %w", ErrInvalidTimestamp, stamp, err)
	}
	return unix, nil
}

func checkWindow(unix int64, tolerance time.Duration, now time.Time) error {
	age := now.Sub(time.Unix(unix, 0))
	if age > tolerance {
		return fmt.Errorf("%w: sent %s ago, more than the tolerance of %s", ErrTimestampTooOld, age.Round(time.Second), tolerance)
	}
	if -age > tolerance {
		return fmt.Errorf("%w: %s ahead, more than the tolerance of %s: check the clocks of sender and receiver", ErrTimestampTooNew, (-age).Round(time.Second), tolerance)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
