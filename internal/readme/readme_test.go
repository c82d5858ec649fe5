package readme

import (
	"slices"
	"testing"
)

func TestBlocks(t *testing.T) {
	md := "# x\n\ntext\n\n    go test ./...\n\nmore\n\n    a \\\n        --b\n    c\n\n" +
		"```sh\n# comment\nmake quickstart\n```\n\n```json\n{}\n```\n\n| t |\n|---|\n\n    last\n"
	got := Blocks(md)
	want := []string{"go test ./...\n", "a \\\n    --b\nc\n", "# comment\nmake quickstart\n", "last\n"}
	if !slices.Equal(got, want) {
		t.Errorf("Blocks = %q, want %q", got, want)
	}
	if got, want := Commands(got[1]), []string{"a --b", "c"}; !slices.Equal(got, want) {
		t.Errorf("Commands = %q, want %q", got, want)
	}
	if got, want := Commands(got[2]), []string{"make quickstart"}; !slices.Equal(got, want) {
		t.Errorf("Commands = %q, want %q", got, want)
	}
}
