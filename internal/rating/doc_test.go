package rating_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"insure/internal/rating"
)

// docText returns the package comment of doc.go with the comment markers
// and one level of code-block indentation removed.
func docText(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatalf("read doc.go: %v", err)
	}
	var b strings.Builder
	for line := range strings.SplitSeq(string(src), "\n") {
		if !strings.HasPrefix(line, "//") {
			continue
		}
		line = strings.TrimPrefix(line, "//")
		if !strings.HasPrefix(line, "\t") {
			line = strings.TrimPrefix(line, " ")
		} else {
			line = line[1:]
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// TestDocWorkedExamples keeps the worked examples in doc.go in step with the
// code: each example's printed figures must appear verbatim in doc.go.
func TestDocWorkedExamples(t *testing.T) {
	t.Parallel()
	doc := docText(t)
	table, err := rating.DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range workedExamples() {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			quotes, err := table.Rate(ex.req)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			printQuotes(&out, quotes)
			if !strings.Contains(doc, out.String()) {
				t.Errorf("doc.go does not show the figures the code computes; update its worked example to:\n%s", out.String())
			}
		})
	}
}

// TestWorkedExampleFigures pins the headline figures of the worked examples
// independently of their printed layout.
func TestWorkedExampleFigures(t *testing.T) {
	t.Parallel()
	table, err := rating.DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int64{
		{2274008, 2172941, 2426434},
		{3658000, 4389600, 4578282},
		{1523970, 1473938, 0},
		{354000, 413000, 354000},
	}
	for i, ex := range workedExamples() {
		quotes, err := table.Rate(ex.req)
		if err != nil {
			t.Fatalf("%s: %v", ex.name, err)
		}
		for j, q := range quotes {
			if q.Premium != want[i][j] {
				t.Errorf("%s: %s premium = %d, want %d", ex.name, q.Insurer, q.Premium, want[i][j])
			}
		}
	}
}
