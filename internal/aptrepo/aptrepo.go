// Package aptrepo builds real apt repositories for tests: packages made by
// dpkg-deb, indexes and Release files made by apt-ftparchive, one suite per
// archive so a test can publish a security archive labelled as Debian labels
// it.
package aptrepo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Tools lists the commands a repository needs; tests skip without them.
var Tools = []string{"dpkg-deb", "apt-ftparchive"}

// Missing returns the first tool that is not installed, or "".
func Missing() string {
	for _, t := range Tools {
		if _, err := exec.LookPath(t); err != nil {
			return t
		}
	}
	return ""
}

func run(t testing.TB, dir, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %v: %v\n%s", name, args, err, msg)
	}
	return out
}

// Deb builds an empty architecture-independent package in dir and returns
// its path.
func Deb(t testing.TB, dir, name, version string) string {
	t.Helper()
	pkg := filepath.Join(dir, name+"_"+version)
	if err := os.MkdirAll(filepath.Join(pkg, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: test <test@example.invalid>\nDescription: test package\n", name, version)
	if err := os.WriteFile(filepath.Join(pkg, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	deb := pkg + ".deb"
	run(t, dir, "dpkg-deb", "--root-owner-group", "-b", pkg, deb)
	return deb
}

// Publish writes suite into the repository at repo (pool, Packages,
// Release with Origin Debian and the given Label), replacing what the
// suite held. "deb [trusted=yes] file:REPO SUITE main" then reads it.
func Publish(t testing.TB, repo, suite, label string, debs ...string) {
	t.Helper()
	pool := filepath.Join(repo, "pool", suite)
	bin := filepath.Join(repo, "dists", suite, "main", "binary-all")
	if err := os.RemoveAll(pool); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{pool, bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range debs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pool, filepath.Base(d)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	packages := run(t, repo, "apt-ftparchive", "packages", "pool/"+suite)
	if err := os.WriteFile(filepath.Join(bin, "Packages"), packages, 0o644); err != nil {
		t.Fatal(err)
	}
	release := run(t, repo, "apt-ftparchive",
		"-o", "APT::FTPArchive::Release::Origin=Debian",
		"-o", "APT::FTPArchive::Release::Label="+label,
		"-o", "APT::FTPArchive::Release::Suite="+suite,
		"-o", "APT::FTPArchive::Release::Codename="+suite,
		"-o", "APT::FTPArchive::Release::Architectures=all amd64",
		"-o", "APT::FTPArchive::Release::Components=main",
		"release", filepath.Join("dists", suite))
	if err := os.WriteFile(filepath.Join(repo, "dists", suite, "Release"), release, 0o644); err != nil {
		t.Fatal(err)
	}
}
