package conformance

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// The request bodies of the inference-toolkit probes are made here, in the
// formats the toolkit's default decoders read, with no Python on the host.

// npyArray writes a NumPy .npy file (format version 1.0) holding data, a
// C-ordered array of dtype descr ("<f8", "<i4", "<i8" or "|S<n>") and the
// given shape. data is the raw little-endian bytes.
func npyArray(descr string, shape []int, data []byte) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := "(" + strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	tuple += ")"
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, tuple)
	// magic (6) + version (2) + length (2) + header + padding + "\n" is a
	// multiple of 64, as NumPy writes it.
	pad := 64 - (10+len(header)+1)%64
	if pad == 64 {
		pad = 0
	}
	header += strings.Repeat(" ", pad) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func float64s(v ...float64) []byte {
	b := make([]byte, 8*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(f))
	}
	return b
}

func int32s(v ...int32) []byte {
	b := make([]byte, 4*len(v))
	for i, n := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(n))
	}
	return b
}

func int64s(v ...int64) []byte {
	b := make([]byte, 8*len(v))
	for i, n := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(n))
	}
	return b
}

// npyMatrix is rows as a 2-D float64 .npy file.
func npyMatrix(rows [][]float64) []byte {
	var flat []float64
	for _, r := range rows {
		flat = append(flat, r...)
	}
	return npyArray("<f8", []int{len(rows), len(rows[0])}, float64s(flat...))
}

// npzCSR is the file scipy.sparse.save_npz writes for a CSR matrix: a zip
// of .npy arrays (data, indices, indptr, format, shape).
func npzCSR(rows [][]float64) ([]byte, error) {
	var data []float64
	var indices []int32
	indptr := []int32{0}
	for _, r := range rows {
		for j, v := range r {
			if v != 0 {
				data = append(data, v)
				indices = append(indices, int32(j))
			}
		}
		indptr = append(indptr, int32(len(data)))
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range []struct {
		name string
		body []byte
	}{
		{"indices.npy", npyArray("<i4", []int{len(indices)}, int32s(indices...))},
		{"indptr.npy", npyArray("<i4", []int{len(indptr)}, int32s(indptr...))},
		{"format.npy", npyArray("|S3", nil, []byte("csr"))},
		{"shape.npy", npyArray("<i8", []int{2}, int64s(int64(len(rows)), int64(len(rows[0]))))},
		{"data.npy", npyArray("<f8", []int{len(data)}, float64s(data...))},
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Store})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

var npyShape = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
var npyDescr = regexp.MustCompile(`'descr':\s*'([^']*)'`)

// readNpyMatrix reads a float64 .npy file of one or two dimensions, as
// numpy.save writes an array of floats.
func readNpyMatrix(b []byte) ([][]float64, error) {
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return nil, errors.New("not a .npy file (no \\x93NUMPY magic)")
	}
	var hlen, off int
	switch b[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return nil, errors.New("truncated .npy header")
		}
		hlen, off = int(binary.LittleEndian.Uint32(b[8:12])), 12
	default:
		return nil, fmt.Errorf(".npy format version %d is unknown", b[6])
	}
	if len(b) < off+hlen {
		return nil, errors.New("truncated .npy header")
	}
	header, body := string(b[off:off+hlen]), b[off+hlen:]
	d := npyDescr.FindStringSubmatch(header)
	s := npyShape.FindStringSubmatch(header)
	if d == nil || s == nil {
		return nil, fmt.Errorf(".npy header %q lacks descr or shape", header)
	}
	if d[1] != "<f8" {
		return nil, fmt.Errorf(".npy dtype is %s, want <f8 (float64)", d[1])
	}
	if strings.Contains(header, "'fortran_order': True") {
		return nil, errors.New(".npy array is in Fortran order")
	}
	var shape []int
	for _, f := range strings.Split(s[1], ",") {
		if f = strings.TrimSpace(f); f != "" {
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf(".npy shape %q: %w", s[1], err)
			}
			shape = append(shape, n)
		}
	}
	rows, cols := 1, 1
	switch len(shape) {
	case 1:
		cols = shape[0]
	case 2:
		rows, cols = shape[0], shape[1]
	default:
		return nil, fmt.Errorf(".npy array has %d dimensions, want 2", len(shape))
	}
	if len(body) != 8*rows*cols {
		return nil, fmt.Errorf(".npy body is %d bytes, want %d for shape %v", len(body), 8*rows*cols, shape)
	}
	out := make([][]float64, rows)
	for i := range out {
		out[i] = make([]float64, cols)
		for j := range out[i] {
			out[i][j] = math.Float64frombits(binary.LittleEndian.Uint64(body[8*(i*cols+j):]))
		}
	}
	return out, nil
}

// decodeMatrix reads a response body of media type mt as a matrix.
func decodeMatrix(mt string, body []byte) ([][]float64, error) {
	switch mt {
	case "application/json":
		var m [][]float64
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("not a JSON list of lists of numbers: %v", err)
		}
		return m, nil
	case "text/csv":
		rs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			return nil, fmt.Errorf("not CSV: %v", err)
		}
		m := make([][]float64, len(rs))
		for i, r := range rs {
			for _, f := range r {
				v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
				if err != nil {
					return nil, fmt.Errorf("CSV field %q is not a number", f)
				}
				m[i] = append(m[i], v)
			}
		}
		return m, nil
	case "application/x-npy":
		return readNpyMatrix(body)
	}
	return nil, fmt.Errorf("no decoder for %s", mt)
}

func sameMatrix(a, b [][]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}
