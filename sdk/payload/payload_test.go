package payload

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sameFloat reports whether a and b are the same float64, NaN included.
func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Float64bits(a) == math.Float64bits(b)
}

func sameData(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameFloat(a[i], b[i]) {
			return false
		}
	}
	return true
}

var floatCases = []string{
	"0", "-0", "+0", "0.0", "-0.0", "00", "1", "-1", "+1", ".5", "-.5", "+.5", "5.", "-5.", ".", "-", "+", "",
	"1e5", "1E5", "1e+5", "1e-5", "-1.5e-3", "1e", "1e+", "e5", ".e5", "1.e5", "1.5e308", "1e309", "-1e309",
	"1e-400", "4.9e-324", "2.2250738585072014e-308", "1.7976931348623157e308", "0e9999", "-0e-9999",
	"9007199254740992", "9007199254740993", "9007199254740993.0", "123456789012345678", "1234567890123456789",
	"12345678901234567890", "0.1", "0.2", "0.3", "3.14159265358979", "3.141592653589793", "3.1415926535897932",
	"1e22", "1e23", "1e37", "1e38", "123456789e22", "123456789e30", "1e-22", "1e-23", "0.000001", "1_000",
	"inf", "Inf", "+Inf", "-inf", "infinity", "-Infinity", "nan", "NaN", "-nan", "+NaN", "0x1p-2", "0x10",
	"1.5x", " 1", "1 ", "1,", "--1", "+-1", "1..2", "1.2.3", "5.1", "3.5", "1.4", "0.2", "100000000000000000000000",
	"0.00000000000000000000000000000001", "1" + strings.Repeat("0", 400), "0." + strings.Repeat("0", 400) + "1",
}

func TestParseFloatMatchesStrconv(t *testing.T) {
	for _, s := range floatCases {
		checkFloat(t, s)
	}
}

func checkFloat(t *testing.T, s string) {
	t.Helper()
	got, gotErr := ParseFloat([]byte(s))
	want, wantErr := strconv.ParseFloat(s, 64)
	if !sameFloat(got, want) || (gotErr == nil) != (wantErr == nil) ||
		(gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Errorf("ParseFloat(%q) = %v, %v; strconv.ParseFloat = %v, %v", s, got, gotErr, want, wantErr)
	}
	if f, end, ok := scanDecimal([]byte(s), 0); ok && end == len(s) && (wantErr != nil || !sameFloat(f, want)) {
		t.Errorf("scanDecimal(%q) = %v; strconv.ParseFloat = %v, %v", s, f, want, wantErr)
	}
}

func FuzzParseFloat(f *testing.F) {
	for _, s := range floatCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkFloat(t, s) })
}

func TestParseFloatRandomDecimals(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 50000 {
		var s string
		switch r.IntN(4) {
		case 0:
			s = strconv.FormatFloat(r.NormFloat64()*math.Pow(10, float64(r.IntN(40)-20)), 'f', -1, 64)
		case 1:
			s = strconv.FormatFloat(r.Float64()*100, 'f', r.IntN(18), 64)
		case 2:
			s = strconv.FormatFloat(math.Float64frombits(r.Uint64()), 'g', -1, 64)
		default:
			s = fmt.Sprintf("%d.%de%d", r.IntN(1e6), r.IntN(1e9), r.IntN(60)-30)
		}
		checkFloat(t, s)
	}
}

func TestParseCSV(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Matrix
	}{
		{"one row", "5.1,3.5,1.4,0.2", &Matrix{1, 4, []float64{5.1, 3.5, 1.4, 0.2}}},
		{"trailing newline", "1,2\n3,4\n", &Matrix{2, 2, []float64{1, 2, 3, 4}}},
		{"CRLF", "1,2\r\n3,4\r\n", &Matrix{2, 2, []float64{1, 2, 3, 4}}},
		{"blank lines", "\n1,2\n\n \t\n3,4\r\n\r\n\n", &Matrix{2, 2, []float64{1, 2, 3, 4}}},
		{"negative, sign, dot", "-1,+2,.5,5.,-.25", &Matrix{1, 5, []float64{-1, 2, .5, 5, -.25}}},
		{"exponents", "1e3,-2.5E-2,1e400000000000000000000e0", nil},
		{"exponent fast and slow", "1e3,-2.5E-2,1e23,4.9e-324", &Matrix{1, 4, []float64{1e3, -2.5e-2, 1e23, 4.9e-324}}},
		{"blanks around fields", " 1 ,\t2\t\n3 , 4 \r\n", &Matrix{2, 2, []float64{1, 2, 3, 4}}},
		{"inf and nan", "inf,-Infinity,NaN", &Matrix{1, 3, []float64{math.Inf(1), math.Inf(-1), math.NaN()}}},
		{"long mantissa", "3.14159265358979323846,9007199254740993", &Matrix{1, 2, []float64{math.Pi, 9007199254740992}}},
		{"byte order mark", "\xef\xbb\xbf1,2", &Matrix{1, 2, []float64{1, 2}}},
		{"single column", "1\n2\n3", &Matrix{3, 1, []float64{1, 2, 3}}},
		{"empty", "", &Matrix{}},
		{"only blank lines", "\n\r\n  \n", &Matrix{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCSV([]byte(tt.in))
			if tt.want == nil {
				if err == nil {
					t.Fatalf("ParseCSV(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCSV(%q): %v", tt.in, err)
			}
			if got.Rows != tt.want.Rows || got.Cols != tt.want.Cols || !sameData(got.Data, tt.want.Data) {
				t.Errorf("ParseCSV(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCSVErrors(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		line, col  int
		err        error
		msgContain string
	}{
		{"too few fields", "1,2,3\n4,5\n", 2, 3, ErrRagged, "line 2, column 3: rows of different lengths: line 2 has 2 fields; line 1 has 3"},
		{"too many fields", "1,2\n\n3,4\n5,6,7\n", 4, 3, ErrRagged, "line 4 has more than 2 fields; line 1 has 2"},
		{"first row after blank lines", "\n\n1,2\n3\n", 4, 2, ErrRagged, "line 3 has 2"},
		{"empty field", "1,,3", 1, 2, ErrEmptyField, "line 1, column 2: empty field"},
		{"trailing comma", "1,2,\n", 1, 3, ErrEmptyField, "column 3"},
		{"leading comma", "1,2\n,2\n", 2, 1, ErrEmptyField, "line 2, column 1"},
		{"not a number", "1,2\n3,abc\n", 2, 2, strconv.ErrSyntax, `line 2, column 2: parsing "abc": invalid syntax`},
		{"two numbers in a field", "1 2,3", 1, 1, strconv.ErrSyntax, `parsing "1 2"`},
		{"header row", "a,b\n1,2", 1, 1, strconv.ErrSyntax, `parsing "a"`},
		{"quoted", `"1",2`, 1, 1, strconv.ErrSyntax, `parsing "\"1\""`},
		{"out of range", "1,1e400", 1, 2, strconv.ErrRange, "value out of range"},
		{"lone carriage return", "1,2\r3,4", 1, 2, strconv.ErrSyntax, `parsing "2\r3"`},
		{"CR at the end", "1,2\r", 1, 2, strconv.ErrSyntax, `parsing "2\r"`},
		{"semicolons", "1;2", 1, 1, strconv.ErrSyntax, `parsing "1;2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCSV([]byte(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseCSV(%q) error = %v, want a *ParseError", tt.in, err)
			}
			if pe.Line != tt.line || pe.Column != tt.col || !errors.Is(err, tt.err) {
				t.Errorf("ParseCSV(%q) = line %d column %d cause %v, want line %d column %d cause %v",
					tt.in, pe.Line, pe.Column, pe.Err, tt.line, tt.col, tt.err)
			}
			if !strings.Contains(err.Error(), tt.msgContain) {
				t.Errorf("ParseCSV(%q) error %q does not contain %q", tt.in, err, tt.msgContain)
			}
		})
	}
}

// referenceCSV implements the documented CSV rules the slow, obvious way.
func referenceCSV(b []byte) (*Matrix, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	m := &Matrix{}
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		if i < len(lines)-1 {
			line = strings.TrimSuffix(line, "\r")
		}
		if strings.Trim(line, " \t") == "" {
			continue
		}
		fields := strings.Split(line, ",")
		if m.Rows == 0 {
			m.Cols = len(fields)
		}
		if len(fields) != m.Cols {
			return nil, ErrRagged
		}
		for _, f := range fields {
			f = strings.Trim(f, " \t")
			if f == "" {
				return nil, ErrEmptyField
			}
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				return nil, err
			}
			m.Data = append(m.Data, v)
		}
		m.Rows++
	}
	return m, nil
}

func FuzzParseCSV(f *testing.F) {
	for _, s := range []string{"1,2\n3,4\n", "1,2\r\n3,4", " 1 , 2 \n\n", "1,,2", "1,2\n3", "inf,nan\n", ".5,5.,+1,-1e-5",
		"1,2\r3", "\xef\xbb\xbf1", "1\r", "9007199254740993,0.1", "1e23,1e-23"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseCSV([]byte(s))
		want, wantErr := referenceCSV([]byte(s))
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("ParseCSV(%q) error = %v, reference error = %v", s, err, wantErr)
		}
		if err != nil {
			return
		}
		if got.Rows != want.Rows || got.Cols != want.Cols || !sameData(got.Data, want.Data) {
			t.Fatalf("ParseCSV(%q) = %+v, reference = %+v", s, got, want)
		}
	})
}

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Matrix
	}{
		{"bare", "[[1,2],[3,4]]", &Matrix{2, 2, []float64{1, 2, 3, 4}}},
		{"instances", `{"instances": [[5.1, 3.5, 1.4, 0.2]]}`, &Matrix{1, 4, []float64{5.1, 3.5, 1.4, 0.2}}},
		{"other members", `{"a": {"b": [1, "x]"]}, "instances": [[1]], "c": null, "d": "\"", "e": -1.5e3}`, &Matrix{1, 1, []float64{1}}},
		{"escaped key", `{"instanc\u0065s": [[1]]}`, &Matrix{1, 1, []float64{1}}},
		{"whitespace", " \n[ [ -1.5e-3 ,\t0 ] ,\r\n [2,3] ] \n", &Matrix{2, 2, []float64{-1.5e-3, 0, 2, 3}}},
		{"empty", "[]", &Matrix{}},
		{"long mantissa", "[[3.14159265358979323846, 9007199254740993]]", &Matrix{1, 2, []float64{math.Pi, 9007199254740992}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJSON([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseJSON(%q): %v", tt.in, err)
			}
			if got.Rows != tt.want.Rows || got.Cols != tt.want.Cols || !sameData(got.Data, tt.want.Data) {
				t.Errorf("ParseJSON(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseJSONErrors(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		line, col  int
		err        error
		msgContain string
	}{
		{"ragged", "[[1,2],\n [3]]", 2, 2, ErrRagged, "row 2 has 1 numbers; row 1 has 2"},
		{"ragged long", "[[1],[2,3]]", 1, 6, ErrRagged, "row 2 has more than 1 numbers"},
		{"null", "[[1,null]]", 1, 5, ErrJSON, "want a number"},
		{"string", `[[1,"2"]]`, 1, 5, ErrJSON, "want a number"},
		{"flat", "[1,2]", 1, 2, ErrJSON, "'[' to start a row"},
		{"plus", "[[+1]]", 1, 3, ErrJSON, "want a number"},
		{"leading dot", "[[.5]]", 1, 3, ErrJSON, "want a number"},
		{"trailing dot", "[[5.]]", 1, 3, strconv.ErrSyntax, "want a digit after '.'"},
		{"nan", "[[NaN]]", 1, 3, ErrJSON, "want a number"},
		{"out of range", "[[1e400]]", 1, 3, strconv.ErrRange, `parsing "1e400": value out of range`},
		{"empty row", "[[]]", 1, 2, ErrEmptyField, "empty row"},
		{"no instances", `{"data": [[1]]}`, 1, 15, ErrJSON, `no "instances"`},
		{"instances twice", `{"instances": [[1]], "instances": [[2]]}`, 1, 22, ErrJSON, "twice"},
		{"trailing data", "[[1]] x", 1, 7, ErrJSON, "after the value"},
		{"truncated", "[[1,2", 1, 6, ErrJSON, "at the end of the body"},
		{"not json", "1,2,3", 1, 1, ErrJSON, "want an array"},
		{"malformed member", `{"a": [1,}, "instances": [[1]]}`, 1, 7, ErrJSON, "malformed value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJSON([]byte(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseJSON(%q) error = %v, want a *ParseError", tt.in, err)
			}
			if pe.Line != tt.line || pe.Column != tt.col || !errors.Is(err, tt.err) {
				t.Errorf("ParseJSON(%q) = line %d column %d cause %v (%v), want line %d column %d cause %v",
					tt.in, pe.Line, pe.Column, pe.Err, err, tt.line, tt.col, tt.err)
			}
			if !strings.Contains(err.Error(), tt.msgContain) {
				t.Errorf("ParseJSON(%q) error %q does not contain %q", tt.in, err, tt.msgContain)
			}
		})
	}
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{"[[1,2],[3,4]]", "[]", "[[1e400]]", "[[-0.0, 1e-5]]", "[[1],[2,3]]", "[[01]]", "[[1.]]",
		"[[ 1 ]]", "[[1,2]] x", "[[9007199254740993]]", "[[1E+2]]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseJSON([]byte(s))
		var rows [][]float64
		wantErr := json.Unmarshal([]byte(s), &rows)
		if err == nil {
			if wantErr != nil {
				t.Fatalf("ParseJSON(%q) = %+v, encoding/json error = %v", s, got, wantErr)
			}
			var flat []float64
			for _, r := range rows {
				flat = append(flat, r...)
			}
			if got.Rows != len(rows) || !sameData(got.Data, flat) {
				t.Fatalf("ParseJSON(%q) = %+v, encoding/json = %v", s, got, rows)
			}
			return
		}
		// encoding/json also accepts null and ragged rows, which are errors here.
		if wantErr == nil && !strings.Contains(s, "null") && !errors.Is(err, ErrRagged) && !errors.Is(err, ErrEmptyField) {
			t.Fatalf("ParseJSON(%q) error = %v, encoding/json = %v", s, err, rows)
		}
	})
}

// irisCSV returns rows of four one-decimal values in iris's ranges,
// 16 bytes a row, like the serving benchmark's payloads.
func irisCSV(rows int) []byte {
	r := rand.New(rand.NewPCG(7, 7))
	lo := [4]float64{4.3, 2.0, 1.0, 0.1}
	hi := [4]float64{7.9, 4.4, 6.9, 2.5}
	var b bytes.Buffer
	b.Grow(rows * 16)
	for range rows {
		for j := range 4 {
			if j > 0 {
				b.WriteByte(',')
			}
			v := lo[j] + r.Float64()*(hi[j]-lo[j])
			b.WriteString(strconv.FormatFloat(v, 'f', 1, 64))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func irisJSON(csvBody []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"instances": [`)
	for i, line := range bytes.Split(bytes.TrimSuffix(csvBody, []byte("\n")), []byte("\n")) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		b.Write(line)
		b.WriteByte(']')
	}
	b.WriteString("]}")
	return b.Bytes()
}

func TestParseLargeMatchesReference(t *testing.T) {
	body := irisCSV(20000)
	got, err := ParseCSV(body)
	if err != nil {
		t.Fatal(err)
	}
	want, err := referenceCSV(body)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseCSV differs from the reference (-want +got):\n%s", diff)
	}
	gotJ, err := ParseJSON(irisJSON(body))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, gotJ); diff != "" {
		t.Errorf("ParseJSON differs from the CSV reference (-want +got):\n%s", diff)
	}
}

const rows6MB = 375000

func BenchmarkParseCSV6MB(b *testing.B) {
	body := irisCSV(rows6MB)
	b.Run("payload", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := ParseCSV(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-csv+strconv", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
			if err != nil {
				b.Fatal(err)
			}
			data := make([]float64, 0, len(recs)*4)
			for _, rec := range recs {
				for _, f := range rec {
					v, err := strconv.ParseFloat(f, 64)
					if err != nil {
						b.Fatal(err)
					}
					data = append(data, v)
				}
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		jb := irisJSON(body)
		b.SetBytes(int64(len(jb)))
		for b.Loop() {
			var v struct{ Instances [][]float64 }
			if err := json.Unmarshal(jb, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkParseJSON6MB(b *testing.B) {
	jb := irisJSON(irisCSV(rows6MB))
	b.SetBytes(int64(len(jb)))
	for b.Loop() {
		if _, err := ParseJSON(jb); err != nil {
			b.Fatal(err)
		}
	}
}
