package patches

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/host"

	"github.com/vigie-agent/vigie/checks"
)

// The captured lists of testdata/apt/lists (Debian 12's, hash lists
// trimmed; the local repository's Release as apt-ftparchive writes it).
const (
	listSecurity = "deb.debian.org_debian-security_dists_bookworm-security_InRelease"
	listMain     = "deb.debian.org_debian_dists_bookworm_InRelease"
	listUpdates  = "deb.debian.org_debian_dists_bookworm-updates_InRelease"
	listLocalSec = "_srv_vigie-repo_dists_stable-security_Release"
)

func TestParseRelease(t *testing.T) {
	tests := []struct {
		file     string
		want     Release
		security bool
		name     string
	}{
		{listSecurity, Release{Origin: "Debian", Label: "Debian-Security", Suite: "oldstable-security", Codename: "bookworm-security"}, true,
			"Debian/Debian-Security oldstable-security (bookworm-security)"},
		{listMain, Release{Origin: "Debian", Label: "Debian", Suite: "oldstable", Codename: "bookworm"}, false, "Debian oldstable (bookworm)"},
		{listUpdates, Release{Origin: "Debian", Label: "Debian", Suite: "oldstable-updates", Codename: "bookworm-updates"}, false,
			"Debian oldstable-updates (bookworm-updates)"},
		{listLocalSec, Release{Origin: "Debian", Label: "Debian-Security", Suite: "stable-security", Codename: "stable-security"}, true,
			"Debian/Debian-Security stable-security"},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join("testdata/apt/lists", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		got := ParseRelease(b)
		if got != tt.want || got.Security() != tt.security || got.Name() != tt.name {
			t.Errorf("%s: %+v security %v name %q, want %+v %v %q", tt.file, got, got.Security(), got.Name(), tt.want, tt.security, tt.name)
		}
	}
	// A value carrying a lone CR or an escape is no field: it would reach
	// the evidence and repaint the operator's terminal.
	if got := ParseRelease([]byte("Origin: Debian\nSuite: 0\r0\nCodename: \x1b[2Jx\n")); got != (Release{Origin: "Debian"}) {
		t.Errorf("control characters kept: %+v", got)
	}
	// Ubuntu's security pocket, from either host that serves it.
	for _, r := range []Release{{Origin: "Ubuntu", Label: "Ubuntu", Suite: "noble-security", Codename: "noble"}} {
		if !r.Security() {
			t.Errorf("%+v is not a security source", r)
		}
	}
	if (Release{Origin: "Ubuntu", Label: "Ubuntu", Suite: "noble-updates", Codename: "noble"}).Security() {
		t.Error("noble-updates taken for a security source")
	}
}

// TestIndexFreshPerSource: the security archive is judged on its own, so a
// fresh list elsewhere does not hide a stale security list.
func TestIndexFreshPerSource(t *testing.T) {
	now := time.Now()
	hours := func(h int) time.Duration { return time.Duration(h) * time.Hour }
	const secFile = "/var/lib/apt/lists/" + listSecurity
	tests := []struct {
		name   string
		lists  map[string]time.Duration // list file to age
		want   checks.Status
		reason string
	}{
		{"all fresh", map[string]time.Duration{listSecurity: hours(3), listMain: hours(3), listUpdates: hours(3)},
			checks.Pass, "the sources of security updates were refreshed within 48h0m0s, the oldest 3h0m0s ago: Debian/Debian-Security oldstable-security (bookworm-security)"},
		{"security ten days old, the others fresh", map[string]time.Duration{listSecurity: hours(240), listMain: hours(1), listUpdates: hours(1)},
			checks.Fail, "the security source Debian/Debian-Security oldstable-security (bookworm-security) (" + secFile + ") is 10 days old"},
		{"security fresh, the main list old", map[string]time.Duration{listSecurity: hours(2), listMain: hours(24 * 30)},
			checks.Pass, "the oldest 2h0m0s ago"},
		{"two security sources, the local one stale", map[string]time.Duration{listSecurity: hours(2), listLocalSec: hours(24 * 5), listMain: hours(2)},
			checks.Fail, "the security source Debian/Debian-Security stable-security (/var/lib/apt/lists/" + listLocalSec + ") is 5 days old"},
		{"no security source", map[string]time.Duration{listMain: hours(1), listUpdates: hours(1)},
			checks.Fail, "no source of security updates is configured: none of the 2 lists"},
		{"no list at all", nil, checks.Fail, "apt-get update has never succeeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "var/lib/apt/lists")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for file, age := range tt.lists {
				b, err := os.ReadFile(filepath.Join("testdata/apt/lists", file))
				if err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(dir, file)
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
					t.Fatal(err)
				}
			}
			f := &Facts{Manager: "apt", Now: now, MaxIndexAge: 48 * time.Hour}
			f.Indexes, f.IndexNewest, f.IndexErr = aptIndexes(context.Background(), &host.Env{Root: root})
			r := indexRule(f)
			if r.Status != tt.want || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("%s %q, want %s with %q", r.Status, r.Reason, tt.want, tt.reason)
			}
			for _, e := range r.Evidence {
				if e.File == secFile && e.OK != (tt.lists[listSecurity] <= 48*time.Hour) {
					t.Errorf("evidence of the security list: %+v", e)
				}
			}
			// "Nothing pending" is not trusted from a stale security list.
			p := pendingRule(isSecurity, "security updates")(f)
			if want := map[checks.Status]checks.Status{checks.Pass: checks.Pass, checks.Fail: checks.Error}[tt.want]; p.Status != want {
				t.Errorf("security-pending with nothing listed: %s %q, want %s", p.Status, p.Reason, want)
			}
		})
	}
}

// rockyRepo is a Rocky 9 style .repo file: BaseOS and AppStream enabled,
// the debug repository off.
const rockyRepo = `[baseos]
name=Rocky Linux $releasever - BaseOS
mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever$rltype
gpgcheck=1
enabled=1
countme=1
metadata_expire=6h

[baseos-debug]
name=Rocky Linux $releasever - BaseOS - Debug
gpgcheck=1
enabled=0

[appstream]
name=Rocky Linux $releasever - AppStream
gpgcheck=1
enabled=1
`

// TestIndexFreshPerRepository: on dnf every enabled repository counts, the
// oldest named; a cache a disabled repository left behind does not.
func TestIndexFreshPerRepository(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	tests := []struct {
		name   string
		caches map[string]time.Duration // cache directory to age
		want   checks.Status
		reason string
	}{
		{"all fresh", map[string]time.Duration{"baseos-8d3d3a7fbfd8d1f4": time.Hour, "appstream-c87b5c8bd1c86de2": 2 * time.Hour},
			checks.Pass, "the enabled repositories were refreshed within 48h0m0s, the oldest 2h0m0s ago: appstream, baseos"},
		{"appstream stale", map[string]time.Duration{"baseos-8d3d3a7fbfd8d1f4": time.Hour, "appstream-c87b5c8bd1c86de2": 6 * day},
			checks.Fail, "the repository appstream (/var/cache/dnf/appstream-c87b5c8bd1c86de2/repodata/repomd.xml) is 6 days old"},
		{"a disabled repository's old cache", map[string]time.Duration{"baseos-8d3d3a7fbfd8d1f4": time.Hour, "baseos-debug-1f0e2d3c4b5a6978": 90 * day},
			checks.Pass, "the oldest 1h0m0s ago: baseos"},
		{"a repository no .repo file names", map[string]time.Duration{"baseos-8d3d3a7fbfd8d1f4": time.Hour, "epel-0123456789abcdef": 3 * day},
			checks.Fail, "the repository epel"},
		{"no cache", nil, checks.Fail, "it has never refreshed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "etc/yum.repos.d"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "etc/yum.repos.d/rocky.repo"), []byte(rockyRepo), 0o644); err != nil {
				t.Fatal(err)
			}
			for dir, age := range tt.caches {
				p := filepath.Join(root, "var/cache/dnf", dir, "repodata/repomd.xml")
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("<repomd/>"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
					t.Fatal(err)
				}
			}
			f := &Facts{Manager: "dnf", Now: now, MaxIndexAge: 48 * time.Hour}
			f.Indexes, f.IndexNewest, f.IndexErr = rpmIndexes(context.Background(), &host.Env{Root: root})
			if r := indexRule(f); r.Status != tt.want || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("%s %q, want %s with %q", r.Status, r.Reason, tt.want, tt.reason)
			}
		})
	}
}

func TestParseRepoFile(t *testing.T) {
	got := ParseRepoFile([]byte("[main]\ngpgcheck=1\n\n" + rockyRepo + "\n[extras]\nenabled = False\n"))
	want := map[string]bool{"baseos": true, "baseos-debug": false, "appstream": true, "extras": false}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for id, on := range want {
		if got[id] != on {
			t.Errorf("%s: enabled %v, want %v", id, got[id], on)
		}
	}
}
