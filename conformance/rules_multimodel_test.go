package conformance

import (
	"net/http"

	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

var multiModelCases = map[string][]ruleCase{
	"C-MM-01": {
		{name: "not multi-model", want: StatusNA},
		{name: "labelled", edit: func(o *observations) { o.claims = claimsOf(map[string]string{optml.LabelMultiModels: "true"}, nil) }, want: StatusPass},
		{name: "serves /models unlabelled", edit: func(o *observations) {
			o.serve.models = ok("GET /models", "application/json", `{"models": []}`)
		}, want: StatusFail, msg: "lacks the label"},
	},
	"C-MM-02": {
		{name: "load and reload", want: StatusPass, msg: "reload 409"},
		{name: "reload accepted", edit: func(o *observations) { o.mm.reload = answer("reload", http.StatusOK, "") }, want: StatusFail, msg: "want 409"},
		{name: "load refused", edit: func(o *observations) { o.mm.load = answer("load", http.StatusBadRequest, "") }, want: StatusFail, msg: "loading got 400"},
		{name: "unhealthy", edit: func(o *observations) { o.mm.health = platform.Health{} }, want: StatusFail, msg: "SAGEMAKER_MULTI_MODEL=true"},
	},
	"C-MM-03": {
		{name: "listed", want: StatusPass, msg: "lists " + mmModel},
		{name: "wrong keys", edit: func(o *observations) {
			o.mm.list = ok("GET /models", "application/json", `{"models": [{"name": "`+mmModel+`"}]}`)
		}, want: StatusFail, msg: "does not list"},
		{name: "not JSON", edit: func(o *observations) { o.mm.list = ok("GET /models", "text/plain", mmModel) }, want: StatusFail, msg: "not the expected JSON"},
		{name: "error", edit: func(o *observations) { o.mm.list = answer("GET /models", http.StatusInternalServerError, "") }, want: StatusFail, msg: "got 500"},
	},
	"C-MM-04": {
		{name: "found", want: StatusPass},
		{name: "unknown found", edit: func(o *observations) { o.mm.getUnknown = o.mm.get }, want: StatusFail, msg: "want 404"},
		{name: "loaded not found", edit: func(o *observations) { o.mm.get = answer("GET", http.StatusNotFound, "") }, want: StatusFail, msg: "GET /models/" + mmModel + " got 404"},
	},
	"C-MM-05": {
		{name: "unloaded", want: StatusPass},
		{name: "still there", edit: func(o *observations) { o.mm.getAfterDel = o.mm.get }, want: StatusFail, msg: "after DELETE"},
		{name: "second delete accepted", edit: func(o *observations) { o.mm.delAgain = answer("delete again", http.StatusOK, "") }, want: StatusFail, msg: "a second DELETE got 200"},
		{name: "delete refused", edit: func(o *observations) { o.mm.del = answer("delete", http.StatusMethodNotAllowed, "") }, want: StatusFail, msg: "DELETE got 405"},
	},
	"C-MM-06": {
		{name: "invoked", want: StatusPass},
		{name: "unknown invoked", edit: func(o *observations) { o.mm.invokeUnknown = o.serve.sample }, want: StatusFail, msg: "want 404"},
		{name: "invoke fails", edit: func(o *observations) { o.mm.invoke = answer("invoke", http.StatusInternalServerError, "") }, want: StatusFail, msg: "invoking " + mmModel + " got 500"},
	},
}
