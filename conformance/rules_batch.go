package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// batchRules are the rules of contract section 12.7, batch transform.
var batchRules = ruleSection{
	title: "Batch transform (C-BT)",
	rules: []Rule{
		{
			ID: "C-BT-01", Level: Must,
			Description: "If /execution-parameters is implemented, it returns JSON with MaxConcurrentTransforms (int), BatchStrategy, MaxPayloadInMB (int)",
			Hint:        `Return {"MaxConcurrentTransforms": 1, "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6} with integer numbers, or answer 404.`,
			How:         "Starts a serving container with SAGEMAKER_BATCH=true and GETs /execution-parameters: 404 means not implemented (not applicable); 200 must carry the three keys with the right types.",
			plays:       []play{playBatch},
			deps:        []string{"C-IN-04", "C-IN-12"},
			check: func(o *observations) outcome {
				b := o.batch
				if b == nil || b.err != nil || !b.health.Healthy {
					return fail("the batch container did not become healthy: %v", o.batchErr())
				}
				ep := b.execParams
				if ep == nil {
					return skip("not requested")
				}
				if ep.status == http.StatusNotFound {
					return na("/execution-parameters is not implemented (optional)")
				}
				if ep.status != http.StatusOK {
					return fail("/execution-parameters answered %s", ep.describe())
				}
				return checkExecutionParameters(ep.body)
			},
		},
		{
			ID: "C-BT-02", Level: Should,
			Description: "Handles up to SAGEMAKER_MAX_CONCURRENT_TRANSFORMS concurrent /invocations",
			Hint:        "Serve concurrent requests (several workers or threads), at least as many as MaxConcurrentTransforms.",
			How:         "With SAGEMAKER_MAX_CONCURRENT_TRANSFORMS=4, sends the sample 4 times at once; all must get the sample's status.",
			plays:       []play{playBatch},
			deps:        []string{"C-IN-07", "C-IN-05", "C-IN-12"},
			check: func(o *observations) outcome {
				b := o.batch
				if b == nil || !b.health.Healthy {
					return fail("the batch container did not become healthy: %v", o.batchErr())
				}
				for i, iv := range b.concurrent {
					if !iv.ok(o.opts) {
						return fail("concurrent request %d of %d got %s", i+1, len(b.concurrent), iv.describe())
					}
				}
				return pass("%d concurrent requests succeeded", len(b.concurrent))
			},
		},
		{
			ID: "C-BT-03", Level: Should,
			Description: "For MultiRecord/Line input, returns exactly one output record per input record, in order",
			Hint:        "Emit one output line per input line (a placeholder for records that fail).",
			How:         "In the batch container, sends the sample when it is line-based (text/csv, JSON lines) and counts the lines of a line-based answer.",
			plays:       []play{playBatch},
			deps:        []string{"C-IN-07", "C-IN-05", "C-IN-12"},
			check: func(o *observations) outcome {
				b := o.batch
				if b == nil || !b.health.Healthy {
					return fail("the batch container did not become healthy: %v", o.batchErr())
				}
				if !lineBased(o.opts.contentType) {
					return na("the sample's content type %s is not line-based", o.opts.contentType)
				}
				r := b.records
				if r == nil || !r.ok(o.opts) {
					return fail("the multi-record request got %s", r.describe())
				}
				if !lineBased(r.contentType) {
					return na("the answer's content type %q is not line-based", r.contentType)
				}
				in, out := countLines(o.opts.payload), countLines(r.body)
				if in != out {
					return fail("%d input records gave %d output records", in, out)
				}
				return pass("%d records in, %d out", in, out)
			},
		},
	},
}

// checkExecutionParameters validates an /execution-parameters body.
func checkExecutionParameters(body []byte) outcome {
	var v map[string]json.RawMessage
	if err := json.Unmarshal(body, &v); err != nil {
		return fail("the body is not a JSON object: %v", err)
	}
	var problems []string
	for _, k := range []string{"MaxConcurrentTransforms", "MaxPayloadInMB"} {
		var n int
		raw, ok := v[k]
		if !ok {
			problems = append(problems, k+" is missing")
		} else if json.Unmarshal(raw, &n) != nil {
			problems = append(problems, fmt.Sprintf("%s is %s, not an integer", k, raw))
		}
	}
	var bs string
	if raw, ok := v["BatchStrategy"]; !ok {
		problems = append(problems, "BatchStrategy is missing")
	} else if json.Unmarshal(raw, &bs) != nil {
		problems = append(problems, fmt.Sprintf("BatchStrategy is %s, not a string", raw))
	} else if !slices.Contains([]string{"MultiRecord", "SingleRecord", "MULTI_RECORD", "SINGLE_RECORD"}, bs) {
		problems = append(problems, fmt.Sprintf("BatchStrategy %q is not MultiRecord or SingleRecord", bs))
	}
	if len(problems) > 0 {
		return fail("%s", strings.Join(problems, "; "))
	}
	return pass("%s", truncate(body, 120))
}

func lineBased(ct string) bool {
	ct = strings.TrimSpace(strings.SplitN(ct, ";", 2)[0])
	switch ct {
	case "text/csv", "application/jsonlines", "application/x-jsonlines", "application/jsonl":
		return true
	}
	return false
}

func countLines(b []byte) int {
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return 0
	}
	return strings.Count(s, "\n") + 1
}
