package platform

import (
	"testing"
	"time"
)

func TestPingInterval(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{1, 5 * time.Millisecond},
		{2, 10 * time.Millisecond},
		{3, 20 * time.Millisecond},
		{6, 160 * time.Millisecond},
		{7, 200 * time.Millisecond},
		{1000, 200 * time.Millisecond},
	} {
		if got := pingInterval(tc.n); got != tc.want {
			t.Errorf("pingInterval(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}
