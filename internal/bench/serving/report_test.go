package main

import "testing"

func TestReplaceSection(t *testing.T) {
	const sec = "## Serving\n\nnew table\n"
	tests := []struct{ name, doc, want string }{
		{"no file", "", "# Benchmarks\n\n## Serving\n\nnew table\n"},
		{"no section", "# Benchmarks\n\n## Build\n\nbuild table\n", "# Benchmarks\n\n## Build\n\nbuild table\n\n## Serving\n\nnew table\n"},
		{"last section", "# B\n\n## Build\n\nx\n\n## Serving\n\nold\n", "# B\n\n## Build\n\nx\n\n## Serving\n\nnew table\n"},
		{"middle section", "# B\n\n## Serving\n\nold\n### sub\nold\n\n## Training\n\nkeep\n",
			"# B\n\n## Serving\n\nnew table\n\n## Training\n\nkeep\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replaceSection(tt.doc, "## Serving", sec); got != tt.want {
				t.Errorf("replaceSection(%q) =\n%q\nwant\n%q", tt.doc, got, tt.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{fmtRPS(77852.4), "77,852"}, {fmtRPS(999), "999"}, {fmtRPS(1234567), "1,234,567"},
		{fmtMs(0.0564), "0.056"}, {fmtMs(7.391), "7.39"}, {fmtMs(43.21), "43.2"}, {fmtMs(1603.4), "1603"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median(3,1,2) = %v, want 2", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median(4,1,2,3) = %v, want 2.5", m)
	}
}
