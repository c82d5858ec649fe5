package owner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ownerFile, inside a directory MkdirTemp made, names the process that made
// it.
const ownerFile = ".sagekit-owner.json"

// MkdirTemp is os.MkdirTemp that also records this process as the
// directory's owner, so that RemoveDeadTemps can remove it once the
// process has died without removing it itself (SIGKILL).
func MkdirTemp(dir, pattern string) (string, error) {
	d, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(Labels())
	if err := os.WriteFile(filepath.Join(d, ownerFile), b, 0o644); err != nil {
		os.RemoveAll(d)
		return "", fmt.Errorf("recording the owner of %s: %w", d, err)
	}
	return d, nil
}

// RemoveDeadTemps removes the directories directly under dir whose name
// starts with prefix and whose owner, as MkdirTemp recorded it, has died.
// A directory without a readable owner record is left alone. It returns
// what it removed.
func RemoveDeadTemps(dir, prefix string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(filepath.Join(p, ownerFile))
		if err != nil {
			continue
		}
		var labels map[string]string
		if json.Unmarshal(b, &labels) != nil || !Dead(labels) {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}
