package conformance

import (
	"encoding/json"
	"net/http"
)

// multiModelRules are the rules of contract section 12.8, multi-model endpoints.
var multiModelRules = ruleSection{
	title: "Multi-model endpoints (C-MM)",
	rules: []Rule{
		{
			ID: "C-MM-01", Level: Must,
			Description: "Image has the label com.amazonaws.sagemaker.capabilities.multi-models=true",
			Hint:        "LABEL com.amazonaws.sagemaker.capabilities.multi-models=true in images that serve the multi-model API.",
			How:         "Reads the label; an image without it that answers GET /models with 200 fails, one without either is not applicable.",
			plays:       []play{playStatic, playServe},
			check: func(o *observations) outcome {
				if o.claims[ClaimMultiModel] {
					return pass("labelled")
				}
				if m := o.serve.models; m != nil && m.status == http.StatusOK {
					return fail("serves GET /models but lacks the label, so SageMaker will not use it as a multi-model endpoint")
				}
				return na("not a multi-model image")
			},
		},
		{
			ID: "C-MM-02", Level: Must, Claim: ClaimMultiModel,
			Description: `POST /models {"model_name","url"} loads the model; 409 if already loaded; 507 if out of resources`,
			Hint:        "Load the model named by model_name from url; answer 409 when it is already loaded.",
			How:         "Starts a container with SAGEMAKER_MULTI_MODEL=true and a model at /opt/ml/models/<name>/model; loads it (2xx expected), then loads it again (409 expected).",
			deps:        []string{"C-IN-04", "C-IN-12"},
			plays:       []play{playMultiModel},
			check: func(o *observations) outcome {
				m := o.mm
				if m == nil || m.err != nil || !m.health.Healthy {
					return fail("the multi-model container did not become healthy: %v", o.mmErr())
				}
				if !is2xx(m.load.status) {
					return fail("loading got %s", m.load.describe())
				}
				if m.reload.status != http.StatusConflict {
					return fail("loading the same model again got %s, want 409", m.reload.describe())
				}
				return pass("load %d, reload 409", m.load.status)
			},
		},
		{
			ID: "C-MM-03", Level: Must, Claim: ClaimMultiModel,
			Description: `GET /models returns {"models":[{"modelName","modelUrl"}]} and supports next_page_token`,
			Hint:        `Answer GET /models with {"models":[{"modelName": ..., "modelUrl": ...}], "nextPageToken": ...}.`,
			How:         "After loading one model, GET /models must list it with modelName and modelUrl.",
			plays:       []play{playMultiModel},
			deps:        []string{"C-MM-02"},
			check: func(o *observations) outcome {
				l := o.mm.list
				if l.status != http.StatusOK {
					return fail("GET /models got %s", l.describe())
				}
				var v struct {
					Models []struct {
						Name string `json:"modelName"`
						URL  string `json:"modelUrl"`
					} `json:"models"`
				}
				if err := json.Unmarshal(l.body, &v); err != nil {
					return fail("GET /models is not the expected JSON: %v", err)
				}
				for _, m := range v.Models {
					if m.Name == mmModel && m.URL != "" {
						return pass("lists %s", mmModel)
					}
				}
				return fail("GET /models does not list {modelName: %q, modelUrl: ...}: %s", mmModel, truncate(l.body, 200))
			},
		},
		{
			ID: "C-MM-04", Level: Must, Claim: ClaimMultiModel,
			Description: `GET /models/<name> returns {"modelName","modelUrl"}, or 404`,
			Hint:        "Answer GET /models/<name> with the model, or 404 when it is not loaded.",
			How:         "GET /models/<loaded> must return its modelName; GET /models/<unknown> must return 404.",
			plays:       []play{playMultiModel},
			deps:        []string{"C-MM-02"},
			evidence: func(o *observations) (outcome, bool) {
				// A model that was never loaded is found: wrong whether or
				// not loading worked.
				if m := o.mm; m != nil && m.getUnknown != nil && m.getUnknown.err == nil && is2xx(m.getUnknown.status) {
					return fail("GET /models/<unknown> got %s, want 404", m.getUnknown.describe()), true
				}
				return outcome{}, false
			},
			check: func(o *observations) outcome {
				m := o.mm
				var v struct {
					Name string `json:"modelName"`
				}
				if m.get.status != http.StatusOK || json.Unmarshal(m.get.body, &v) != nil || v.Name != mmModel {
					return fail("GET /models/%s got %s", mmModel, m.get.describe())
				}
				if m.getUnknown.status != http.StatusNotFound {
					return fail("GET /models/<unknown> got %s, want 404", m.getUnknown.describe())
				}
				return pass("found, and 404 for an unknown model")
			},
		},
		{
			ID: "C-MM-05", Level: Must, Claim: ClaimMultiModel,
			Description: "DELETE /models/<name> frees the resources before responding, or returns 404",
			Hint:        "Unload the model before answering DELETE; answer 404 for models that are not loaded.",
			How:         "DELETE /models/<loaded> must answer 2xx, after which GET /models/<name> and another DELETE answer 404.",
			plays:       []play{playMultiModel},
			deps:        []string{"C-MM-02", "C-MM-04"},
			check: func(o *observations) outcome {
				m := o.mm
				switch {
				case !is2xx(m.del.status):
					return fail("DELETE got %s", m.del.describe())
				case m.getAfterDel.status != http.StatusNotFound:
					return fail("after DELETE, GET /models/%s got %s, want 404", mmModel, m.getAfterDel.describe())
				case m.delAgain.status != http.StatusNotFound:
					return fail("a second DELETE got %s, want 404", m.delAgain.describe())
				}
				return pass("unloaded")
			},
		},
		{
			ID: "C-MM-06", Level: Must, Claim: ClaimMultiModel,
			Description: "POST /models/<name>/invoke runs inference (404 if not loaded)",
			Hint:        "Route POST /models/<name>/invoke to the loaded model; answer 404 when it is not loaded.",
			How:         "Invokes the loaded model with the sample (2xx expected) and an unknown one (404 expected).",
			plays:       []play{playMultiModel},
			deps:        []string{"C-MM-02", "C-IN-05"},
			evidence: func(o *observations) (outcome, bool) {
				// A model that was never loaded answers: wrong whether or
				// not loading worked.
				if m := o.mm; m != nil && m.invokeUnknown != nil && m.invokeUnknown.err == nil && is2xx(m.invokeUnknown.status) {
					return fail("invoking an unknown model got %s, want 404", m.invokeUnknown.describe()), true
				}
				return outcome{}, false
			},
			check: func(o *observations) outcome {
				m := o.mm
				if !m.invoke.ok(o.opts) {
					return fail("invoking %s got %s", mmModel, m.invoke.describe())
				}
				if m.invokeUnknown.status != http.StatusNotFound {
					return fail("invoking an unknown model got %s, want 404", m.invokeUnknown.describe())
				}
				return pass("invoke %d, unknown 404", m.invoke.status)
			},
		},
	},
}
