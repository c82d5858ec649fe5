package logs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Open returns a Store that also appends every event to a file under dir
// (dir/GROUP/STREAM.jsonl, names path-escaped, one JSON event a line),
// and first loads the events an earlier Store left there, up to MaxEvents
// a stream. Close releases the files.
func Open(dir string) (*Store, error) {
	s := &Store{groups: map[string]*group{}, dir: dir, files: map[string]*os.File{}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the log directory: %w", err)
	}
	groups, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the log directory: %w", err)
	}
	for _, gd := range groups {
		gname, err := url.PathUnescape(gd.Name())
		if !gd.IsDir() || err != nil {
			continue
		}
		streams, err := os.ReadDir(filepath.Join(dir, gd.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading log group %s: %w", gname, err)
		}
		for _, sf := range streams {
			base, ok := strings.CutSuffix(sf.Name(), ".jsonl")
			sname, err := url.PathUnescape(base)
			if !ok || err != nil {
				continue
			}
			if err := s.load(gname, sname, filepath.Join(dir, gd.Name(), sf.Name())); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// load reads one stream's file; a file holding more than MaxEvents is
// rewritten with the newest MaxEvents.
func (s *Store) load(gname, sname, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading log stream %s %s: %w", gname, sname, err)
	}
	defer f.Close()
	var evs []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var ev Event
		// A line cut short by a crash is skipped.
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			evs = append(evs, ev)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading log stream %s %s: %w", gname, sname, err)
	}
	if len(evs) == 0 {
		return nil
	}
	first := 0
	if len(evs) > MaxEvents {
		first = len(evs) - MaxEvents
		evs = evs[first:]
		if err := rewrite(path, evs); err != nil {
			return fmt.Errorf("trimming log stream %s %s: %w", gname, sname, err)
		}
	}
	g := s.groups[gname]
	if g == nil {
		g = &group{name: gname, created: evs[0].IngestionTime, streams: map[string]*stream{}}
		s.groups[gname] = g
	}
	g.created = min(g.created, evs[0].IngestionTime)
	g.streams[sname] = &stream{name: sname, created: evs[0].IngestionTime, events: evs, first: first}
	return nil
}

// rewrite replaces path with evs, through a temporary file.
func rewrite(path string, evs []Event) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".trim-*")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(tmp)
	enc := json.NewEncoder(w)
	for _, ev := range evs {
		if err := enc.Encode(ev); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return err
		}
	}
	err = errors.Join(w.Flush(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// persist appends ev to its stream's file; s.mu is held. The first error
// is kept for Close, and stops further writes.
func (s *Store) persist(gname, sname string, ev Event) {
	if s.err != nil {
		return
	}
	key := gname + "\x00" + sname
	f := s.files[key]
	if f == nil {
		gdir := filepath.Join(s.dir, url.PathEscape(gname))
		if err := os.MkdirAll(gdir, 0o755); err != nil {
			s.err = fmt.Errorf("creating log group %s: %w", gname, err)
			return
		}
		var err error
		f, err = os.OpenFile(filepath.Join(gdir, url.PathEscape(sname)+".jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			s.err = fmt.Errorf("opening log stream %s %s: %w", gname, sname, err)
			return
		}
		s.files[key] = f
	}
	b, _ := json.Marshal(ev)
	if _, err := f.Write(append(b, '\n')); err != nil {
		s.err = fmt.Errorf("writing log stream %s %s: %w", gname, sname, err)
	}
}

// Close closes the stream files of a Store made by Open, and reports the
// first error writing them.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := []error{s.err}
	for k, f := range s.files {
		errs = append(errs, f.Close())
		delete(s.files, k)
	}
	// Later events stay in memory only.
	s.dir = ""
	return errors.Join(errs...)
}
