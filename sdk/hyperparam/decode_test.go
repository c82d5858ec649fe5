package hyperparam

import (
	"errors"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/sdk/optml"
)

type level int

func (l *level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "low":
		*l = 1
	case "high":
		*l = 2
	default:
		return errors.New("want low or high")
	}
	return nil
}

type config struct {
	Epochs    int             `hp:"epochs" default:"10"`
	LR        float64         `hp:"learning-rate,required"`
	Name      string          `hp:"name"`
	Flag      bool            `hp:"flag"`
	Small     int8            `hp:"small"`
	Count     uint16          `hp:"count"`
	Ratio     float32         `hp:"ratio"`
	Wait      time.Duration   `hp:"wait" default:"30s"`
	Layers    []int           `hp:"layers" default:"64,32"`
	Tags      []string        `hp:"tags"`
	Level     level           `hp:"level" default:"low"`
	Addr      netip.Addr      `hp:"addr"`
	Seed      *int64          `hp:"seed"`
	AddrPtr   *netip.Addr     `hp:"addr-ptr"`
	Skipped   string          `hp:"-"`
	Untagged  string          // not decoded
	Durations []time.Duration `hp:"durations"`
}

func ptr[T any](v T) *T { return &v }

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		hps  optml.Hyperparameters
		want config
	}{
		{
			name: "defaults",
			hps:  optml.Hyperparameters{"learning-rate": "0.1"},
			want: config{Epochs: 10, LR: 0.1, Wait: 30 * time.Second, Layers: []int{64, 32}, Level: 1},
		},
		{
			name: "plain strings",
			hps: optml.Hyperparameters{"epochs": "2", "learning-rate": "0.01", "name": "abc", "flag": "true",
				"small": "-128", "count": "65535", "ratio": "0.5", "wait": "1h30m", "layers": "[1, 2, 3]",
				"tags": "a, b ,c", "level": "high", "addr": "10.0.0.1", "seed": "42", "addr-ptr": "::1",
				"durations": "[1, \"2m\"]", "Untagged": "x", "Skipped": "y"},
			want: config{Epochs: 2, LR: 0.01, Name: "abc", Flag: true, Small: -128, Count: 65535, Ratio: 0.5,
				Wait: 90 * time.Minute, Layers: []int{1, 2, 3}, Tags: []string{"a", "b", "c"}, Level: 2,
				Addr: netip.MustParseAddr("10.0.0.1"), Seed: ptr[int64](42), AddrPtr: ptr(netip.MustParseAddr("::1")),
				Durations: []time.Duration{time.Second, 2 * time.Minute}},
		},
		{
			name: "python sdk quoted form",
			hps: optml.Hyperparameters{"epochs": `"2"`, "learning-rate": "1e-05", "name": `"abc"`, "flag": `"True"`,
				"wait": "300", "tags": `["x", "y"]`, "level": `"high"`, "seed": "null"},
			want: config{Epochs: 2, LR: 1e-05, Name: "abc", Flag: true, Wait: 300 * time.Second,
				Layers: []int{64, 32}, Tags: []string{"x", "y"}, Level: 2, Seed: nil},
		},
		{
			name: "integral float fills an int, number fills a string",
			hps:  optml.Hyperparameters{"epochs": "3.0", "learning-rate": "1", "name": "[1,2]", "wait": "0.5"},
			want: config{Epochs: 3, LR: 1, Name: "[1,2]", Wait: 500 * time.Millisecond, Layers: []int{64, 32}, Level: 1},
		},
		{
			name: "empty list",
			hps:  optml.Hyperparameters{"learning-rate": "NaN", "layers": "", "tags": "[]"},
			want: config{Epochs: 10, LR: math.NaN(), Wait: 30 * time.Second, Layers: []int{}, Tags: []string{}, Level: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got config
			if err := Decode(tt.hps, &got); err != nil {
				t.Fatalf("Decode(%v) error: %v", tt.hps, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("Decode(%v) mismatch (-want +got):\n%s", tt.hps, diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	hps := optml.Hyperparameters{
		"epochs": "ten", "small": "300", "count": "-1", "flag": "maybe", "ratio": "1e39",
		"wait": "soon", "layers": "1,x", "level": "mid", "addr": "nope", "name": "ok",
	}
	var cfg config
	err := Decode(hps, &cfg)
	if err == nil {
		t.Fatal("Decode returned nil error")
	}
	want := []string{
		`hyperparameter "addr": "nope" is not a valid netip.Addr: ParseAddr("nope"): unable to parse IP`,
		`hyperparameter "count": "-1" is not a non-negative integer in the range of uint16`,
		`hyperparameter "epochs": "ten" is not an integer`,
		`hyperparameter "flag": "maybe" is not a boolean (true or false)`,
		`hyperparameter "layers": "1,x" is not a list of int values: item 1, "x", is not an integer`,
		`hyperparameter "learning-rate" is required: set it in the training job's HyperParameters`,
		`hyperparameter "level": "mid" is not a valid hyperparam.level: want low or high`,
		`hyperparameter "ratio": "1e39" is not a number in the range of float32`,
		`hyperparameter "small": "300" is not an integer in the range of int8`,
		`hyperparameter "wait": "soon" is not a duration (such as "90s", "1h30m", or a number of seconds)`,
	}
	if diff := cmp.Diff(strings.Join(want, "\n"), err.Error()); diff != "" {
		t.Errorf("Decode error mismatch (-want +got):\n%s", diff)
	}
	var he *Error
	if !errors.As(err, &he) || he.Key != "addr" || he.Value != "nope" || he.Type != "a valid netip.Addr" {
		t.Errorf("errors.As(*Error) = %+v, want the addr error", he)
	}
	var n int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var he *Error
		if !errors.As(e, &he) {
			t.Errorf("joined error %v is not an *Error", e)
		}
		n++
	}
	if n != len(want) {
		t.Errorf("got %d errors, want %d", n, len(want))
	}
}

func TestDecodeInvalidTarget(t *testing.T) {
	type bad struct {
		M map[string]int `hp:"m"`
	}
	type badOpt struct {
		X int `hp:"x,optional"`
	}
	type unexported struct {
		x int `hp:"x"`
	}
	var s struct{}
	for _, target := range []any{nil, s, &bad{}, &badOpt{}, &unexported{}, new(int)} {
		if err := Decode(optml.Hyperparameters{}, target); !errors.Is(err, ErrInvalidTarget) {
			t.Errorf("Decode(%T) error = %v, want ErrInvalidTarget", target, err)
		}
	}
	_ = unexported{}.x
}

func TestDecodeNullPointer(t *testing.T) {
	var cfg struct {
		P *int `hp:"p" default:"5"`
	}
	if err := Decode(optml.Hyperparameters{"p": "null"}, &cfg); err != nil || cfg.P != nil {
		t.Errorf("Decode(null) = %v, %v; want nil pointer, nil error", cfg.P, err)
	}
	if err := Decode(optml.Hyperparameters{}, &cfg); err != nil || cfg.P == nil || *cfg.P != 5 {
		t.Errorf("Decode(default) = %v, %v; want 5", cfg.P, err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"2", `"2"`, "1e400", "-1", "[1, 2]", "a,b", "true", "null", "90s", "high", `{"a": 1}`, "NaN", "9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		hps := optml.Hyperparameters{}
		for _, k := range []string{"epochs", "learning-rate", "name", "flag", "small", "count", "ratio", "wait",
			"layers", "tags", "level", "addr", "seed", "addr-ptr", "durations"} {
			hps[k] = raw
		}
		var cfg config
		err := Decode(hps, &cfg)
		if err == nil {
			return
		}
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var he *Error
			if !errors.As(e, &he) {
				t.Fatalf("Decode(%q): error %v is not an *Error", raw, e)
			}
			if he.Key == "" || he.Value != raw || !strings.Contains(e.Error(), he.Key) {
				t.Fatalf("Decode(%q): error %+v does not name its key and value", raw, he)
			}
		}
	})
}
