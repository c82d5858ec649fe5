package tree

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ReadTrainingDir reads every *.csv file below dir (no header, the label in
// column 0, then the features) and returns the rows and labels.
func ReadTrainingDir(dir string) (x [][]float64, y []string, err error) {
	var files []string
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".csv") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading training data: %w", err)
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("no CSV files in %s: give the job a channel named %q holding CSV files with the label in column 0", dir, Channel)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("reading training data: %w", err)
		}
		records, err := readCSV(b)
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", f, err)
		}
		for i, rec := range records {
			if len(rec) < 2 {
				return nil, nil, fmt.Errorf("%s line %d: want a label and at least one feature", f, i+1)
			}
			row, err := parseFloats(rec[1:])
			if err != nil {
				return nil, nil, fmt.Errorf("%s line %d: %w", f, i+1, err)
			}
			x = append(x, row)
			y = append(y, rec[0])
		}
	}
	if err := sameWidth(x); err != nil {
		return nil, nil, err
	}
	return x, y, nil
}

// ParseRows reads feature rows (CSV, no label) of width features.
func ParseRows(body []byte, features int) ([][]float64, error) {
	records, err := readCSV(body)
	if err != nil {
		return nil, err
	}
	if len(records) == 0 {
		return nil, errors.New("the request holds no rows")
	}
	rows := make([][]float64, len(records))
	for i, rec := range records {
		if len(rec) != features {
			return nil, fmt.Errorf("row %d has %d values; the model takes %d features", i+1, len(rec), features)
		}
		if rows[i], err = parseFloats(rec); err != nil {
			return nil, fmt.Errorf("row %d: %w", i+1, err)
		}
	}
	return rows, nil
}

func readCSV(b []byte) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var out [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
}

func parseFloats(fields []string) ([]float64, error) {
	row := make([]float64, len(fields))
	for i, s := range fields {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("value %d: %q is not a number", i+1, s)
		}
		row[i] = v
	}
	return row, nil
}

func sameWidth(x [][]float64) error {
	for i, row := range x {
		if len(row) != len(x[0]) {
			return fmt.Errorf("row %d has %d features, row 1 has %d", i+1, len(row), len(x[0]))
		}
	}
	return nil
}
