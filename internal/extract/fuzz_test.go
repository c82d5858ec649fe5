package extract

import (
	"archive/tar"
	"bytes"
	"context"
	"testing"
)

// FuzzStream unpacks arbitrary bytes: whatever the archive, nothing is
// written beside the root and no link left in it resolves outside. The
// corpus in testdata/fuzz/FuzzStream keeps the inputs the fuzzer found
// interesting.
func FuzzStream(f *testing.F) {
	seeds := [][]ent{
		{{name: "a", typ: tar.TypeSymlink, link: "."}, {name: "b", typ: tar.TypeSymlink, link: "a/.."}, {name: "b/victim", body: "x"}},
		{{name: "b", typ: tar.TypeSymlink, link: "a/.."}, {name: "a", typ: tar.TypeSymlink, link: "."}, {name: "b/victim", body: "x"}},
		{{name: "v", typ: tar.TypeSymlink, link: "../victim"}, {name: "v", body: "x"}},
		{{name: "h", typ: tar.TypeLink, link: "../victim"}},
		{{name: "f", body: "x"}, {name: "h", typ: tar.TypeLink, link: "f"}, {name: "h", body: "y"}},
		{{name: "d/", typ: tar.TypeDir}, {name: "d/s", typ: tar.TypeSymlink, link: "../.."}, {name: "d/s/victim", body: "x"}},
		{{name: "../victim", body: "x"}},
		{{name: "/victim", body: "x"}},
		{{name: "p", typ: tar.TypeFifo}},
	}
	for _, s := range seeds {
		b := tarOf(f, s...)
		f.Add(b)
		f.Add(gz(f, b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		root, victim := sandbox(t)
		Stream(context.Background(), bytes.NewReader(b), root, WithLimits(Limits{Bytes: 1 << 20, Entries: 1000}))
		checkConfined(t, root, victim)
	})
}
