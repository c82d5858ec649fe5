package payload

import (
	"math"
	"strconv"
)

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
}

// ParseFloat returns exactly what strconv.ParseFloat(string(b), 64) returns,
// value and error, without allocating for plain decimals.
func ParseFloat(b []byte) (float64, error) {
	if f, n, ok := fastFloat(b); ok && n == len(b) {
		return f, nil
	}
	return strconv.ParseFloat(string(b), 64)
}

// scanDecimal is fastFloat for the common case, as tight as it can be: an
// optional sign, digits, an optional fraction, no exponent, at most 19
// digits in all. It starts at b[i] and returns the index after the number.
func scanDecimal(b []byte, i int) (f float64, end int, ok bool) {
	n := len(b)
	neg := false
	if i < n && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	start := i
	var mant uint64
	for i < n {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		mant = mant*10 + uint64(d)
		i++
	}
	nd := i - start
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
		nd += frac
	}
	if nd == 0 || nd > 19 || mant > 1<<53 || (i < n && b[i]|0x20 == 'e') {
		return 0, 0, false
	}
	f = float64(mant)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, i, true
}

// fastFloat converts the decimal number at the start of b when the result
// is exact by Clinger's fast path: an integer mantissa of at most 2^53 and
// a power of ten that float64 holds exactly, so one IEEE multiplication or
// division rounds correctly. It returns the bytes consumed; ok is false when
// b does not start with such a number (other syntax, too many digits, a
// large exponent), and then the caller falls back to strconv.
func fastFloat(b []byte) (f float64, n int, ok bool) {
	i := 0
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	var mant uint64
	nd := 0  // significant digits in mant
	exp := 0 // decimal exponent applied to mant
	digits := false
	for ; i < len(b); i++ {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		digits = true
		if mant == 0 && d == 0 {
			continue
		}
		nd++
		mant = mant*10 + uint64(d)
	}
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b); i++ {
			d := b[i] - '0'
			if d > 9 {
				break
			}
			digits = true
			exp--
			if mant == 0 && d == 0 {
				continue
			}
			nd++
			mant = mant*10 + uint64(d)
		}
	}
	if !digits || nd > 19 {
		return 0, 0, false
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		i++
		esign := 1
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			if b[i] == '-' {
				esign = -1
			}
			i++
		}
		e := 0
		edigits := false
		for ; i < len(b); i++ {
			d := b[i] - '0'
			if d > 9 {
				break
			}
			edigits = true
			if e < 10000 {
				e = e*10 + int(d)
			}
		}
		if !edigits {
			return 0, 0, false
		}
		exp += esign * e
	}
	if mant == 0 {
		if neg {
			return negZero, i, true
		}
		return 0, i, true
	}
	if mant > 1<<53 {
		return 0, 0, false
	}
	f = float64(mant)
	switch {
	case exp == 0:
	case exp > 0 && exp <= 22:
		f *= pow10[exp]
	case exp > 22 && exp <= 22+15:
		// An exact mantissa can absorb part of the exponent first.
		f *= pow10[exp-22]
		if f > 1e15 {
			return 0, 0, false
		}
		f *= pow10[22]
	case exp < 0 && exp >= -22:
		f /= pow10[-exp]
	default:
		return 0, 0, false
	}
	if neg {
		f = -f
	}
	return f, i, true
}

var negZero = math.Copysign(0, -1)
