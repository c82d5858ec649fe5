package toolkit

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/sdk/hyperparam"
	"github.com/sagekit/sagekit/sdk/optml"
)

var roundTrip = cmp.Options{
	cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 }),
	cmp.Comparer(func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }),
}

// FuzzEnvironment feeds one arbitrary hyperparameter value (under a user
// key and as sagemaker_program) through New: it must not panic, and every
// JSON the toolkit would export must parse back to the same value.
func FuzzEnvironment(f *testing.F) {
	for _, s := range []string{"2", "0.01", `"abc"`, "true", "null", "NaN", "1E400", "-0.0", `[1, {"b": [null]}, "x"]`,
		`{"z": 1, "a": "é😀\u0000"}`, "123456789012345678901234567890", "pure_nccl", "", `"\ud800"`, "x=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		// Values come out of a JSON decoder, which replaces invalid UTF-8.
		raw = strings.ToValidUTF8(raw, "\uFFFD")
		hps := hyperparam.Object{{Key: "value", Value: raw}, {Key: "sagemaker_program", Value: raw}, {Key: raw, Value: "1"}}
		cfg := Config{Hyperparameters: hps, InputDataConfig: hyperparam.Object{}, ResourceConfig: hyperparam.Object{{Key: "current_host", Value: "algo-1"}}}
		env, err := New(optml.At("/opt/ml"), cfg, System{}, func(string) (string, bool) { return "", false })
		if strings.ContainsAny(raw, "=\x00") && !IsReserved(raw) {
			// No environment entry could carry such a key unambiguously.
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("hyperparameter %q", raw)) {
				t.Fatalf("New with the key %q = %v, want an error naming the key", raw, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		for _, vr := range env.Vars {
			if strings.ContainsAny(vr.Name, "=\x00") {
				t.Fatalf("environment name %q is ambiguous", vr.Name)
			}
		}
		if len(env.Args) != 2*len(env.Hyperparameters) {
			t.Fatalf("Args %q for %d hyperparameters", env.Args, len(env.Hyperparameters))
		}
		v := hyperparam.Value(raw)
		back, err := hyperparam.Parse(JSON(v))
		if err != nil {
			t.Fatalf("JSON(%#v) = %s does not parse: %v", v, JSON(v), err)
		}
		if diff := cmp.Diff(sortKeys(v), back, roundTrip); diff != "" {
			t.Fatalf("JSON round trip of %q changed the value:\n%s", raw, diff)
		}
		for _, vr := range env.Vars {
			if vr.Name == "SM_TRAINING_ENV" {
				if _, err := hyperparam.Parse(vr.Value); err != nil {
					t.Fatalf("SM_TRAINING_ENV does not parse: %v", err)
				}
			}
		}
	})
}

// sortKeys sorts every object's keys, as json.dumps(sort_keys=True) does.
func sortKeys(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			out[i] = sortKeys(it)
		}
		return out
	case hyperparam.Object:
		out := make(hyperparam.Object, len(x))
		for i, m := range x {
			out[i] = hyperparam.Member{Key: m.Key, Value: sortKeys(m.Value)}
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
		return out
	}
	return v
}
