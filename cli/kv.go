package cli

import (
	"fmt"
	"regexp"
	"strings"
)

// The repeatable KEY=VALUE flags (--env, --label, --hyperparameter, ...)
// are read here, the same way for every command, local or on SageMaker.

var envKey = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// parseKV adds each KEY=VALUE of flag to into; a later KEY wins.
func parseKV(flag string, kvs []string, into map[string]string) error {
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("%s %q: want KEY=VALUE", flag, kv)
		}
		into[k] = v
	}
	return nil
}

// kvMap reads flag's KEY=VALUE values; nil when there are none.
func kvMap(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	if err := parseKV(flag, kvs, m); err != nil {
		return nil, err
	}
	return m, nil
}

// parseEnv reads --env NAME=VALUE flags; nil when there are none.
func parseEnv(kvs []string) (map[string]string, error) {
	for _, kv := range kvs {
		if k, _, ok := strings.Cut(kv, "="); !ok || !envKey.MatchString(k) {
			return nil, fmt.Errorf("--env %q: want NAME=VALUE with NAME matching [a-zA-Z_][a-zA-Z0-9_]*", kv)
		}
	}
	return kvMap("--env", kvs)
}

// parseLabels reads --label KEY=VALUE flags: labels on what runs locally,
// tags on SageMaker; nil when there are none.
func parseLabels(kvs []string) (map[string]string, error) { return kvMap("--label", kvs) }
