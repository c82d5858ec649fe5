package platform

import (
	"bufio"
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Pack writes the job's artifacts into dir as SageMaker uploads them:
// every host's /opt/ml/model merged into model.tar.gz and every host's
// /opt/ml/output/data into output.tar.gz.
func (t *Training) Pack(dir string) error {
	var models, outputs []string
	for _, h := range t.Hosts {
		models = append(models, h.Paths.Model())
		outputs = append(outputs, h.Paths.OutputData())
	}
	if err := PackDirs(filepath.Join(dir, "model.tar.gz"), models...); err != nil {
		return err
	}
	return PackDirs(filepath.Join(dir, "output.tar.gz"), outputs...)
}

// FailureReason is what SageMaker reports as FailureReason, "" when every
// host exited 0: the first failed host's failure file, else how it ended.
// A host stopped on purpose (Stop closed) is not a failure.
func (t *Training) FailureReason() string {
	stopped := false
	select {
	case <-t.Job.Stop:
		stopped = t.Job.Stop != nil
	default:
	}
	for _, h := range t.Hosts {
		if h.StartErr == nil && h.ExitCode == 0 && h.Stop == nil {
			continue
		}
		switch {
		case h.StartErr != nil:
			return fmt.Sprintf("%s: %v", h.Host, h.StartErr)
		case h.Failure != "":
			return fmt.Sprintf("%s: %s", h.Host, strings.TrimSpace(h.Failure))
		case h.Stop != nil && stopped:
			continue
		case h.Stop != nil:
			return fmt.Sprintf("%s: the job ran past its maximum runtime of %s and was stopped (exit %d)", h.Host, t.Job.MaxRuntime, h.ExitCode)
		default:
			return fmt.Sprintf("%s: exited with code %d and wrote no /opt/ml/output/failure", h.Host, h.ExitCode)
		}
	}
	return ""
}

// MetricDefinition is a training metric read from the logs, as in
// SageMaker's AlgorithmSpecification.MetricDefinitions: the first group of
// Regex, matched on each line, is the value.
type MetricDefinition struct {
	Name  string
	Regex string
}

// Metric is a metric's final value (the last one logged by any host).
type Metric struct {
	Name  string
	Value float64
}

// CompileMetrics checks the definitions' expressions; each must have a
// capturing group.
func CompileMetrics(defs []MetricDefinition) ([]*regexp.Regexp, error) {
	res := make([]*regexp.Regexp, len(defs))
	for i, d := range defs {
		re, err := regexp.Compile(d.Regex)
		if err != nil {
			return nil, fmt.Errorf("metric %q: regex %q: %w", d.Name, d.Regex, err)
		}
		if re.NumSubexp() < 1 {
			return nil, fmt.Errorf("metric %q: regex %q has no capturing group for the value", d.Name, d.Regex)
		}
		res[i] = re
	}
	return res, nil
}

// FinalMetrics scans logs line by line for each definition and returns, in
// definition order, those that matched, with the last value found.
func FinalMetrics(defs []MetricDefinition, logs ...[]byte) ([]Metric, error) {
	res, err := CompileMetrics(defs)
	if err != nil {
		return nil, err
	}
	last := make([]*float64, len(defs))
	for _, l := range logs {
		sc := bufio.NewScanner(bytes.NewReader(l))
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			for i, re := range res {
				m := re.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				if v, err := strconv.ParseFloat(strings.TrimSpace(m[1]), 64); err == nil {
					last[i] = &v
				}
			}
		}
	}
	var out []Metric
	for i, v := range last {
		if v != nil {
			out = append(out, Metric{Name: defs[i].Name, Value: *v})
		}
	}
	return out, nil
}
