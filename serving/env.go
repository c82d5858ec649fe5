package serving

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
)

// PortRange is an inclusive range of ports, as SAGEMAKER_SAFE_PORT_RANGE
// gives it ("XXXX-YYYY").
type PortRange struct{ First, Last int }

// ParsePortRange parses "XXXX-YYYY".
func ParsePortRange(s string) (PortRange, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	first, err1 := strconv.Atoi(strings.TrimSpace(a))
	last, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || first < 1 || last > 65535 || first > last {
		return PortRange{}, fmt.Errorf("port range %q: want two ports FIRST-LAST, 1 ≤ FIRST ≤ LAST ≤ 65535", s)
	}
	return PortRange{first, last}, nil
}

// Contains reports whether port is in the range.
func (r PortRange) Contains(port int) bool { return port >= r.First && port <= r.Last }

// Next returns the first port of the range that is not in use, like the
// legacy toolkit's next_safe_port.
func (r PortRange) Next(used ...int) (int, error) {
next:
	for p := r.First; p <= r.Last; p++ {
		for _, u := range used {
			if p == u {
				continue next
			}
		}
		return p, nil
	}
	return 0, fmt.Errorf("no free port left in the range %d-%d", r.First, r.Last)
}

// OptionsFromEnv turns the hosting environment into options: the port
// (SAGEMAKER_BIND_TO_PORT), the body limit (SAGEMAKER_MAX_PAYLOAD_IN_MB), the
// request and start-up timeouts in seconds (SAGEMAKER_MODEL_SERVER_TIMEOUT,
// _TIMEOUT_SECONDS, SAGEMAKER_STARTUP_TIMEOUT), multi-model mode
// (SAGEMAKER_MULTI_MODEL), the batch execution parameters, the model
// directories (SAGEMAKER_BASE_DIR), the metrics port (SAGEKIT_METRICS_PORT,
// a port or "auto", checked against SAGEMAKER_SAFE_PORT_RANGE) and the drain
// after SIGTERM (SAGEKIT_SHUTDOWN_GRACE, a Go duration) and the HTTP
// server (SAGEKIT_HTTP_SERVER, sagekit or net/http). Every bad
// value is reported at once.
func OptionsFromEnv(lookup func(string) (string, bool)) ([]Option, error) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	var errs []error
	positive := func(k string) int {
		v := get(k)
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a whole number above 0", k, v))
			return 0
		}
		return n
	}
	paths := optml.FromLookup(lookup)
	opts := []Option{WithModelDir(paths.Model()), WithModelsDir(paths.Models())}

	port := optml.DefaultPort
	if n := positive(optml.EnvBindToPort); n > 0 {
		if n > 65535 {
			errs = append(errs, fmt.Errorf("%s=%d: not a port", optml.EnvBindToPort, n))
		}
		port = n
	}
	opts = append(opts, WithAddr(net.JoinHostPort("", strconv.Itoa(port))))

	var ep optml.ExecutionParameters
	if v := get(optml.EnvMaxPayloadInMB); v == "0" {
		// 0 means "no limit" to batch transform; keep memory bounded at
		// the batch ceiling of 100 MB.
		opts = append(opts, WithMaxBodyBytes(100<<20))
		ep.MaxPayloadInMB = 100
	} else if n := positive(optml.EnvMaxPayloadInMB); n > 0 {
		opts = append(opts, WithMaxBodyBytes(int64(n)<<20))
		ep.MaxPayloadInMB = n
	}
	timeout := positive(optml.EnvModelServerTimeout)
	if n := positive(optml.EnvModelServerTimeoutSeconds); n > 0 {
		timeout = n
	}
	if timeout > 0 {
		opts = append(opts, WithTimeout(time.Duration(timeout)*time.Second))
	}
	switch v := get(optml.EnvHTTPServer); v {
	case "", "sagekit":
	case "net/http":
		opts = append(opts, WithNetHTTP(true))
	default:
		errs = append(errs, fmt.Errorf("%s=%q: want sagekit or net/http", optml.EnvHTTPServer, v))
	}
	if v := get(optml.EnvShutdownGrace); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive Go duration such as 25s", optml.EnvShutdownGrace, v))
		} else {
			opts = append(opts, WithShutdownTimeout(d))
		}
	}
	if n := positive(optml.EnvStartupTimeout); n > 0 {
		opts = append(opts, WithStartupTimeout(time.Duration(n)*time.Second))
	}
	if v := get(optml.EnvMultiModel); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: want true or false", optml.EnvMultiModel, v))
		}
		opts = append(opts, WithMultiModel(on))
	}
	if v := get(optml.EnvBatchStrategy); v != "" {
		s, err := optml.ParseBatchStrategy(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: want MULTI_RECORD or SINGLE_RECORD", optml.EnvBatchStrategy, v))
		}
		ep.BatchStrategy = s
	}
	ep.MaxConcurrentTransforms = positive(optml.EnvMaxConcurrentTransforms)
	opts = append(opts, WithExecutionParameters(ep))

	var safe *PortRange
	if v := get(optml.EnvSafePortRange); v != "" {
		r, err := ParsePortRange(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", optml.EnvSafePortRange, err))
		} else {
			safe = &r
		}
	}
	if v := get(optml.EnvMetricsPort); v != "" {
		mp := 0
		switch {
		case v == "auto" && safe != nil:
			p, err := safe.Next(port)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=auto: %w", optml.EnvMetricsPort, err))
			}
			mp = p
		case v == "auto":
			errs = append(errs, fmt.Errorf("%s=auto needs %s to pick from: set a port number instead", optml.EnvMetricsPort, optml.EnvSafePortRange))
		default:
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > 65535 {
				errs = append(errs, fmt.Errorf("%s=%q: want a port number or \"auto\"", optml.EnvMetricsPort, v))
			} else if safe != nil && !safe.Contains(n) {
				errs = append(errs, fmt.Errorf("%s=%d is outside %s=%d-%d: SageMaker only allows extra ports from that range", optml.EnvMetricsPort, n, optml.EnvSafePortRange, safe.First, safe.Last))
			} else if n == port {
				errs = append(errs, fmt.Errorf("%s=%d is the serving port: pick another", optml.EnvMetricsPort, n))
			}
			mp = n
		}
		if mp > 0 {
			opts = append(opts, WithMetricsAddr(net.JoinHostPort("", strconv.Itoa(mp))))
		}
	}
	return opts, errors.Join(errs...)
}
