package wire

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// Time is a timestamp as JSON 1.1 carries it: seconds since the epoch, with
// a fraction.
type Time struct{ time.Time }

// Now is the current time, to the millisecond as AWS reports it.
func Now() *Time { return &Time{time.Now().Truncate(time.Millisecond)} }

// MarshalJSON writes epoch seconds.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)), nil
}

// UnmarshalJSON reads epoch seconds, or an RFC 3339 string as some clients
// send.
func (t *Time) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		// Rounded, not truncated: 1796293913.231 is 1796293913.2309999
		// as a float, and a record read and written again must not lose
		// a millisecond each time.
		t.Time = time.UnixMilli(int64(math.Round(f * 1000)))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// ARN is the ARN of a SageMaker resource in the local account and region.
func ARN(kind, name string) string {
	return "arn:aws:sagemaker:" + Region + ":" + Account + ":" + kind + "/" + lower(name)
}

// The account and region sagekit local reports in ARNs.
const (
	Region  = "local"
	Account = "000000000000"
)

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
