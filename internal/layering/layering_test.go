package layering

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsFollowLayers reads the import declarations of every non-test
// Go file of the module and holds each to Check.
func TestImportsFollowLayers(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from %s: %v", root, err)
	}
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", ".git", "bin", "dist":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		from := filepath.ToSlash(rel)
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			to, ok := strings.CutPrefix(path, Module+"/")
			if !ok {
				continue
			}
			n++
			if why := Check(from, to); why != "" {
				t.Errorf("%s: %s", p, why)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("only %d imports of the module read: the walk missed the tree", n)
	}
}

// TestCheckCatchesWrongImports holds the rule itself to imports that run
// against it, and to the ones the tree really has.
func TestCheckCatchesWrongImports(t *testing.T) {
	wrong := [][2]string{
		{"checks/ssh", "agent"},
		{"checks", "remediations"},
		{"host/accounts", "checks"},
		{"host/hostfs", "checks/ssh"},
		{"remediations/ssh", "agent/spool"},
		{"internal/printable", "host"},
		{"checks/ssh", "checks/access"},
		{"remediations/disks", "remediations/ssh"},
		{"agent/spool", "checks"},
		{"agent/endpoint", "remediations"},
		{"agent/spool", "host/hostfs"},
		{"agent/sinks", "checks/ssh"},
		{"agent/report", "host"},
		{"agent/sinks", "remediations"},
	}
	for _, w := range wrong {
		if Check(w[0], w[1]) == "" {
			t.Errorf("%s importing %s passes", w[0], w[1])
		}
	}
	right := [][2]string{
		{"cmd/vigie", "agent"},
		{"agent", "remediations/ssh"},
		{"remediations/ssh", "checks/ssh"},
		{"remediations/ssh", "remediations"},
		{"checks/ssh", "checks"},
		{"checks/ssh", "host/hostfs"},
		{"host/scaleway", "host"},
		{"agent/spool", "internal/atomicfile"},
		{"cmd/gendocs", "agent"},
		{"agent/sinks", "checks"},
		{"agent/sinks", "agent/report"},
	}
	for _, r := range right {
		if why := Check(r[0], r[1]); why != "" {
			t.Errorf("%s importing %s refused: %s", r[0], r[1], why)
		}
	}
}
