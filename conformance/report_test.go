package conformance

import (
	"bytes"
	"encoding/xml"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sampleReport is a finished run with a pass, a must failure whose
// evidence spans lines and holds markup, a skip and advice.
func sampleReport() *Report {
	rep := &Report{
		Image:   Image{Ref: "my-algo:latest", OS: "linux", Architecture: "amd64", Size: 12_300_000},
		RunID:   "abc123",
		Profile: "cpu",
		Started: time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC),
		Results: []Result{
			{ID: "C-TR-01", Level: Must, Description: "train runs", Status: StatusPass, Message: "exit 0 after 1.2s", Phases: []string{"train"}, Duration: 1200 * time.Millisecond},
			{ID: "C-TR-05", Level: Must, Description: "failure file", Status: StatusFail, Message: "ExecuteUserScriptError:\nTraceback: <ValueError> & more", Hint: "write the reason to /opt/ml/output/failure", Phases: []string{"train-failure"}, Duration: 800 * time.Millisecond},
			{ID: "C-IN-01", Level: Must, Description: "serves on 8080", Status: StatusSkip, Message: "depends on C-TR-01"},
			{ID: "C-IMG-05", Level: Should, Description: "small image", Status: StatusAdvice, Message: "cannot be observed"},
		},
		Phases: []Phase{
			{Name: "static", Start: 0, Duration: 50 * time.Millisecond},
			{Name: "train", Start: 60 * time.Millisecond, Duration: 1200 * time.Millisecond},
			{Name: "train-failure", Start: 60 * time.Millisecond, Duration: 800 * time.Millisecond, Err: "container exited early"},
		},
		Duration: 1300 * time.Millisecond,
	}
	rep.Summary = summarize(rep.Results)
	return rep
}

func TestWriteHTML(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		"<title>sagekit test my-algo:latest: FAIL</title>",
		`<h2 id="C-TR">Training (C-TR)`,
		`<h2 id="C-IN">Real-time inference (C-IN)`,
		`<h2 id="C-IMG">Image (C-IMG)`,
		// The evidence, escaped, and the fix line of the failure.
		"Traceback: &lt;ValueError&gt; &amp; more",
		"<b>fix:</b> write the reason to /opt/ml/output/failure",
		`id="fail-C-TR-05"`,
		">PASS<", ">FAIL<", ">SKIP<", ">ADVICE<",
		// Per-phase timings and the time line.
		`<td class="id">train-failure</td><td class="time">+60ms</td><td class="time">800ms</td>`,
		"container exited early",
		"1 passed", "1 failed (1 must)",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// Self-contained: no scripts, no external references of any kind.
	for _, re := range []string{`(?i)<script`, `(?i)<link`, `(?i)\bsrc=`, `(?i)url\(`, `(?i)@import`, `(?i)https?://`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("the page has an external reference or script: %q", m)
		}
	}
	if strings.Count(page, "<table>") != 1+3 {
		t.Errorf("want one phase table and one table per section (3), got %d tables", strings.Count(page, "<table>"))
	}
}

func TestJUnitTimes(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var s JUnitSuites
	if err := xml.Unmarshal(b.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, c := range s.Suites[0].Cases {
		got[strings.Fields(c.Name)[0]] = c.Time
	}
	want := map[string]float64{"C-TR-01": 1.2, "C-TR-05": 0.8, "C-IN-01": 0, "C-IMG-05": 0}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("testcase %s time = %v, want %v", id, got[id], w)
		}
	}
	if s.Time != 1.3 || s.Suites[0].Time != 1.3 {
		t.Errorf("suite time = %v/%v, want 1.3", s.Time, s.Suites[0].Time)
	}
	props := map[string]string{}
	for _, p := range s.Suites[0].Properties {
		props[p.Name] = p.Value
	}
	if props["phase.train.seconds"] != "1.200" {
		t.Errorf("phase properties = %v", props)
	}
}
