// Package webhooks_test checks the rules of the module's layout that the
// compiler does not: which packages may import what.
package webhooks_test

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// standardOnly are the packages that import only the standard library: the
// rules of a delivery, so they are read and tested alone, and the two
// packages customers import, so they bring nothing else into a build.
var standardOnly = []string{"internal/delivery", "client", "signature"}

// sqlAllowed are the packages that may import database/sql or lib/pq:
// repo, which speaks SQL for everything else, the bench's naive baseline
// and the test scaffolding that makes and reads test databases.
var sqlAllowed = []string{"repo", "bench", "internal/dbtest"}

func TestStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	pkgs := packages(t)
	for _, dir := range standardOnly {
		p := pkgs[dir]
		if p == nil {
			t.Errorf("package %s not found", dir)
			continue
		}
		for _, imp := range p.Imports {
			if !standard(imp) {
				t.Errorf("%s imports %s; it may import only the standard library", dir, imp)
			}
		}
	}
}

func TestSQLOnlyInRepo(t *testing.T) {
	t.Parallel()
	for dir, p := range packages(t) {
		if slices.Contains(sqlAllowed, dir) {
			continue
		}
		for _, imp := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
			if imp == "database/sql" || strings.HasPrefix(imp, "github.com/lib/pq") {
				t.Errorf("%s imports %s; only repo speaks SQL", dir, imp)
			}
		}
	}
}

// standard says whether an import path is the standard library's: its
// first element has no dot.
func standard(path string) bool {
	return !strings.Contains(strings.Split(path, "/")[0], ".")
}

// packages reads every package of the module, tests and files behind the
// bench and chaos build tags included, by directory relative to the root.
func packages(tb testing.TB) map[string]*build.Package {
	tb.Helper()
	ctx := build.Default
	ctx.BuildTags = append(slices.Clone(ctx.BuildTags), "bench", "chaos")
	out := map[string]*build.Package{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		p, err := ctx.ImportDir(path, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		out[filepath.ToSlash(path)] = p
		return nil
	})
	if err != nil {
		tb.Fatalf("read the module's packages: %v", err)
	}
	if len(out) < 10 {
		wd, _ := os.Getwd()
		tb.Fatalf("found %d packages under %s; is the test run from the module root?", len(out), wd)
	}
	return out
}
