package engineload

import (
	"strings"
	"testing"
)

func TestStreamError(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"stream":"Loaded image: a:b\n"}` + "\n", ""},
		{`{"stream":"x"}` + "\n" + `{"errorDetail":{"message":"invalid diffID"},"error":"invalid diffID"}` + "\n", "invalid diffID"},
		{`{"error":"no space left"}` + "\n", "no space left"},
		{"not json\n", ""},
	} {
		err := StreamError(strings.NewReader(tc.in))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("StreamError(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
