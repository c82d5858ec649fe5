package main

import (
	"fmt"
	"time"

	"github.com/sagekit/sagekit/internal/bench/fixture"
	"github.com/sagekit/sagekit/sdk/payload"
)

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// minimal: inline loop, no checks beyond the basics.
func minimal(b []byte, out []float64) []float64 {
	n := len(b)
	i := 0
	for i < n {
		neg := false
		if b[i] == '-' {
			neg = true
			i++
		}
		var mant uint64
		start := i
		for i < n {
			d := b[i] - '0'
			if d > 9 {
				break
			}
			mant = mant*10 + uint64(d)
			i++
		}
		frac := 0
		if i < n && b[i] == '.' {
			i++
			fs := i
			for i < n {
				d := b[i] - '0'
				if d > 9 {
					break
				}
				mant = mant*10 + uint64(d)
				i++
			}
			frac = i - fs
		}
		_ = start
		f := float64(mant) / pow10[frac&31%23]
		if neg {
			f = -f
		}
		out = append(out, f)
		i++ // separator
	}
	return out
}

func main() {
	b := fixture.IrisCSV(375000)
	out := make([]float64, 0, 1500000)
	bestA, bestB, bestC := time.Hour, time.Hour, time.Hour
	for range 20 {
		t0 := time.Now()
		payload.ParseCSV(b)
		bestA = min(bestA, time.Since(t0))
		t0 = time.Now()
		out = minimal(b, out[:0])
		bestB = min(bestB, time.Since(t0))
		t0 = time.Now()
		o2 := minimal(b, make([]float64, 0, 1500000))
		_ = o2
		bestC = min(bestC, time.Since(t0))
	}
	fmt.Println("ParseCSV", bestA, "minimal(prealloc)", bestB, "minimal(fresh alloc)", bestC, len(out))
}
