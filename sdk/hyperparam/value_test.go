package hyperparam

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func bigInt(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return n
}

var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 }),
	cmp.Comparer(func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }),
}

// The wants are what CPython's json.loads returns, or the raw string where
// it raises ValueError (the toolkit's fallback).
func TestValue(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want any
	}{
		{"int", "2", int64(2)},
		{"negative int", "-17", int64(-17)},
		{"float", "0.01", 0.01},
		{"exponent is float", "1e3", 1000.0},
		{"capital exponent", "2E-5", 2e-5},
		{"quoted string", `"train.py"`, "train.py"},
		{"quoted number stays string", `"2"`, "2"},
		{"bare word", "pure_nccl", "pure_nccl"},
		{"true", "true", true},
		{"false", "false", false},
		{"Python True is not JSON", "True", "True"},
		{"null", "null", nil},
		{"NaN", "NaN", math.NaN()},
		{"Infinity", "Infinity", math.Inf(1)},
		{"-Infinity", "-Infinity", math.Inf(-1)},
		{"overflowing float", "1e400", math.Inf(1)},
		{"underflowing float", "1e-400", 0.0},
		{"big int", "123456789012345678901234567890", bigInt("123456789012345678901234567890")},
		{"int64 max", "9223372036854775807", int64(math.MaxInt64)},
		{"int64 max plus one", "9223372036854775808", bigInt("9223372036854775808")},
		{"too many digits", strings.Repeat("9", 4301), strings.Repeat("9", 4301)},
		{"surrounding whitespace", " \t\n42\r\n", int64(42)},
		{"leading zero", "01", "01"},
		{"trailing dot", "1.", "1."},
		{"dangling exponent", "1e", "1e"},
		{"plus sign", "+1", "+1"},
		{"hex", "0x10", "0x10"},
		{"empty", "", ""},
		{"spaces only", "  ", "  "},
		{"list", "[1, 2.5, \"a\", null, true]", []any{int64(1), 2.5, "a", nil, true}},
		{"empty list", "[ ]", []any{}},
		{"trailing comma", "[1,]", "[1,]"},
		{"object keeps order", `{"b": 1, "a": [2]}`, Object{{"b", int64(1)}, {"a", []any{int64(2)}}}},
		{"duplicate key keeps first place, last value", `{"a":1,"b":2,"a":3}`, Object{{"a", int64(3)}, {"b", int64(2)}}},
		{"empty object", "{}", Object{}},
		{"non-string key", "{1: 2}", "{1: 2}"},
		{"escapes", `"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t"},
		{"unicode escape", `"\u00e9\u20AC"`, "é€"},
		{"surrogate pair", `"\ud83d\ude00"`, "😀"},
		{"lone surrogate", `"\ud800x"`, "\ufffdx"},
		{"bad escape", `"\x"`, `"\x"`},
		{"control character", "\"a\tb\"", "\"a\tb\""},
		{"unterminated", `"abc`, `"abc`},
		{"extra data", "1 2", "1 2"},
		{"BOM", "\ufeff1", "\ufeff1"},
		{"utf-8 passes through", `"日本"`, "日本"},
		{"s3 uri", "s3://bucket/key", "s3://bucket/key"},
		{"comma list", "1,2,3", "1,2,3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Value(tt.raw)
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("Value(%q) mismatch (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, raw := range []string{"", "[", "{\"a\"", "{\"a\":}", "nul", "-", "--1", "1.e5", strings.Repeat("[", maxDepth+2)} {
		if _, err := Parse(raw); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) error = %v, want ErrSyntax", raw, err)
		}
	}
}

func TestObjectGet(t *testing.T) {
	o := Value(`{"x": 1, "y": "z"}`).(Object)
	if v, ok := o.Get("y"); !ok || v != "z" {
		t.Errorf(`Get("y") = %v, %v; want "z", true`, v, ok)
	}
	if _, ok := o.Get("missing"); ok {
		t.Error(`Get("missing") found a value`)
	}
	if diff := cmp.Diff([]string{"x", "y"}, o.Keys()); diff != "" {
		t.Errorf("Keys() mismatch (-want +got):\n%s", diff)
	}
}

func checkShape(t *testing.T, v any) {
	t.Helper()
	switch x := v.(type) {
	case nil, bool, int64, float64, string:
	case *big.Int:
		if x.IsInt64() {
			t.Errorf("*big.Int %v fits in int64", x)
		}
	case []any:
		for _, it := range x {
			checkShape(t, it)
		}
	case Object:
		seen := map[string]bool{}
		for _, m := range x {
			if seen[m.Key] {
				t.Errorf("duplicate key %q in Object", m.Key)
			}
			seen[m.Key] = true
			checkShape(t, m.Value)
		}
	default:
		t.Errorf("unexpected type %T", v)
	}
}

func FuzzValue(f *testing.F) {
	for _, s := range []string{"2", "0.01", `"\"train.py\""`, `"train.py"`, "true", "null", "NaN", "-Infinity",
		"[1, [2, {\"a\": null}]]", `{"a":1,"a":2}`, `"\ud83d\ude00"`, "1e400", "01", "pure_nccl", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := Parse(raw)
		got := Value(raw)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrSyntax", raw, err)
			}
			if got != raw {
				t.Fatalf("Value(%q) = %#v, want the raw string after a parse error", raw, got)
			}
			return
		}
		checkShape(t, v)
		if diff := cmp.Diff(v, got, cmpOpts); diff != "" {
			t.Fatalf("Value(%q) differs from Parse:\n%s", raw, diff)
		}
		// The Python SDK's quoted form must always give the string back.
		if utf8.ValidString(raw) {
			q, _ := json.Marshal(raw)
			if back := Value(string(q)); back != raw {
				t.Fatalf("Value(%s) = %#v, want %q", q, back, raw)
			}
		}
	})
}

// manyKeys is a JSON object of n distinct keys, then the first key again.
func manyKeys(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `"key%d": %d, `, i, i)
	}
	b.WriteString(`"key0": "last"}`)
	return b.String()
}

// TestParseManyKeys: parsing is linear in the number of keys (it was
// quadratic: 200,000 keys took over a minute), and a repeated key keeps its
// first place and takes the last value, as json.loads does, at any size.
func TestParseManyKeys(t *testing.T) {
	const n = 200_000
	raw := manyKeys(n)
	start := time.Now()
	v, err := Parse(raw)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	o := v.(Object)
	if len(o) != n || o[0].Key != "key0" || o[0].Value != "last" || o[n-1].Key != fmt.Sprint("key", n-1) {
		t.Fatalf("Parse gave %d keys, first %v, last %v; want %d, key0 = \"last\" first", len(o), o[0], o[len(o)-1], n)
	}
	// Under a second on a quiet machine; the bound leaves room for -race
	// and a loaded CI box, and is still far below quadratic time.
	if took > 10*time.Second {
		t.Errorf("parsing %d keys took %v, want well under 10 s", n, took)
	}
	t.Logf("parsed %d keys in %v", n, took)
	for _, size := range []int{3, indexFrom - 1, indexFrom, indexFrom + 1, 100} {
		o := Value(manyKeys(size)).(Object)
		if len(o) != size || o[0].Value != "last" {
			t.Errorf("%d keys and key0 again: %d keys, key0 = %v; want %d keys, key0 = \"last\"", size, len(o), o[0].Value, size)
		}
	}
}

func BenchmarkParseManyKeys(b *testing.B) {
	raw := manyKeys(200_000)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
