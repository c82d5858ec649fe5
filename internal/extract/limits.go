package extract

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits bound what one archive may unpack to. A zero field takes its
// default; a negative one removes that bound.
type Limits struct {
	// Bytes is the total size of the entries: default 50 GiB
	// (DefaultMaxBytes).
	Bytes int64
	// Entries is the number of entries: default 1,000,000.
	Entries int64
	// Ratio bounds the unpacked bytes per byte read from the archive
	// file: default 1000, a little under what gzip reaches on zeros.
	Ratio int64
}

// The defaults: a real model, code directory or image layer fits.
const (
	DefaultMaxBytes   = 50 << 30
	DefaultMaxEntries = 1_000_000
	DefaultMaxRatio   = 1000
)

// The environment variables LimitsFromEnv reads, which errors name.
const (
	EnvMaxBytes   = "SAGEKIT_MAX_EXTRACT_BYTES"
	EnvMaxEntries = "SAGEKIT_MAX_EXTRACT_ENTRIES"
	EnvMaxRatio   = "SAGEKIT_MAX_EXTRACT_RATIO"
)

// The command-line flags that set the same limits where a command offers
// them (see WithFlags).
const (
	FlagMaxBytes   = "max-extract-bytes"
	FlagMaxEntries = "max-extract-entries"
	FlagMaxRatio   = "max-extract-ratio"
)

// ratioFloor is the output below which the ratio is not checked: a tiny
// archive of a sparse or very regular file is no bomb.
const ratioFloor = 1 << 20

func (l Limits) withDefaults() Limits {
	if l.Bytes == 0 {
		l.Bytes = DefaultMaxBytes
	}
	if l.Entries == 0 {
		l.Entries = DefaultMaxEntries
	}
	if l.Ratio == 0 {
		l.Ratio = DefaultMaxRatio
	}
	return l
}

// LimitsFromEnv reads SAGEKIT_MAX_EXTRACT_BYTES (bytes, or a number with
// KiB, MiB, GiB or TiB), SAGEKIT_MAX_EXTRACT_ENTRIES and
// SAGEKIT_MAX_EXTRACT_RATIO through lookup; unset ones keep their default,
// and 0 removes a bound.
func LimitsFromEnv(lookup func(string) string) (Limits, error) {
	var l Limits
	var errs []error
	for _, v := range []struct {
		env  string
		dst  *int64
		size bool
	}{{EnvMaxBytes, &l.Bytes, true}, {EnvMaxEntries, &l.Entries, false}, {EnvMaxRatio, &l.Ratio, false}} {
		s := lookup(v.env)
		if s == "" {
			continue
		}
		n, err := ParseLimit(s, v.size)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", v.env, s, err))
			continue
		}
		*v.dst = n
	}
	return l, errors.Join(errs...)
}

// ParseLimit reads one limit as LimitsFromEnv does: a non-negative integer,
// with a KiB, MiB, GiB or TiB suffix where size is set; 0 becomes -1 (no
// bound).
func ParseLimit(s string, size bool) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	if size {
		for i, suf := range []string{"KiB", "MiB", "GiB", "TiB"} {
			if t, ok := strings.CutSuffix(s, suf); ok {
				s, mult = strings.TrimSpace(t), int64(1)<<(10*(i+1))
				break
			}
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		if size {
			return 0, errors.New("want a non-negative number of bytes, optionally with KiB, MiB, GiB or TiB (0: no limit)")
		}
		return 0, errors.New("want a non-negative integer (0: no limit)")
	}
	if n == 0 {
		return -1, nil
	}
	if n > (1<<63-1)/mult {
		return 0, errors.New("too large")
	}
	return n * mult, nil
}

// ErrLimit is what a LimitError matches with errors.Is.
var ErrLimit = errors.New("archive over a limit")

// LimitError says which limit an archive went over and how to raise it.
type LimitError struct {
	What  string // what went over: "size", "entries", "ratio"
	Limit int64
	Env   string
	Flag  string // empty where the command has no flag for it
}

func (e *LimitError) Error() string {
	var msg string
	switch e.What {
	case "size":
		msg = "unpacks to more than " + formatBytes(e.Limit)
	case "entries":
		msg = fmt.Sprintf("holds more than %d entries", e.Limit)
	default:
		msg = fmt.Sprintf("unpacks to more than %d times its own size, as a decompression bomb does", e.Limit)
	}
	how := e.Env
	if e.Flag != "" {
		how = "--" + e.Flag + " or " + e.Env
	}
	return msg + " (raise the limit with " + how + "; 0 removes it)"
}

// Is makes errors.Is(err, ErrLimit) hold.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

func formatBytes(n int64) string {
	for _, u := range []struct {
		s string
		n int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.n && n%u.n == 0 {
			return fmt.Sprintf("%d %s", n/u.n, u.s)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
