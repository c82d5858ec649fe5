package conformance

import (
	"fmt"
	"time"
)

// Level says how much a rule matters.
type Level string

// Levels. A failed must-rule fails the run; a failed should-rule is reported.
const (
	Must   Level = "must"
	Should Level = "should"
)

// Status is the outcome of one rule.
type Status string

// Statuses. Only StatusPass is a pass: skipped, not-applicable and advice
// results say that nothing was shown, either way.
const (
	StatusPass Status = "pass"
	StatusFail Status = "fail"
	// StatusSkip: the rule applies but could not be observed in this run
	// (a rule it depends on failed, no GPU runtime, the program finished too
	// early, ...).
	StatusSkip Status = "skip"
	// StatusNA: the rule does not apply to this image or profile.
	StatusNA Status = "n/a"
	// StatusAdvice: the rule cannot be observed from outside a container.
	StatusAdvice Status = "advice"
)

// Result is one rule's outcome in a run.
type Result struct {
	ID          string `json:"id"`
	Level       Level  `json:"level"`
	Description string `json:"description"`
	Status      Status `json:"status"`
	Message     string `json:"message,omitempty"`
	Hint        string `json:"hint,omitempty"`
	// Phases names the parts of the run that observed the rule, and
	// Duration is how long they ran together (zero for a rule that was
	// not observed: skipped, not applicable, advice).
	Phases   []string      `json:"phases,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Phase is one part of a run (the static checks, the training job, the
// endpoint, ...): when it started after the run did, and how long it took.
// Phases run concurrently where they are independent.
type Phase struct {
	Name     string        `json:"name"`
	Start    time.Duration `json:"start_ns"`
	Duration time.Duration `json:"duration_ns"`
	Err      string        `json:"error,omitempty"`
}

// Image is what the static checks learned about the image.
type Image struct {
	Ref          string            `json:"ref"`
	ID           string            `json:"id,omitempty"`
	OS           string            `json:"os,omitempty"`
	Architecture string            `json:"architecture,omitempty"`
	Size         int64             `json:"size_bytes,omitempty"`
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	Cmd          []string          `json:"cmd,omitempty"`
	User         string            `json:"user,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	Image    Image         `json:"image"`
	RunID    string        `json:"run_id"`
	Profile  string        `json:"profile"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Results  []Result      `json:"results"`
	Summary  Summary       `json:"summary"`
	Phases   []Phase       `json:"phases"`
}

// Summary counts results by status; MustFailed counts failed must-rules.
type Summary struct {
	Pass       int `json:"pass"`
	Fail       int `json:"fail"`
	Skip       int `json:"skip"`
	NA         int `json:"not_applicable"`
	Advice     int `json:"advice"`
	MustFailed int `json:"must_failed"`
}

func (s Summary) String() string {
	return fmt.Sprintf("%d passed, %d failed (%d must), %d skipped, %d not applicable, %d advice",
		s.Pass, s.Fail, s.MustFailed, s.Skip, s.NA, s.Advice)
}

func summarize(rs []Result) Summary {
	var s Summary
	for _, r := range rs {
		switch r.Status {
		case StatusPass:
			s.Pass++
		case StatusFail:
			s.Fail++
			if r.Level == Must {
				s.MustFailed++
			}
		case StatusSkip:
			s.Skip++
		case StatusNA:
			s.NA++
		case StatusAdvice:
			s.Advice++
		}
	}
	return s
}

// Passed reports whether no must-rule failed.
func (r *Report) Passed() bool { return r.Summary.MustFailed == 0 }

// Result returns the result of rule id, if the run has one.
func (r *Report) Result(id string) (Result, bool) {
	for _, res := range r.Results {
		if res.ID == id {
			return res, true
		}
	}
	return Result{}, false
}

// Failed returns the ids of the failed rules (of any level).
func (r *Report) Failed() []string {
	var ids []string
	for _, res := range r.Results {
		if res.Status == StatusFail {
			ids = append(ids, res.ID)
		}
	}
	return ids
}
