package train

import (
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// MetricPrefix starts every metric line.
const MetricPrefix = "#metric "

// Metrics prints one line per metric value, in a form that SageMaker's
// MetricDefinitions regexes pick out of the job's logs. It is safe for
// concurrent use; each line is one Write.
type Metrics struct {
	mu sync.Mutex
	w  io.Writer
}

// NewMetrics prints to w (os.Stdout in Env.Metrics).
func NewMetrics(w io.Writer) *Metrics { return &Metrics{w: w} }

// Log prints "#metric name=<name> value=<value>".
func (m *Metrics) Log(name string, value float64) { m.write(name, value, "") }

// LogStep prints "#metric name=<name> value=<value> step=<step>".
func (m *Metrics) LogStep(name string, step int, value float64) {
	m.write(name, value, " step="+strconv.Itoa(step))
}

func (m *Metrics) write(name string, value float64, suffix string) {
	line := MetricPrefix + "name=" + MetricName(name) + " value=" + FormatMetricValue(value) + suffix + "\n"
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _ = io.WriteString(m.w, line)
}

// MetricName is the form a name takes in a metric line: whitespace and
// "=" become "_", so the line stays parseable.
func MetricName(name string) string {
	if name == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if r == '=' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' {
			return '_'
		}
		return r
	}, name)
}

// FormatMetricValue is the shortest decimal form of v, or "NaN",
// "Infinity" or "-Infinity" (forms Python, Java and Go all parse).
func FormatMetricValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// MetricRegex is the MetricDefinitions Regex for the metric name: its
// first group captures the value.
func MetricRegex(name string) string {
	return regexp.QuoteMeta(MetricPrefix+"name="+MetricName(name)) + ` value=(NaN|-?Infinity|[-+0-9.eE]+)`
}

// MetricDefinition is one entry of AlgorithmSpecification.MetricDefinitions.
type MetricDefinition struct {
	Name  string `json:"Name"`
	Regex string `json:"Regex"`
}

// Definitions returns the MetricDefinitions for names.
func Definitions(names ...string) []MetricDefinition {
	defs := make([]MetricDefinition, len(names))
	for i, n := range names {
		defs[i] = MetricDefinition{Name: n, Regex: MetricRegex(n)}
	}
	return defs
}
