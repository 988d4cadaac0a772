package conf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("1.5s",
// "10m") in TOML.
type Duration time.Duration

// UnmarshalText parses a duration such as "30s" or "1h30m".
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("invalid duration %q: write a number with a unit, for example \"30s\" or \"5m\"", text)
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %q: it must not be negative", text)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a byte count written as a string with an optional unit ("64KiB",
// "1MiB", "512") in TOML.
type Size int64

// UnmarshalText parses a size such as "64KiB" or "2MB".
func (s *Size) UnmarshalText(text []byte) error {
	str := strings.TrimSpace(string(text))
	units := []struct {
		suffix string
		factor int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"B", 1},
	}
	factor := int64(1)
	for _, u := range units {
		if strings.HasSuffix(str, u.suffix) {
			factor = u.factor
			str = strings.TrimSpace(strings.TrimSuffix(str, u.suffix))
			break
		}
	}
	n, err := strconv.ParseInt(str, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("invalid size %q: write a whole number with an optional unit, for example \"64KiB\"", text)
	}
	*s = Size(n * factor)
	return nil
}

// MarshalText writes the size in bytes.
func (s Size) MarshalText() ([]byte, error) { return []byte(strconv.FormatInt(int64(s), 10)), nil }
