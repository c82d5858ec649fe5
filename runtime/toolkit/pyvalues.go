package toolkit

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/sagekit/sagekit/sdk/hyperparam"
)

func getDefault(o hyperparam.Object, key string, def any) any {
	if v, ok := o.Get(key); ok {
		return v
	}
	return def
}

func setKey(o hyperparam.Object, key string, v any) hyperparam.Object {
	for i := range o {
		if o[i].Key == key {
			o[i].Value = v
			return o
		}
	}
	return append(o, hyperparam.Member{Key: key, Value: v})
}

// truthy is Python's bool(v).
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case *big.Int:
		return x.Sign() != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case hyperparam.Object:
		return len(x) > 0
	}
	return true
}

// pyEqual is Python's == for the scalar values JSON gives.
func pyEqual(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case nil:
		return b == nil
	}
	na, aok := number(a)
	nb, bok := number(b)
	if aok && bok {
		return na.Cmp(nb) == 0
	}
	return false
}

func number(v any) (*big.Float, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return big.NewFloat(1), true
		}
		return big.NewFloat(0), true
	case int64:
		return new(big.Float).SetInt64(x), true
	case *big.Int:
		return new(big.Float).SetInt(x), true
	case float64:
		if x != x || x-x != 0 { // NaN or Inf
			return nil, false
		}
		return big.NewFloat(x), true
	}
	return nil, false
}

// contains is Python's `item in container` for the containers JSON gives.
func contains(container, item any) bool {
	switch c := container.(type) {
	case []any:
		for _, it := range c {
			if pyEqual(it, item) {
				return true
			}
		}
	case string:
		s, ok := item.(string)
		return ok && strings.Contains(c, s)
	case hyperparam.Object:
		s, ok := item.(string)
		if !ok {
			return false
		}
		_, found := c.Get(s)
		return found
	}
	return false
}

// Describe renders vars as NAME=value lines, for logs and golden files.
func Describe(vars []Var) string {
	var b strings.Builder
	for _, v := range vars {
		fmt.Fprintf(&b, "%s=%s\n", v.Name, v.Value)
	}
	return b.String()
}

func kv(key string, v any) hyperparam.Member { return hyperparam.Member{Key: key, Value: v} }
