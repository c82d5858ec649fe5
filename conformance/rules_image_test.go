package conformance

import (
	"errors"
	"strings"
)

var imageCases = map[string][]ruleCase{
	"C-IMG-01": {
		{name: "amd64", want: StatusPass, msg: "linux/amd64"},
		{name: "arm64", edit: func(o *observations) { o.image.Architecture = "arm64" }, want: StatusPass},
		{name: "s390x", edit: func(o *observations) { o.image.Architecture = "s390x" }, want: StatusFail, msg: "linux/s390x"},
		{name: "windows", edit: func(o *observations) { o.image.OS = "windows" }, want: StatusFail},
	},
	"C-IMG-02": {
		{name: "short", want: StatusPass},
		{name: "digest", edit: func(o *observations) { o.image.Ref = "example.com/good@sha256:" + strings.Repeat("a", 64) }, want: StatusPass},
		{name: "too long", edit: func(o *observations) { o.image.Ref = "example.com/" + strings.Repeat("a", 250) }, want: StatusFail, msg: "262 characters"},
		{name: "not a reference", edit: func(o *observations) { o.image.Ref = "Example/UPPER:tag:tag" }, want: StatusFail},
	},
	"C-IMG-03": {
		{name: "pong", want: StatusPass},
		{name: "no pong", edit: func(o *observations) { o.serve.bidiErr = errors.New("no pong within 60s") }, want: StatusFail, msg: "no pong"},
	},
}
