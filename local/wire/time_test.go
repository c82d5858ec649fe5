package wire

import (
	"encoding/json"
	"testing"
	"time"
)

func TestTimeRoundTrip(t *testing.T) {
	for _, ms := range []int64{1796293913231, 1796293913001, 1700000000999, 0, 1} {
		in := Time{time.UnixMilli(ms)}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out Time
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if !out.Equal(in.Time) {
			t.Errorf("Unmarshal(Marshal(%d ms)) = %d ms (JSON %s)", ms, out.UnixMilli(), b)
		}
	}
}
