package serving_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sagekit/sagekit/sdk/serve"
	"github.com/sagekit/sagekit/serving"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestOptionsFromEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // substrings of the error; none for success
	}{
		{"empty", nil, nil},
		{"all good", map[string]string{
			"SAGEMAKER_BIND_TO_PORT": "9000", "SAGEMAKER_SAFE_PORT_RANGE": "9100-9110", "SAGEKIT_METRICS_PORT": "auto",
			"SAGEMAKER_MAX_PAYLOAD_IN_MB": "20", "SAGEMAKER_MODEL_SERVER_TIMEOUT": "30", "SAGEMAKER_STARTUP_TIMEOUT": "5",
			"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_BATCH_STRATEGY": "MULTI_RECORD", "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "2",
			"SAGEKIT_SHUTDOWN_GRACE": "10s",
		}, nil},
		{"every problem at once", map[string]string{
			"SAGEMAKER_BIND_TO_PORT": "http", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "-1", "SAGEMAKER_MODEL_SERVER_TIMEOUT": "1m",
			"SAGEMAKER_BATCH_STRATEGY": "BOTH", "SAGEMAKER_MULTI_MODEL": "yes please",
		}, []string{"SAGEMAKER_BIND_TO_PORT", "SAGEMAKER_MAX_PAYLOAD_IN_MB", "SAGEMAKER_MODEL_SERVER_TIMEOUT", "SAGEMAKER_BATCH_STRATEGY", "SAGEMAKER_MULTI_MODEL"}},
		{"metrics port outside the safe range", map[string]string{"SAGEMAKER_SAFE_PORT_RANGE": "9100-9110", "SAGEKIT_METRICS_PORT": "9200"}, []string{"outside"}},
		{"auto without a range", map[string]string{"SAGEKIT_METRICS_PORT": "auto"}, []string{"SAGEMAKER_SAFE_PORT_RANGE"}},
		{"bad shutdown grace", map[string]string{"SAGEKIT_SHUTDOWN_GRACE": "25"}, []string{"SAGEKIT_SHUTDOWN_GRACE", "Go duration"}},
		{"bad range", map[string]string{"SAGEMAKER_SAFE_PORT_RANGE": "9110-9100"}, []string{"SAGEMAKER_SAFE_PORT_RANGE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := serving.OptionsFromEnv(lookup(tt.env))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("OptionsFromEnv(%v) = %v, want no error", tt.env, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("OptionsFromEnv(%v) = nil, want an error", tt.env)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestOptionsFromEnvExecutionParameters(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{nil, `{"MaxConcurrentTransforms":3,"BatchStrategy":"MultiRecord","MaxPayloadInMB":6}`},
		{map[string]string{"SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "50"},
			`{"MaxConcurrentTransforms":2,"BatchStrategy":"SingleRecord","MaxPayloadInMB":50}`},
		{map[string]string{"SAGEMAKER_BATCH_STRATEGY": "MultiRecord", "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "8"},
			`{"MaxConcurrentTransforms":8,"BatchStrategy":"MultiRecord","MaxPayloadInMB":6}`},
	}
	for _, tt := range tests {
		opts, err := serving.OptionsFromEnv(lookup(tt.env))
		if err != nil {
			t.Fatal(err)
		}
		s := serving.New(echoLen, append(opts, serving.WithConcurrency(3))...)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/execution-parameters", nil))
		if got := strings.TrimSpace(rec.Body.String()); got != tt.want {
			t.Errorf("env %v: /execution-parameters = %s, want %s", tt.env, got, tt.want)
		}
	}
}

func TestOptionsFromEnvLimits(t *testing.T) {
	opts, err := serving.OptionsFromEnv(lookup(map[string]string{"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1", "SAGEMAKER_BASE_DIR": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	ts := start(t, echoLen, opts...)
	for _, tt := range []struct{ n, status int }{{1 << 20, 200}, {1<<20 + 1, 413}} {
		resp := post(t, ts.URL+"/invocations", "application/octet-stream", make([]byte, tt.n))
		readBody(t, resp)
		if resp.StatusCode != tt.status {
			t.Errorf("SAGEMAKER_MAX_PAYLOAD_IN_MB=1, %d bytes: %d, want %d", tt.n, resp.StatusCode, tt.status)
		}
	}
}

func TestParsePortRange(t *testing.T) {
	r, err := serving.ParsePortRange("9000-9002")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := r.Next(9000); p != 9001 {
		t.Errorf("Next(9000) = %d, want 9001", p)
	}
	if _, err := r.Next(9000, 9001, 9002); err == nil {
		t.Error("Next with every port used = nil error")
	}
}

func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"9000-9100", "1-65535", "x", "9-8", " 1 - 2 ", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := serving.ParsePortRange(s)
		if err == nil && (r.First < 1 || r.Last > 65535 || r.First > r.Last) {
			t.Errorf("ParsePortRange(%q) = %+v, an impossible range", s, r)
		}
	})
}

// deadlineProbe reports how far off its contexts' deadlines are.
type deadlineProbe struct{ load time.Duration }

func (p *deadlineProbe) Load(ctx context.Context, _ string) error {
	if dl, ok := ctx.Deadline(); ok {
		p.load = time.Until(dl)
	}
	return nil
}

func (p *deadlineProbe) Invoke(ctx context.Context, _ *serve.Request) (*serve.Response, error) {
	left := "none"
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl).String()
	}
	return &serve.Response{Body: []byte(left)}, nil
}

// TestDefaultTimeouts observes the toolkit's defaults with no variable
// set: 600 s to load the model, 60 s per request.
func TestDefaultTimeouts(t *testing.T) {
	opts, err := serving.OptionsFromEnv(lookup(map[string]string{"SAGEMAKER_BASE_DIR": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	p := &deadlineProbe{}
	ts := start(t, p, opts...)
	if p.load <= 590*time.Second || p.load > 600*time.Second {
		t.Errorf("Load's deadline is %s away, want 600s (SAGEMAKER_STARTUP_TIMEOUT's default)", p.load)
	}
	body := readBody(t, post(t, ts.URL+"/invocations", "text/plain", []byte("x")))
	left, err := time.ParseDuration(body)
	if err != nil {
		t.Fatalf("Invoke's deadline: %q", body)
	}
	if left <= 50*time.Second || left > 60*time.Second {
		t.Errorf("Invoke's deadline is %s away, want 60s (SAGEMAKER_MODEL_SERVER_TIMEOUT's default)", left)
	}
}
