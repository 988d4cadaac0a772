package signing

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The published test vector of the Standard Webhooks specification: the
// Go library's TestWebhookSign in the repository
// standard-webhooks/standard-webhooks (libraries/go/webhook_test.go). The
// expected signature was also recomputed independently with
// `openssl dgst -sha256 -mac HMAC -macopt hexkey:<key>` over
// "msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}".
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignPublishedVector(t *testing.T) {
	s, err := New(vectorSecret)
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	got := s.Sign(vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if got != vectorSignature {
		t.Errorf("Sign = %q, want %q", got, vectorSignature)
	}
}

func TestSignUsesUnixSeconds(t *testing.T) {
	s, err := New(vectorSecret)
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	// Sub-second parts and the time zone must not change the signed text.
	ts := time.Unix(vectorTimestamp, 999_999_999).In(time.FixedZone("UTC-5", -5*3600))
	got := s.Sign(vectorID, ts, []byte(vectorBody))
	if got != vectorSignature {
		t.Errorf("Sign = %q, want %q", got, vectorSignature)
	}
}

func TestNewSecretForms(t *testing.T) {
	key24 := []byte("0123456789abcdefghijklmn")
	tests := []struct {
		name    string
		secret  string
		wantKey []byte
		wantErr string
	}{
		{name: "prefixed base64", secret: SecretPrefix + base64.StdEncoding.EncodeToString(key24), wantKey: key24},
		{name: "raw text", secret: "plain text key", wantKey: []byte("plain text key")},
		{name: "base64 without prefix is raw", secret: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", wantKey: []byte("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")},
		{name: "empty", secret: "", wantErr: "empty"},
		{name: "prefix only", secret: SecretPrefix, wantErr: "no key bytes"},
		{name: "prefix with invalid base64", secret: SecretPrefix + "not*base64!", wantErr: "not valid standard base64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.secret)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("New(%q) succeeded, want an error containing %q", tc.secret, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if !bytes.Equal(s.key, tc.wantKey) {
				t.Errorf("key = %q, want %q", s.key, tc.wantKey)
			}
		})
	}
}

func TestNewErrorHidesSecret(t *testing.T) {
	secrets := []string{
		SecretPrefix + "c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhaw*",
		SecretPrefix + "%%%%hidden-token-value",
	}
	for _, secret := range secrets {
		_, err := New(secret)
		if err == nil {
			t.Fatalf("New(%q) succeeded, want an error", secret)
		}
		body := strings.TrimPrefix(secret, SecretPrefix)
		if strings.Contains(err.Error(), body) {
			t.Errorf("error %q reveals the secret", err)
		}
		if strings.Contains(err.Error(), body[:8]) {
			t.Errorf("error %q reveals the start of the secret", err)
		}
	}
}

func TestSignerPrintRedacted(t *testing.T) {
	s, err := New("top-secret-signing-key")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, s)
		if strings.Contains(out, "top-secret") {
			t.Errorf("%s prints the key: %q", format, out)
		}
		if !strings.Contains(out, "redacted") {
			t.Errorf("%s output %q does not say the key is redacted", format, out)
		}
	}
}

func TestHeadersNamesAndValues(t *testing.T) {
	s, err := New(vectorSecret)
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	fields := s.Headers(vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	want := [][2]string{
		{"webhook-id", vectorID},
		{"webhook-timestamp", strconv.Itoa(vectorTimestamp)},
		{"webhook-signature", vectorSignature},
	}
	if len(fields) != len(want) {
		t.Fatalf("Headers returned %d fields, want %d: %v", len(fields), len(want), fields)
	}
	for i, w := range want {
		if fields[i].Name != w[0] {
			t.Errorf("field %d name = %q, want %q", i, fields[i].Name, w[0])
		}
		if fields[i].Value != w[1] {
			t.Errorf("field %d (%s) value = %q, want %q", i, w[0], fields[i].Value, w[1])
		}
	}
}

func vectorHeader() http.Header {
	h := http.Header{}
	h.Set(HeaderID, vectorID)
	h.Set(HeaderTimestamp, strconv.Itoa(vectorTimestamp))
	h.Set(HeaderSignature, vectorSignature)
	return h
}

// vectorRawKey returns the key bytes of the published vector as a string,
// the form New takes for a secret without the "whsec_" prefix.
func vectorRawKey(t *testing.T) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(vectorSecret, SecretPrefix))
	if err != nil {
		t.Fatalf("decoding the vector key: %v", err)
	}
	return string(key)
}

func TestVerifyCases(t *testing.T) {
	const tolerance = 5 * time.Minute
	sent := time.Unix(vectorTimestamp, 0)
	otherSignature := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="

	tests := []struct {
		name    string
		secret  string
		modify  func(h http.Header)
		body    string
		now     time.Time
		wantErr error
	}{
		{name: "valid", now: sent.Add(time.Minute)},
		{name: "valid with key given raw", secret: vectorRawKey(t), now: sent},
		{name: "missing id", modify: func(h http.Header) { h.Del(HeaderID) }, now: sent, wantErr: ErrMissingHeader},
		{name: "missing timestamp", modify: func(h http.Header) { h.Del(HeaderTimestamp) }, now: sent, wantErr: ErrMissingHeader},
		{name: "missing signature", modify: func(h http.Header) { h.Del(HeaderSignature) }, now: sent, wantErr: ErrMissingHeader},
		{name: "other signature", modify: func(h http.Header) { h.Set(HeaderSignature, otherSignature) }, now: sent, wantErr: ErrSignatureMismatch},
		{name: "body changed", body: `{"test": 2432232315}`, now: sent, wantErr: ErrSignatureMismatch},
		{name: "id changed", modify: func(h http.Header) { h.Set(HeaderID, vectorID+"x") }, now: sent, wantErr: ErrSignatureMismatch},
		{name: "timestamp changed", modify: func(h http.Header) { h.Set(HeaderTimestamp, strconv.Itoa(vectorTimestamp+1)) }, now: sent, wantErr: ErrSignatureMismatch},
		{name: "wrong secret", secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key of 24 bytes!")), now: sent, wantErr: ErrSignatureMismatch},
		{name: "too old", now: sent.Add(tolerance + time.Second), wantErr: ErrTimestampTooOld},
		{name: "too new", now: sent.Add(-tolerance - time.Second), wantErr: ErrTimestampTooNew},
		{name: "at tolerance edge", now: sent.Add(tolerance)},
		{name: "timestamp not a number", modify: func(h http.Header) { h.Set(HeaderTimestamp, "1614265330.5") }, now: sent, wantErr: ErrInvalidTimestamp},
		{name: "negative timestamp", modify: func(h http.Header) { h.Set(HeaderTimestamp, "-1614265330") }, now: sent, wantErr: ErrInvalidTimestamp},
		{name: "huge timestamp", modify: func(h http.Header) { h.Set(HeaderTimestamp, strings.Repeat("9", 40)) }, now: sent, wantErr: ErrInvalidTimestamp},
		{
			name:   "one of several signatures matches",
			modify: func(h http.Header) { h.Set(HeaderSignature, otherSignature+" v1a,AAAA "+vectorSignature+" v2,x") },
			now:    sent,
		},
		{
			name:    "valid signature under another version",
			modify:  func(h http.Header) { h.Set(HeaderSignature, "v1a,"+strings.TrimPrefix(vectorSignature, "v1,")) },
			now:     sent,
			wantErr: ErrSignatureMismatch,
		},
		{name: "signature without comma", modify: func(h http.Header) { h.Set(HeaderSignature, "v1") }, now: sent, wantErr: ErrSignatureMismatch},
		{name: "signature not base64", modify: func(h http.Header) { h.Set(HeaderSignature, "v1,@@@@") }, now: sent, wantErr: ErrSignatureMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			secret := tc.secret
			if secret == "" {
				secret = vectorSecret
			}
			body := tc.body
			if body == "" {
				body = vectorBody
			}
			h := vectorHeader()
			if tc.modify != nil {
				tc.modify(h)
			}

			err := VerifyAt(secret, h, []byte(body), tolerance, tc.now)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("VerifyAt: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("VerifyAt error = %v, want one wrapping %v", err, tc.wantErr)
			}
		})
	}
}

func TestVerifyRejectsBadArguments(t *testing.T) {
	now := time.Unix(vectorTimestamp, 0)
	if err := VerifyAt(vectorSecret, vectorHeader(), []byte(vectorBody), 0, now); err == nil {
		t.Error("VerifyAt with a zero tolerance succeeded, want an error")
	}
	if err := VerifyAt("", vectorHeader(), []byte(vectorBody), time.Minute, now); err == nil {
		t.Error("VerifyAt with an empty secret succeeded, want an error")
	}
}

func TestVerifyUsesCurrentTime(t *testing.T) {
	s, err := New("receiver shared key")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	body := []byte(`{"call":"done"}`)

	h := http.Header{}
	for _, f := range s.Headers("job-1", time.Now(), body) {
		h.Set(f.Name, f.Value)
	}
	if err := Verify("receiver shared key", h, body, time.Minute); err != nil {
		t.Errorf("Verify of a fresh signature: %v", err)
	}

	h = http.Header{}
	for _, f := range s.Headers("job-1", time.Now().Add(-time.Hour), body) {
		h.Set(f.Name, f.Value)
	}
	if err := Verify("receiver shared key", h, body, time.Minute); !errors.Is(err, ErrTimestampTooOld) {
		t.Errorf("Verify of an hour-old signature = %v, want ErrTimestampTooOld", err)
	}
}

// TestSignedRequestReceived sends signed requests to an HTTP receiver on
// loopback and checks that the receiver verifies exactly what was sent.
func TestSignedRequestReceived(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	verdicts := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			verdicts <- err
			return
		}
		verdicts <- Verify(secret, r.Header, body, 5*time.Minute)
	}))
	defer srv.Close()

	s, err := New(secret)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tests := []struct {
		name       string
		sentBody   string
		signedBody string
		wantErr    error
	}{
		{name: "body as signed", sentBody: "caller=%2B15551234567&score=9", signedBody: "caller=%2B15551234567&score=9"},
		{name: "body altered in transit", sentBody: "caller=%2B15551234567&score=1", signedBody: "caller=%2B15551234567&score=9", wantErr: ErrSignatureMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(tc.sentBody))
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			for _, f := range s.Headers("call-7f3c", time.Now(), []byte(tc.signedBody)) {
				req.Header.Set(f.Name, f.Value)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			resp.Body.Close()

			got := <-verdicts
			if tc.wantErr == nil && got != nil {
				t.Errorf("receiver rejected the request: %v", got)
			}
			if tc.wantErr != nil && !errors.Is(got, tc.wantErr) {
				t.Errorf("receiver verdict = %v, want %v", got, tc.wantErr)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(vectorID, strconv.Itoa(vectorTimestamp), vectorSignature, []byte(vectorBody))
	f.Add("msg_1", "0", "v1,AAAA v1a,BBBB", []byte(""))
	f.Add("", "99999999999999999999", "v1,", []byte("{}"))
	f.Add("id.with.dots", "+12", " v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=  ", []byte("\x00\xff"))

	s, err := New(vectorSecret)
	if err != nil {
		f.Fatalf("New: %v", err)
	}
	now := time.Unix(vectorTimestamp, 0)

	f.Fuzz(func(t *testing.T, id, stamp, signature string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, stamp)
		h.Set(HeaderSignature, signature)

		// VerifyAt must return for any input, never panic.
		_ = VerifyAt(vectorSecret, h, body, time.Hour, now)

		// A signature made by Sign must always verify.
		if id == "" {
			return
		}
		ts := time.Unix(vectorTimestamp, 0)
		h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
		h.Set(HeaderSignature, signature+" "+s.Sign(id, ts, body))
		if err := VerifyAt(vectorSecret, h, body, time.Hour, now); err != nil {
			t.Errorf("VerifyAt of a fresh signature for id %q: %v", id, err)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	s, err := New(vectorSecret)
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	body := bytes.Repeat([]byte("x"), 2048)
	ts := time.Unix(vectorTimestamp, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		s.Sign(vectorID, ts, body)
	}
}
