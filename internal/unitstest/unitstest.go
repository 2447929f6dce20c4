// Package unitstest is a service manager over a directory tree, for tests
// on machines where systemd does not run: it enables a unit the way
// `systemctl --root enable` does (a link in each [Install] WantedBy=
// target's .wants directory under etc/systemd/system), keeps whether a
// unit runs in a file, and records every call. What it writes is what
// host/units reads from unit symlinks, so the checks see the same state.
// All state is on disk: a child process killed half way leaves it for the
// parent to see.
package unitstest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Root is the service manager of the tree under Dir.
type Root struct {
	Dir string
	// Refuse, when set, is what Enable returns, doing nothing.
	Refuse error
	// Calls lists what was asked of this value: "enable NAME",
	// "enable --now NAME", "disable NAME", "disable --now NAME".
	Calls []string
}

var unitDirs = []string{"etc/systemd/system", "lib/systemd/system", "usr/lib/systemd/system"}

// unitFile finds a unit's file: its content and its path in the tree's
// terms (/lib/systemd/system/NAME).
func (r *Root) unitFile(name string) ([]byte, string, error) {
	for _, d := range unitDirs {
		b, err := os.ReadFile(filepath.Join(r.Dir, d, name))
		if err == nil {
			return b, "/" + d + "/" + name, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", err
		}
	}
	return nil, "", fmt.Errorf("unit file %s does not exist", name)
}

// wantedBy reads the targets of [Install] WantedBy=.
func wantedBy(unit []byte) []string {
	var out []string
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(unit))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "[") {
			section = l
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok && section == "[Install]" && strings.TrimSpace(k) == "WantedBy" {
			out = append(out, strings.Fields(v)...)
		}
	}
	return out
}

func (r *Root) links(name string) []string {
	out, _ := filepath.Glob(filepath.Join(r.Dir, "etc/systemd/system/*.wants", name))
	return out
}

func (r *Root) activeFile(name string) string {
	return filepath.Join(r.Dir, "run/unitstest/active", name)
}

// State implements remediations.Units. A unit without WantedBy= is static,
// which enabling would not change: reported enabled.
func (r *Root) State(_ context.Context, name string) (enabled, active bool, err error) {
	if target, err := os.Readlink(filepath.Join(r.Dir, "etc/systemd/system", name)); err == nil && target == "/dev/null" {
		return false, false, fmt.Errorf("%s is masked", name)
	}
	_, err = os.Stat(r.activeFile(name))
	active = err == nil
	if len(r.links(name)) > 0 {
		return true, active, nil
	}
	unit, _, err := r.unitFile(name)
	if err != nil {
		return false, active, nil
	}
	return len(wantedBy(unit)) == 0, active, nil
}

// Enable implements remediations.Units.
func (r *Root) Enable(_ context.Context, name string, start bool) error {
	call := "enable " + name
	if start {
		call = "enable --now " + name
	}
	r.Calls = append(r.Calls, call)
	if r.Refuse != nil {
		return r.Refuse
	}
	unit, path, err := r.unitFile(name)
	if err != nil {
		return err
	}
	for _, t := range wantedBy(unit) {
		dir := filepath.Join(r.Dir, "etc/systemd/system", t+".wants")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.Symlink(path, filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	if !start {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(r.activeFile(name)), 0o755); err != nil {
		return err
	}
	return os.WriteFile(r.activeFile(name), nil, 0o644)
}

// Disable implements remediations.Units.
func (r *Root) Disable(_ context.Context, name string, stop bool) error {
	call := "disable " + name
	if stop {
		call = "disable --now " + name
		if err := os.Remove(r.activeFile(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	r.Calls = append(r.Calls, call)
	for _, l := range r.links(name) {
		if err := os.Remove(l); err != nil {
			return err
		}
	}
	return nil
}

// Enabled lists the units with a link in some .wants directory, sorted.
func (r *Root) Enabled() []string {
	links, _ := filepath.Glob(filepath.Join(r.Dir, "etc/systemd/system/*.wants/*"))
	seen := map[string]bool{}
	var out []string
	for _, l := range links {
		if n := filepath.Base(l); !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Active reports whether the unit was started and not stopped since.
func (r *Root) Active(name string) bool {
	_, err := os.Stat(r.activeFile(name))
	return err == nil
}
