package hyperparam

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
)

// Error reports one hyperparameter that cannot be decoded into its field.
type Error struct {
	Key   string // hyperparameter name
	Value string // raw value from hyperparameters.json ("" when missing)
	Type  string // what was expected, e.g. "an integer"
	// Missing is set when a required hyperparameter is absent.
	Missing bool
	// Err is the underlying cause, if any (for example from UnmarshalText).
	Err error
}

func (e *Error) Error() string {
	if e.Missing {
		return fmt.Sprintf("hyperparameter %q is required: set it in the training job's HyperParameters", e.Key)
	}
	msg := fmt.Sprintf("hyperparameter %q: %q is not %s", e.Key, e.Value, e.Type)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ErrInvalidTarget is returned (wrapped) when Decode's target is not a
// non-nil pointer to a struct, or a tagged field has a type Decode cannot fill.
var ErrInvalidTarget = errors.New("invalid decode target")

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType        = reflect.TypeFor[time.Duration]()
)

// Decode fills the struct v points to from hps.
//
// A field takes part when it has an `hp:"name"` tag; `hp:"name,required"`
// makes a missing key an error, and `default:"..."` gives the raw value used
// when the key is missing (decoded by the same rules). Other fields are left
// alone, and so are keys no field names (SageMaker adds its own).
//
// Supported field types: string, bool (true/false in any case, as JSON or
// Python writes them, also t/f, yes/no, y/n, 1/0), all int and uint kinds
// (an integral float such as "3.0" counts), float32 and float64 (also nan
// and inf), time.Duration (a Go duration such as "90s", or a number of
// seconds), slices of these (a JSON list such as "[1, 2]" or a
// comma-separated string "1,2"), pointers to these (nil when the key is
// missing and has no default, or when the value is null), and any type implementing
// encoding.TextUnmarshaler (given the decoded string).
//
// Every value first goes through Value, so both the plain and the JSON-quoted
// forms work: "32" and "\"32\"" both fill an int with 32.
func Decode(hps optml.Hyperparameters, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("%w: Decode needs a non-nil pointer to a struct, got %T", ErrInvalidTarget, v)
	}
	rv = rv.Elem()
	rt := rv.Type()
	var errs []error
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		tag, ok := f.Tag.Lookup("hp")
		if !ok || tag == "-" {
			continue
		}
		if !f.IsExported() {
			return fmt.Errorf("%w: field %s has an hp tag but is not exported", ErrInvalidTarget, f.Name)
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		required := false
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "":
			case "required":
				required = true
			default:
				return fmt.Errorf("%w: field %s: unknown hp tag option %q", ErrInvalidTarget, f.Name, o)
			}
		}
		if err := checkType(f.Type); err != nil {
			return fmt.Errorf("%w: field %s: %v", ErrInvalidTarget, f.Name, err)
		}
		raw, present := hps[name]
		if !present {
			def, hasDefault := f.Tag.Lookup("default")
			switch {
			case hasDefault:
				raw = def
			case required:
				errs = append(errs, &Error{Key: name, Missing: true})
				continue
			default:
				continue
			}
		}
		if err := set(rv.Field(i), Value(raw), raw); err != nil {
			err.Key = name
			err.Value = raw
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].(*Error).Key < errs[j].(*Error).Key })
	return errors.Join(errs...)
}

func checkType(t reflect.Type) error {
	if reflect.PointerTo(t).Implements(textUnmarshalerType) || t == durationType {
		return nil
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Slice || t.Elem().Kind() == reflect.Pointer {
			return fmt.Errorf("unsupported type %s", t)
		}
		return checkType(t.Elem())
	case reflect.Pointer:
		if t.Elem().Kind() == reflect.Pointer {
			return fmt.Errorf("unsupported type %s", t)
		}
		return checkType(t.Elem())
	}
	return fmt.Errorf("unsupported type %s", t)
}

// text is the string a decoded value stands for: a string as itself, other
// values as the raw text they came from.
func text(v any, raw string) string {
	if s, ok := v.(string); ok {
		return s
	}
	return strings.TrimSpace(raw)
}

func set(fv reflect.Value, v any, raw string) *Error {
	t := fv.Type()
	if t.Kind() == reflect.Pointer {
		if v == nil {
			fv.SetZero() // JSON null leaves a pointer nil
			return nil
		}
		p := reflect.New(t.Elem())
		if err := set(p.Elem(), v, raw); err != nil {
			return err
		}
		fv.Set(p)
		return nil
	}
	if fv.CanAddr() && fv.Addr().Type().Implements(textUnmarshalerType) {
		u := fv.Addr().Interface().(encoding.TextUnmarshaler)
		if err := u.UnmarshalText([]byte(text(v, raw))); err != nil {
			return &Error{Type: "a valid " + t.String(), Err: err}
		}
		return nil
	}
	if t == durationType {
		d, ok := toDuration(v, raw)
		if !ok {
			return &Error{Type: `a duration (such as "90s", "1h30m", or a number of seconds)`}
		}
		fv.SetInt(int64(d))
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		fv.SetString(text(v, raw))
	case reflect.Bool:
		b, ok := toBool(v, raw)
		if !ok {
			return &Error{Type: "a boolean (true or false)"}
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := toBig(v, raw)
		if !ok {
			return &Error{Type: "an integer"}
		}
		if !n.IsInt64() || fv.OverflowInt(n.Int64()) {
			return &Error{Type: "an integer in the range of " + t.String()}
		}
		fv.SetInt(n.Int64())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, ok := toBig(v, raw)
		if !ok {
			return &Error{Type: "a non-negative integer"}
		}
		if n.Sign() < 0 || !n.IsUint64() || fv.OverflowUint(n.Uint64()) {
			return &Error{Type: "a non-negative integer in the range of " + t.String()}
		}
		fv.SetUint(n.Uint64())
	case reflect.Float32, reflect.Float64:
		f, ok := toFloat(v, raw)
		if !ok {
			return &Error{Type: "a number"}
		}
		if t.Kind() == reflect.Float32 && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) > math.MaxFloat32 {
			return &Error{Type: "a number in the range of float32"}
		}
		fv.SetFloat(f)
	case reflect.Slice:
		return setSlice(fv, v, raw)
	default:
		return &Error{Type: "a supported type (not " + t.String() + ")"}
	}
	return nil
}

func setSlice(fv reflect.Value, v any, raw string) *Error {
	var items []any
	var raws []string
	switch x := v.(type) {
	case []any:
		items = x
		raws = make([]string, len(x))
		for i, it := range x {
			raws[i] = rawOf(it)
		}
	default:
		s := text(v, raw)
		if strings.TrimSpace(s) != "" {
			for _, part := range strings.Split(s, ",") {
				part = strings.TrimSpace(part)
				items = append(items, Value(part))
				raws = append(raws, part)
			}
		}
	}
	out := reflect.MakeSlice(fv.Type(), len(items), len(items))
	for i := range items {
		if err := set(out.Index(i), items[i], raws[i]); err != nil {
			return &Error{
				Type: "a list of " + fv.Type().Elem().String() + " values",
				Err:  fmt.Errorf("item %d, %q, is not %s", i, raws[i], err.Type),
			}
		}
	}
	fv.Set(out)
	return nil
}

// rawOf renders a list item back to text so that text() and the error
// message have something to show for it.
func rawOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case *big.Int:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

func toBool(v any, raw string) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case int64:
		if x == 0 || x == 1 {
			return x == 1, true
		}
		return false, false
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "t", "yes", "y", "1":
			return true, true
		case "false", "f", "no", "n", "0":
			return false, true
		}
	}
	return false, false
}

func toBig(v any, raw string) (*big.Int, bool) {
	switch x := v.(type) {
	case int64:
		return big.NewInt(x), true
	case *big.Int:
		return x, true
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) || x != math.Trunc(x) {
			return nil, false
		}
		n, _ := big.NewFloat(x).Int(nil)
		return n, true
	case string:
		inner := Value(strings.TrimSpace(x))
		if _, isStr := inner.(string); isStr {
			return nil, false
		}
		return toBig(inner, x)
	}
	return nil, false
}

func toFloat(v any, raw string) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, true
	case float64:
		return x, true
	case string:
		s := strings.TrimSpace(x)
		switch strings.ToLower(s) {
		case "nan":
			return math.NaN(), true
		case "inf", "+inf", "infinity", "+infinity":
			return math.Inf(1), true
		case "-inf", "-infinity":
			return math.Inf(-1), true
		}
		inner := Value(s)
		if _, isStr := inner.(string); isStr {
			return 0, false
		}
		return toFloat(inner, s)
	}
	return 0, false
}

func toDuration(v any, raw string) (time.Duration, bool) {
	switch x := v.(type) {
	case int64, *big.Int, float64:
		secs, _ := toFloat(x, raw)
		d := secs * float64(time.Second)
		if math.IsNaN(d) || math.Abs(d) > math.MaxInt64 {
			return 0, false
		}
		return time.Duration(d), true
	case string:
		s := strings.TrimSpace(x)
		if d, err := time.ParseDuration(s); err == nil {
			return d, true
		}
		inner := Value(s)
		switch inner.(type) {
		case int64, *big.Int, float64:
			return toDuration(inner, s)
		}
	}
	return 0, false
}
