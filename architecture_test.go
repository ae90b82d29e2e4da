package matrixstripe

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/matrix-stripe/matrix-stripe"

var (
	backticked    = regexp.MustCompile("`([^`]+)`")
	parenthesised = regexp.MustCompile(`\([^)]*\)`)
)

// TestImportTable keeps docs/architecture.md's package table true: every
// package of the module has a row, and the row names exactly the module
// packages it imports, so an edge nobody agreed on fails here, not in a
// review months later.
func TestImportTable(t *testing.T) {
	doc, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string][]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		imports := []string{}
		if !strings.Contains(cells[3], "in its tests") {
			imports = names(cells[3])
		}
		for _, pkg := range names(cells[1]) {
			documented[pkg] = imports
		}
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := short(fields[0])
		var actual []string
		for _, imp := range fields[1:] {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				actual = append(actual, short(imp))
			}
		}
		want, ok := documented[pkg]
		if !ok {
			// A package of test files only (e2e) lists no imports here.
			if len(actual) > 0 {
				t.Errorf("docs/architecture.md has no row for %s", pkg)
			}
			continue
		}
		slices.Sort(actual)
		slices.Sort(want)
		if !slices.Equal(actual, want) {
			t.Errorf("%s imports %v; docs/architecture.md says %v", pkg, actual, want)
		}
	}
}

// names are the package names a table cell lists, leaving out remarks in
// parentheses ("`stripeapi` (its money parser only)").
func names(cell string) []string {
	cell = parenthesised.ReplaceAllString(cell, "")
	var out []string
	for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
		out = append(out, m[1])
	}
	return out
}

func short(pkg string) string {
	if pkg == module {
		return "matrixstripe"
	}
	return strings.TrimPrefix(pkg, module+"/")
}
