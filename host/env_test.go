package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolve: "/" is the running system; any other root is an image tree,
// made absolute, and must be a directory holding a real etc/.
func TestResolve(t *testing.T) {
	for _, root := range []string{"", "/", "//", "/."} {
		e := &Env{Root: root}
		if err := e.Resolve(); err != nil || e.Image || e.Root != "/" || !e.Live() {
			t.Errorf("root %q: %v, image %v, root %q", root, err, e.Image, e.Root)
		}
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "img")
	if err := os.MkdirAll(filepath.Join(img, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	e := &Env{Root: "img"}
	if err := e.Resolve(); err != nil || !e.Image || e.Root != img || e.Live() {
		t.Errorf("an image tree: %v, image %v, root %q", err, e.Image, e.Root)
	}
	if err := os.Symlink(img, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if e := (&Env{Root: filepath.Join(dir, "link")}); e.Resolve() != nil || !e.Image {
		t.Errorf("a root reached through a link: image %v", e.Image)
	}
	notRoot := filepath.Join(dir, "notroot")
	linkedEtc := filepath.Join(dir, "linkedetc")
	for _, d := range []string{notRoot, linkedEtc} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc", filepath.Join(linkedEtc, "etc")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{notRoot, linkedEtc, file, filepath.Join(dir, "missing")} {
		e := &Env{Root: bad}
		if err := e.Resolve(); err == nil || !strings.Contains(err.Error(), "is not a root file system") {
			t.Errorf("root %s: %v", bad, err)
		}
	}
}
