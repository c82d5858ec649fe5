// Package logs keeps the containers' output of sagekit local as CloudWatch
// Logs does, in log groups and streams named as SageMaker names them, and
// answers the Logs API's reading operations (DescribeLogGroups,
// DescribeLogStreams, GetLogEvents, FilterLogEvents). Events live in
// memory, up to a bound per stream; a Store made by Open also appends
// them to a file per stream, so they survive a restart.
package logs

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sagekit/sagekit/local/wire"
)

// Log group names SageMaker uses.
const (
	GroupTraining  = "/aws/sagemaker/TrainingJobs"
	GroupTransform = "/aws/sagemaker/TransformJobs"
	GroupEndpoints = "/aws/sagemaker/Endpoints/"
)

// MaxEvents bounds each stream; older events are dropped first.
const MaxEvents = 100_000

// Event is one log line.
type Event struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

type stream struct {
	name    string
	created int64
	events  []Event
	first   int // index of events[0] since the stream began
}

type group struct {
	name    string
	created int64
	streams map[string]*stream
}

// Store holds every group. Its methods are safe for concurrent use.
type Store struct {
	mu     sync.Mutex
	groups map[string]*group
	// dir, when set, holds a file per stream (see Open).
	dir   string
	files map[string]*os.File
	err   error
}

// New returns an empty Store.
func New() *Store { return &Store{groups: map[string]*group{}} }

func ms(t time.Time) int64 { return t.UnixMilli() }

// Put appends one event to group/stream, creating both if needed.
func (s *Store) Put(groupName, streamName string, t time.Time, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := ms(time.Now())
	g := s.groups[groupName]
	if g == nil {
		g = &group{name: groupName, created: now, streams: map[string]*stream{}}
		s.groups[groupName] = g
	}
	st := g.streams[streamName]
	if st == nil {
		st = &stream{name: streamName, created: now}
		g.streams[streamName] = st
	}
	ev := Event{Timestamp: ms(t), Message: msg, IngestionTime: now}
	st.events = append(st.events, ev)
	if s.dir != "" {
		s.persist(groupName, streamName, ev)
	}
	if len(st.events) > MaxEvents {
		drop := len(st.events) - MaxEvents
		st.events = slices.Delete(st.events, 0, drop)
		st.first += drop
	}
}

// PutText appends each line of text as an event stamped t.
func (s *Store) PutText(groupName, streamName string, t time.Time, text []byte) {
	for _, line := range bytes.Split(bytes.TrimRight(text, "\n"), []byte("\n")) {
		if len(line) > 0 {
			s.Put(groupName, streamName, t, string(bytes.TrimRight(line, "\r")))
		}
	}
}

// Writer returns an io.Writer whose complete lines become events of
// group/stream, stamped when written.
func (s *Store) Writer(groupName, streamName string) *LineWriter {
	return &LineWriter{s: s, group: groupName, stream: streamName}
}

// LineWriter turns written lines into events.
type LineWriter struct {
	s             *Store
	group, stream string
	mu            sync.Mutex
	buf           []byte
}

func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.s.Put(w.group, w.stream, time.Now(), string(bytes.TrimRight(w.buf[:i], "\r")))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// Flush writes a last line without a newline.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.s.Put(w.group, w.stream, time.Now(), string(w.buf))
		w.buf = nil
	}
}

func notFound() *wire.Error {
	return &wire.Error{Code: wire.CodeLogsNotFound, Status: 400, Message: "The specified log group does not exist."}
}

// GroupsInput is DescribeLogGroups' input.
type GroupsInput struct {
	LogGroupNamePrefix string `json:"logGroupNamePrefix"`
	NextToken          string `json:"nextToken"`
	Limit              int    `json:"limit"`
}

// DescribeLogGroups lists groups by name.
func (s *Store) DescribeLogGroups(in GroupsInput) (any, *wire.Error) {
	s.mu.Lock()
	var names []string
	created := map[string]int64{}
	for n, g := range s.groups {
		if strings.HasPrefix(n, in.LogGroupNamePrefix) {
			names = append(names, n)
			created[n] = g.created
		}
	}
	s.mu.Unlock()
	slices.Sort(names)
	page, next, e := paginate(names, in.NextToken, in.Limit, 50)
	if e != nil {
		return nil, e
	}
	out := []map[string]any{}
	for _, n := range page {
		out = append(out, map[string]any{"logGroupName": n, "creationTime": created[n], "storedBytes": 0,
			"arn": "arn:aws:logs:" + wire.Region + ":" + wire.Account + ":log-group:" + n + ":*"})
	}
	return withToken(map[string]any{"logGroups": out}, "nextToken", next), nil
}

// StreamsInput is DescribeLogStreams' input.
type StreamsInput struct {
	LogGroupName        string `json:"logGroupName"`
	LogGroupIdentifier  string `json:"logGroupIdentifier"`
	LogStreamNamePrefix string `json:"logStreamNamePrefix"`
	OrderBy             string `json:"orderBy"`
	Descending          bool   `json:"descending"`
	NextToken           string `json:"nextToken"`
	Limit               int    `json:"limit"`
}

// DescribeLogStreams lists a group's streams.
func (s *Store) DescribeLogStreams(in StreamsInput) (any, *wire.Error) {
	name := in.LogGroupName
	if name == "" {
		name = in.LogGroupIdentifier
	}
	type info struct {
		name                 string
		created, first, last int64
	}
	s.mu.Lock()
	g := s.groups[name]
	if g == nil {
		s.mu.Unlock()
		return nil, notFound()
	}
	var all []info
	for n, st := range g.streams {
		if !strings.HasPrefix(n, in.LogStreamNamePrefix) {
			continue
		}
		i := info{name: n, created: st.created}
		if len(st.events) > 0 {
			i.first, i.last = st.events[0].Timestamp, st.events[len(st.events)-1].Timestamp
		}
		all = append(all, i)
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b info) int {
		c := strings.Compare(a.name, b.name)
		if in.OrderBy == "LastEventTime" {
			c = int(a.last - b.last)
		}
		if in.Descending {
			c = -c
		}
		return c
	})
	page, next, e := paginate(all, in.NextToken, in.Limit, 50)
	if e != nil {
		return nil, e
	}
	out := []map[string]any{}
	for _, i := range page {
		m := map[string]any{"logStreamName": i.name, "creationTime": i.created, "storedBytes": 0,
			"arn": "arn:aws:logs:" + wire.Region + ":" + wire.Account + ":log-group:" + name + ":log-stream:" + i.name}
		if i.last != 0 {
			m["firstEventTimestamp"], m["lastEventTimestamp"], m["lastIngestionTime"] = i.first, i.last, i.last
		}
		out = append(out, m)
	}
	return withToken(map[string]any{"logStreams": out}, "nextToken", next), nil
}

// EventsInput is GetLogEvents' input.
type EventsInput struct {
	LogGroupName       string `json:"logGroupName"`
	LogGroupIdentifier string `json:"logGroupIdentifier"`
	LogStreamName      string `json:"logStreamName"`
	StartTime          *int64 `json:"startTime"`
	EndTime            *int64 `json:"endTime"`
	NextToken          string `json:"nextToken"`
	Limit              int    `json:"limit"`
	StartFromHead      bool   `json:"startFromHead"`
}

// GetLogEvents pages through one stream. Tokens are f/N (forward from the
// N-th event) and b/N (backward from it), as CloudWatch's look.
func (s *Store) GetLogEvents(in EventsInput) (any, *wire.Error) {
	name := in.LogGroupName
	if name == "" {
		name = in.LogGroupIdentifier
	}
	limit := in.Limit
	if limit <= 0 {
		limit = 10000
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[name]
	if g == nil {
		return nil, notFound()
	}
	st := g.streams[in.LogStreamName]
	if st == nil {
		return nil, &wire.Error{Code: wire.CodeLogsNotFound, Status: 400, Message: "The specified log stream does not exist."}
	}
	var sel []int // absolute indexes within the time range
	for i, ev := range st.events {
		if (in.StartTime == nil || ev.Timestamp >= *in.StartTime) && (in.EndTime == nil || ev.Timestamp < *in.EndTime) {
			sel = append(sel, st.first+i)
		}
	}
	forward := in.StartFromHead
	pos := -1
	if in.NextToken != "" {
		dir, n, ok := strings.Cut(in.NextToken, "/")
		v, err := strconv.Atoi(n)
		if !ok || err != nil || (dir != "f" && dir != "b") {
			return nil, &wire.Error{Code: wire.CodeLogsInvalidParam, Status: 400, Message: "The specified nextToken is invalid."}
		}
		forward, pos = dir == "f", v
	}
	// [lo, hi) of sel to return.
	var lo, hi int
	switch {
	case pos >= 0 && forward:
		lo, _ = slices.BinarySearch(sel, pos)
		hi = min(lo+limit, len(sel))
	case pos >= 0:
		hi, _ = slices.BinarySearch(sel, pos)
		lo = max(hi-limit, 0)
	case forward:
		lo, hi = 0, min(limit, len(sel))
	default:
		hi = len(sel)
		lo = max(hi-limit, 0)
	}
	events := []Event{}
	for _, abs := range sel[lo:hi] {
		events = append(events, st.events[abs-st.first])
	}
	fwd, back := st.first+len(st.events), st.first
	if hi < len(sel) {
		fwd = sel[hi]
	}
	if hi == len(sel) && len(sel) > 0 {
		fwd = sel[len(sel)-1] + 1
	}
	if lo < len(sel) && lo > 0 {
		back = sel[lo]
	}
	return map[string]any{"events": events, "nextForwardToken": "f/" + strconv.Itoa(fwd), "nextBackwardToken": "b/" + strconv.Itoa(back)}, nil
}

// FilterInput is FilterLogEvents' input.
type FilterInput struct {
	LogGroupName        string   `json:"logGroupName"`
	LogGroupIdentifier  string   `json:"logGroupIdentifier"`
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix string   `json:"logStreamNamePrefix"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	FilterPattern       string   `json:"filterPattern"`
	NextToken           string   `json:"nextToken"`
	Limit               int      `json:"limit"`
}

type filtered struct {
	Event
	LogStreamName string `json:"logStreamName"`
	EventID       string `json:"eventId"`
}

// FilterLogEvents returns the events of a group's streams in time order.
// filterPattern is CloudWatch's simplest form: terms that must all appear
// ("ERROR timeout"), or one quoted phrase.
func (s *Store) FilterLogEvents(in FilterInput) (any, *wire.Error) {
	name := in.LogGroupName
	if name == "" {
		name = in.LogGroupIdentifier
	}
	terms, e := parsePattern(in.FilterPattern)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	g := s.groups[name]
	if g == nil {
		s.mu.Unlock()
		return nil, notFound()
	}
	var all []filtered
	for n, st := range g.streams {
		if len(in.LogStreamNames) > 0 && !slices.Contains(in.LogStreamNames, n) {
			continue
		}
		if !strings.HasPrefix(n, in.LogStreamNamePrefix) {
			continue
		}
		for i, ev := range st.events {
			if (in.StartTime != nil && ev.Timestamp < *in.StartTime) || (in.EndTime != nil && ev.Timestamp >= *in.EndTime) {
				continue
			}
			if !matches(ev.Message, terms) {
				continue
			}
			all = append(all, filtered{Event: ev, LogStreamName: n, EventID: n + "/" + strconv.Itoa(st.first+i)})
		}
	}
	s.mu.Unlock()
	slices.SortStableFunc(all, func(a, b filtered) int {
		if a.Timestamp != b.Timestamp {
			return int(a.Timestamp - b.Timestamp)
		}
		return strings.Compare(a.EventID, b.EventID)
	})
	page, next, e := paginate(all, in.NextToken, in.Limit, 10000)
	if e != nil {
		return nil, e
	}
	if page == nil {
		page = []filtered{}
	}
	return withToken(map[string]any{"events": page, "searchedLogStreams": []any{}}, "nextToken", next), nil
}

func parsePattern(p string) ([]string, *wire.Error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return nil, nil
	}
	if strings.HasPrefix(p, "\"") {
		if len(p) < 2 || !strings.HasSuffix(p, "\"") {
			return nil, &wire.Error{Code: wire.CodeLogsInvalidParam, Status: 400, Message: "Invalid filter pattern: unbalanced quotes"}
		}
		return []string{p[1 : len(p)-1]}, nil
	}
	if strings.ContainsAny(p, "{}[]?") {
		return nil, &wire.Error{Code: wire.CodeLogsInvalidParam, Status: 400, Message: "sagekit local supports filter patterns of plain terms or one quoted phrase only"}
	}
	return strings.Fields(p), nil
}

func matches(msg string, terms []string) bool {
	for _, t := range terms {
		if !strings.Contains(msg, t) {
			return false
		}
	}
	return true
}

func paginate[T any](items []T, token string, limit, def int) ([]T, string, *wire.Error) {
	if limit <= 0 {
		limit = def
	}
	start := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", &wire.Error{Code: wire.CodeLogsInvalidParam, Status: 400, Message: "The specified nextToken is invalid."}
		}
		start = n
	}
	end := min(start+limit, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[start:end], next, nil
}

func withToken(m map[string]any, key, token string) map[string]any {
	if token != "" {
		m[key] = token
	}
	return m
}
