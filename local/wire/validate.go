package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Decode validates body as the input of op against the model, refuses any
// member that allowed does not cover, and decodes it into v. Errors are
// ValidationExceptions worded as AWS words them ("1 validation error
// detected: Value null at 'roleArn' failed to satisfy constraint: Member
// must not be null"), or SerializationException for a body that is not a
// JSON object. allowed lists the supported member paths
// ("AlgorithmSpecification.TrainingImage"); a path covers its subtree.
func (m *Model) Decode(op string, body []byte, allowed []string, v any) *Error {
	o, ok := m.Operations[op]
	if !ok {
		return &Error{Code: CodeUnknownOperation, Message: "Unknown operation " + op, Status: 400}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return &Error{Code: CodeSerialization, Message: "Request body is not valid JSON: " + err.Error(), Status: 400}
	}
	if _, ok := raw.(map[string]any); !ok {
		return &Error{Code: CodeSerialization, Message: "Request body must be a JSON object", Status: 400}
	}
	if o.Input != "" {
		var c checker
		c.m = m
		c.check(raw, o.Input, "", "")
		if len(c.problems) > 0 {
			n := len(c.problems)
			word := "error"
			if n > 1 {
				word = "errors"
			}
			return Validation("%d validation %s detected: %s", n, word, strings.Join(c.problems, "; "))
		}
		if bad := unsupported(raw, "", allowed); bad != "" {
			return Validation("%s is not supported by sagekit local (docs/local.md lists the supported members of %s)", bad, op)
		}
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			return &Error{Code: CodeSerialization, Message: "decoding the request: " + err.Error(), Status: 400}
		}
	}
	return nil
}

type checker struct {
	m        *Model
	problems []string
}

// lowerFirst is how AWS names members in validation messages.
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (c *checker) fail(v any, path, constraint string) {
	val := "null"
	switch x := v.(type) {
	case nil:
	case string:
		val = "'" + x + "'"
	case json.Number:
		val = "'" + x.String() + "'"
	default:
		b, _ := json.Marshal(x)
		val = "'" + string(b) + "'"
	}
	c.problems = append(c.problems, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: Member must %s", val, path, constraint))
}

func (c *checker) check(v any, shape, path, name string) {
	s := c.m.Shapes[shape]
	if s == nil || v == nil {
		return
	}
	switch s.Type {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			c.fail(v, path, "be an object")
			return
		}
		for _, r := range s.Required {
			if obj[r] == nil {
				c.fail(nil, join(path, lowerFirst(r)), "not be null")
			}
		}
		names := make([]string, 0, len(obj))
		for k := range obj {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			ref, ok := s.Members[k]
			if !ok {
				c.problems = append(c.problems, fmt.Sprintf("'%s' is not a member of the request (check its spelling)", join(path, lowerFirst(k))))
				continue
			}
			c.check(obj[k], ref.Shape, join(path, lowerFirst(k)), k)
		}
	case "list":
		arr, ok := v.([]any)
		if !ok {
			c.fail(v, path, "be a list")
			return
		}
		c.length(v, float64(len(arr)), s, path)
		for i, e := range arr {
			if s.Member != nil {
				c.check(e, s.Member.Shape, path+"."+strconv.Itoa(i+1)+".member", "")
			}
		}
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			c.fail(v, path, "be a map")
			return
		}
		c.length(v, float64(len(obj)), s, path)
		for k, e := range obj {
			if s.Key != nil {
				c.check(k, s.Key.Shape, path+".key", "")
			}
			if s.Value != nil {
				c.check(e, s.Value.Shape, path+"."+k, "")
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			c.fail(v, path, "be a string")
			return
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
			c.fail(v, path, "satisfy enum value set: ["+strings.Join(s.Enum, ", ")+"]")
			return
		}
		c.length(v, float64(utf8.RuneCountInString(str)), s, path)
		if s.Pattern != "" && !localURI(s.Pattern, str) {
			if re := c.m.pattern(s.Pattern); re != nil && !re.MatchString(str) {
				c.fail(v, path, "satisfy regular expression pattern: "+s.Pattern)
			}
		}
	case "integer", "long", "float", "double":
		n, ok := v.(json.Number)
		if !ok {
			c.fail(v, path, "be a number")
			return
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) {
			c.fail(v, path, "be a number")
			return
		}
		if (s.Type == "integer" || s.Type == "long") && f != math.Trunc(f) {
			c.fail(v, path, "be an integer")
			return
		}
		if s.Min != nil && f < *s.Min {
			c.fail(v, path, "have value greater than or equal to "+num(*s.Min))
		}
		if s.Max != nil && f > *s.Max {
			c.fail(v, path, "have value less than or equal to "+num(*s.Max))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			c.fail(v, path, "be a boolean")
		}
	case "timestamp":
		switch v.(type) {
		case json.Number, string:
		default:
			c.fail(v, path, "be a timestamp")
		}
	}
}

// localURI reports whether str is a file:// URI where the model wants an
// S3 URI: sagekit local reads and writes files on this machine there too,
// as SageMaker's local mode does.
func localURI(pattern, str string) bool {
	return strings.HasPrefix(str, "file:///") && strings.Contains(pattern, "s3")
}

func (c *checker) length(v any, n float64, s *Shape, path string) {
	if s.Min != nil && n < *s.Min {
		c.fail(v, path, "have length greater than or equal to "+num(*s.Min))
	}
	if s.Max != nil && n > *s.Max {
		c.fail(v, path, "have length less than or equal to "+num(*s.Max))
	}
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// unsupported returns the first member path in v (in the request's own
// spelling, list indices dropped) that allowed does not cover, or "".
func unsupported(v any, path string, allowed []string) string {
	if path != "" && covered(path, allowed) {
		return ""
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if bad := unsupported(x[k], join(path, k), allowed); bad != "" {
				return bad
			}
		}
		return ""
	case []any:
		for _, e := range x {
			if bad := unsupported(e, path, allowed); bad != "" {
				return bad
			}
		}
		return ""
	}
	if path == "" || covered(path, allowed) {
		return ""
	}
	return path
}

// covered reports whether path or one of its ancestors is in allowed.
func covered(path string, allowed []string) bool {
	for _, a := range allowed {
		if path == a || strings.HasPrefix(path, a+".") {
			return true
		}
	}
	return false
}
