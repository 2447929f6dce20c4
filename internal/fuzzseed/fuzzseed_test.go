package fuzzseed

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryTargetIsSeeded reads every fuzz target of the module: each
// starts from seeds (f.Add, Files, or a checked-in corpus under
// testdata/fuzz/NAME), and none reads seed files itself, where a missing
// file would be ignored.
func TestEveryTargetIsSeeded(t *testing.T) {
	root := filepath.Join("..", "..")
	targets := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || !strings.HasPrefix(fn.Name.Name, "Fuzz") || fn.Body == nil {
				continue
			}
			targets++
			seeded, readsFiles := false, false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x, _ := sel.X.(*ast.Ident)
				if x == nil {
					return true
				}
				switch {
				case x.Name == "f" && sel.Sel.Name == "Add", x.Name == "fuzzseed" && sel.Sel.Name == "Files":
					seeded = true
				case x.Name == "os" && sel.Sel.Name == "ReadFile", x.Name == "filepath" && sel.Sel.Name == "Glob":
					readsFiles = true
				}
				return true
			})
			corpus, _ := os.ReadDir(filepath.Join(filepath.Dir(p), "testdata", "fuzz", fn.Name.Name))
			if !seeded && len(corpus) == 0 {
				t.Errorf("%s: %s has no seed", p, fn.Name.Name)
			}
			if readsFiles {
				t.Errorf("%s: %s reads seed files itself; use fuzzseed.Files, which fails when they are missing", p, fn.Name.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if targets < 30 {
		t.Fatalf("only %d fuzz targets found: the walk missed the tree", targets)
	}
}
