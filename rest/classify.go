package rest

import (
	"errors"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/postcall/postcall/delivery"
)

// Classify returns how an attempt that got a final response with status
// ends: 2xx is delivered; 408 Request Timeout, 425 Too Early, 429 Too Many
// Requests and 5xx are retryable; everything else, redirects included, is
// permanent.
func Classify(status int) delivery.Class {
	switch {
	case status >= 200 && status <= 299:
		return delivery.Delivered
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly, status == http.StatusTooManyRequests:
		return delivery.Retryable
	case status >= 500 && status <= 599:
		return delivery.Retryable
	}
	return delivery.Permanent
}

// ParseRetryAfter returns the delay that a Retry-After header value
// requests, counted from now. The value is either whole seconds or an HTTP date in
// any of the three formats http.ParseTime accepts. A date in the past gives
// 0, a delay above maxDelay gives maxDelay when maxDelay > 0, and an empty
// or invalid value gives 0.
func ParseRetryAfter(value string, now time.Time, maxDelay time.Duration) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}

	var delay time.Duration
	if isDigits(value) {
		seconds, err := strconv.ParseInt(value, 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange) || seconds > math.MaxInt64/int64(time.Second):
			delay = time.Duration(math.MaxInt64)
		case err != nil:
			return 0
		default:
			delay = time.Duration(seconds) * time.Second
		}
	} else {
		at, err := http.ParseTime(value)
		if err != nil {
			return 0
		}
		delay = at.Sub(now)
	}

	if delay < 0 {
		return 0
	}
	if maxDelay > 0 && delay > maxDelay {
		return maxDelay
	}
	return delay
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// RedactURL returns only the scheme, host and port of rawURL, for example
// "https://crm.example.com:443", filling in the default port of http and
// https. The path, query, fragment and userinfo are dropped. A value that
// is not an absolute URL gives "(invalid URL)", so nothing of it leaks.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "(invalid URL)"
	}
	return redactedOrigin(u)
}

func redactedOrigin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = defaultPort(scheme)
	}
	if port == "" {
		return scheme + "://" + u.Hostname()
	}
	return scheme + "://" + net.JoinHostPort(u.Hostname(), port)
}

func defaultPort(scheme string) string {
	switch scheme {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

// sameOrigin reports whether a and b have the same scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(redactedOrigin(a), redactedOrigin(b))
}
