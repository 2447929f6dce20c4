package patches

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/internal/aptrepo"
)

func TestParseAptFixtures(t *testing.T) {
	sim, err := os.ReadFile("testdata/apt/dist-upgrade-debian12.txt")
	if err != nil {
		t.Fatal(err)
	}
	list, err := os.ReadFile("testdata/apt/list-upgradable-debian12.txt")
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseSimulate(sim)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseListUpgradable(list)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 131 || len(b) != 131 {
		t.Fatalf("simulate %d, list %d updates; want 131 each", len(a), len(b))
	}
	// Both sources, captured on the same host within a minute, must agree
	// on every package and on which are security updates.
	sec := func(us []Update) []string {
		var out []string
		for _, u := range us {
			out = append(out, fmt.Sprintf("%s %s %v", u.Name, u.To, u.Security))
		}
		sort.Strings(out)
		return out
	}
	sa, sb := sec(a), sec(b)
	for i := range sa {
		if sa[i] != sb[i] {
			t.Errorf("simulate %q, list %q", sa[i], sb[i])
		}
	}
	want := map[string]Update{
		"libgcrypt20": {From: "1.10.1-3", To: "1.10.1-3+deb12u1", Security: true},
		"base-files":  {From: "12.4+deb12u11", To: "12.4+deb12u15", Security: false},
	}
	for _, u := range a {
		if w, ok := want[u.Name]; ok && (u.From != w.From || u.To != w.To || u.Security != w.Security) {
			t.Errorf("%s: %+v, want %+v", u.Name, u, w)
		}
	}
	n := 0
	for _, u := range b {
		if u.Security {
			n++
		}
	}
	if n != 77 {
		t.Errorf("%d security updates, want 77", n)
	}
}

func TestParseAptRejects(t *testing.T) {
	for _, in := range []string{"E: Could not open lock file /var/lib/dpkg/lock-frontend\n", "<html>", "Inst broken line\n"} {
		if _, err := ParseSimulate([]byte(in)); err == nil {
			t.Errorf("simulate accepted %q", in)
		}
		if _, err := ParseListUpgradable([]byte(in)); err == nil {
			t.Errorf("list accepted %q", in)
		}
	}
	ups, err := ParseSimulate([]byte("Reading package lists...\nBuilding dependency tree...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"))
	if err != nil || len(ups) != 0 {
		t.Errorf("nothing pending: %v %v", ups, err)
	}
	ups, err = ParseSimulate([]byte("Reading package lists...\nInst linux-image-6.1.0-21-amd64 (6.1.90-1 Debian-Security:12/stable-security [amd64])\n"))
	if err != nil || len(ups) != 1 || ups[0].From != "" || !ups[0].Security {
		t.Errorf("new package: %+v %v", ups, err)
	}
	ups, err = ParseListUpgradable([]byte("Listing...\nlibssl3/bookworm-security,bookworm 3.0.13-1~deb12u1 amd64 [upgradable from: 3.0.11-1~deb12u2]\nbash/noble-updates 5.2-1 amd64 [upgradable from: 5.1-1]\n"))
	if err != nil || len(ups) != 2 || !ups[0].Security || ups[1].Security {
		t.Errorf("list: %+v %v", ups, err)
	}
}

// TestRealApt: the real apt, two versions of real packages, a security
// archive labelled as Debian labels it, and the area's own commands.
func TestRealApt(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	a := aptrepo.NewRoot(t)
	build := t.TempDir()
	a.Install(t, aptrepo.Deb(t, build, "libfoo1", "1.0-1"), aptrepo.Deb(t, build, "barutils", "2.0-1"), aptrepo.Deb(t, build, "quux", "3.0-1"))
	aptrepo.Publish(t, a.Repo, "stable-security", "Debian-Security", aptrepo.Deb(t, build, "libfoo1", "1.0-1+deb12u1"))
	aptrepo.Publish(t, a.Repo, "stable", "Debian", aptrepo.Deb(t, build, "barutils", "2.1-1"), aptrepo.Deb(t, build, "quux", "3.0-1"), aptrepo.Deb(t, build, "libfoo1", "1.0-1"))
	a.Sources(t, "stable", "stable-security")

	env := &host.Env{Root: a.Dir, Proc: "/proc", Sys: "/sys", Cmd: host.ExecRunner{}}
	for _, method := range []string{"list", "simulate"} {
		t.Run(method, func(t *testing.T) {
			opt := DefaultOptions()
			opt.AptMethod = method
			f := &Facts{Now: time.Now(), MaxIndexAge: opt.MaxIndexAge, Manager: "apt"}
			gatherApt(context.Background(), env, opt, f)
			if f.UpdatesErr != "" {
				t.Fatal(f.UpdatesErr)
			}

			var names []string
			for _, u := range f.Updates {
				names = append(names, fmt.Sprintf("%s:%s:%v", u.Name, u.To, u.Security))
			}
			sort.Strings(names)
			if got, want := strings.Join(names, " "), "barutils:2.1-1:false libfoo1:1.0-1+deb12u1:true"; got != want {
				t.Fatalf("updates %s, want %s", got, want)
			}
			byID := map[string]checks.Finding{}
			for _, fi := range Evaluate(f) {
				byID[fi.ID] = fi
			}
			if fi := byID[IDSecurityPending]; fi.Status != checks.Fail || !strings.Contains(fi.Reason, "1 security updates pending: libfoo1 1.0-1 -> 1.0-1+deb12u1 (stable-security") {
				t.Errorf("security-pending: %s %q", fi.Status, fi.Reason)
			}
			if fi := byID[IDPending]; fi.Status != checks.Fail || !strings.HasPrefix(fi.Reason, "2 updates pending") {
				t.Errorf("pending: %s %q", fi.Status, fi.Reason)
			}
			if fi := byID[IDIndexFresh]; fi.Status != checks.Pass {
				t.Errorf("index-fresh after apt-get update: %s %q", fi.Status, fi.Reason)
			}
		})
	}

	// The index grows old: nothing pending can no longer be trusted.
	old := time.Now().Add(-10 * 24 * time.Hour)
	files, _ := filepath.Glob(filepath.Join(a.Dir, "var/lib/apt/lists/*Release"))
	for _, p := range files {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	f := &Facts{Now: time.Now(), MaxIndexAge: 48 * time.Hour, Manager: "apt"}
	gatherApt(context.Background(), env, DefaultOptions(), f)

	for _, fi := range Evaluate(f) {
		switch fi.ID {
		case IDIndexFresh:
			if fi.Status != checks.Fail || !strings.Contains(fi.Reason, "10 days old") {
				t.Errorf("stale index: %s %q", fi.Status, fi.Reason)
			}
		case IDSecurityPending:
			// apt still lists from the old index: the pending update is real.
			if fi.Status != checks.Fail {
				t.Errorf("security pending with a stale index: %s %q", fi.Status, fi.Reason)
			}
		}
	}
}
