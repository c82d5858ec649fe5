package split

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Origin is where a row came from, for error messages.
type Origin struct {
	File string
	Line int
}

func (o Origin) String() string { return fmt.Sprintf("%s line %d", o.File, o.Line) }

// Table is a CSV data set: an optional header and rows of equal width.
type Table struct {
	// Header is the first row of every file when the data has one, else nil.
	Header []string
	Rows   [][]string
	// Origins[i] is where Rows[i] came from.
	Origins []Origin
}

// ReadOptions says how to read the data.
type ReadOptions struct {
	// Header means the first row of each file is a header (every file must
	// have the same one).
	Header bool
}

// Read reads path, a CSV file or a directory of them (every regular file
// below it whose name does not start with a dot, in lexical order of the
// path), into one table.
func Read(path string, o ReadOptions) (*Table, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading the data: %w", err)
	}
	files := []string{path}
	if st.IsDir() {
		files = nil
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && p != path {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing the data files: %w", err)
		}
		slices.Sort(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("reading the data: %s holds no files", path)
		}
	}
	t := &Table{}
	for _, f := range files {
		if err := t.readFile(f, o.Header); err != nil {
			return nil, err
		}
	}
	if len(t.Rows) == 0 {
		return nil, fmt.Errorf("reading the data: %s holds no rows", path)
	}
	return t, nil
}

func (t *Table) readFile(name string, header bool) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("reading the data: %w", err)
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	first := true
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if first && header {
			first = false
			if t.Header == nil {
				t.Header = rec
			} else if !slices.Equal(t.Header, rec) {
				return fmt.Errorf("reading %s: its header %q differs from the first file's %q", name, rec, t.Header)
			}
			continue
		}
		first = false
		width := len(t.Header)
		if len(t.Rows) > 0 {
			width = len(t.Rows[0])
		}
		if width > 0 && len(rec) != width {
			return fmt.Errorf("reading %s line %d: %d columns where %s has %d", name, line, len(rec), t.describeFirst(), width)
		}
		t.Rows = append(t.Rows, rec)
		t.Origins = append(t.Origins, Origin{File: name, Line: line})
	}
}

func (t *Table) describeFirst() string {
	if len(t.Origins) > 0 {
		return t.Origins[0].String()
	}
	return "the header"
}

// Width is the number of columns.
func (t *Table) Width() int {
	if len(t.Rows) > 0 {
		return len(t.Rows[0])
	}
	return len(t.Header)
}

// Column resolves a label column given as a header name or a 0-based
// index.
func (t *Table) Column(spec string) (int, error) {
	if t.Header != nil {
		if i := slices.Index(t.Header, spec); i >= 0 {
			return i, nil
		}
	}
	i, err := strconv.Atoi(spec)
	if err != nil {
		if t.Header == nil {
			return 0, fmt.Errorf("label column %q: the data has no header row, so give the column's 0-based index (0 is the first column), or say the first row is a header", spec)
		}
		return 0, fmt.Errorf("label column %q is missing: the header has %s", spec, strings.Join(t.Header, ", "))
	}
	if i < 0 || i >= t.Width() {
		return 0, fmt.Errorf("label column %d is missing: the data has %d columns (0 to %d)", i, t.Width(), t.Width()-1)
	}
	return i, nil
}

// HasHeaderRow reports whether the first row of path (a file, or the first
// file of a directory) names column spec: the way to tell a header from
// data when the label is given by name.
func HasHeaderRow(path, spec string) bool {
	t, err := Read(path, ReadOptions{})
	if err != nil || len(t.Rows) == 0 {
		return false
	}
	return slices.Contains(t.Rows[0], spec)
}
