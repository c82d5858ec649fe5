package conformance

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// grow makes a body of about size bytes from the sample: CSV rows are
// repeated, JSON is padded with whitespace (still the same JSON), anything
// else is repeated.
func grow(sample []byte, ct string, size int) []byte {
	if len(sample) == 0 {
		return bytes.Repeat([]byte(" "), size)
	}
	var b bytes.Buffer
	switch {
	case strings.Contains(ct, "json") && !lineBased(ct):
		b.Write(sample)
		b.Write(bytes.Repeat([]byte(" "), max(size-len(sample), 0)))
	default:
		unit := sample
		if lineBased(ct) && !bytes.HasSuffix(unit, []byte("\n")) {
			unit = append(bytes.Clone(unit), '\n')
		}
		for b.Len()+len(unit) <= size {
			b.Write(unit)
		}
		if b.Len() == 0 {
			b.Write(unit)
		}
	}
	return b.Bytes()
}

func listFiles(dir string) []string {
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	return files
}

// fileModes maps each file under dir (slash-separated, relative) to its
// permission bits.
func fileModes(dir string) map[string]os.FileMode {
	m := map[string]os.FileMode{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			rel, _ := filepath.Rel(dir, p)
			m[filepath.ToSlash(rel)] = fi.Mode().Perm()
		}
		return nil
	})
	return m
}

func copyDir(src, dst string) (string, error) {
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o777)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o666)
	})
	if err != nil {
		return "", fmt.Errorf("copying the model: %w", err)
	}
	return dst, nil
}

func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
}

// labelled returns the rows of payload with a label column in front
// (class-0, class-1, class-2 in turn): training data whose features have
// the payload's shape, for supervised algorithms that take the label in
// column 0 as SageMaker's CSV convention has it.
func labelled(payload []byte) []byte {
	var b bytes.Buffer
	n := 0
	for _, line := range strings.Split(string(payload), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		fmt.Fprintf(&b, "class-%d,%s\n", n%3, line)
		n++
	}
	return b.Bytes()
}

// failureText is a failure file as the report shows it: every line of
// what the platform read (the first 1024 bytes, as SageMaker's
// FailureReason keeps).
func failureText(s string) string { return strings.TrimSpace(s) }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return string(truncate([]byte(s), 200))
}

func truncate(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append(b[:n:n], "..."...)
}

// logTail formats the last lines of a container's logs for a message.
func logTail(logs []byte) string {
	s := strings.TrimSpace(string(logs))
	if s == "" {
		return " (no logs)"
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return "; last logs: " + string(truncate([]byte(strings.Join(lines, " | ")), 300))
}
