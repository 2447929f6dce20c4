package firewall

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/checks/checkstest"
	"github.com/vigie-agent/vigie/host"
)

// noCommands fails the test on any command: on an image the firewall area
// asks this machine's kernel and tools nothing (no iptables-legacy-save).
type noCommands struct{ t *testing.T }

func (r noCommands) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	r.t.Errorf("command run on an image: %s %s", name, strings.Join(args, " "))
	return nil, fmt.Errorf("no command on an image")
}

const imageFilter = `table inet filter {
	chain input {
		type filter hook input priority 0; policy drop;
		ct state established,related accept
		iifname "lo" accept
		meta l4proto ipv6-icmp accept
		tcp dport ssh accept
	}
}
`

// firewallImage writes an image's root whose nftables.service is enabled
// and loads /etc/nftables.conf, which includes the image's
// /etc/nftables.d/filter.nft: a file this machine does not have.
func firewallImage(t *testing.T, protocols bool) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"etc/nftables.conf":                   "#!/usr/sbin/nft -f\nflush ruleset\ninclude \"/etc/nftables.d/*.nft\"\n",
		"etc/nftables.d/filter.nft":           imageFilter,
		"lib/systemd/system/nftables.service": "[Unit]\nDescription=nftables\n",
	}
	if protocols {
		for _, f := range []string{"protocols", "services"} {
			b, err := os.ReadFile("/etc/" + f)
			if err != nil {
				t.Skipf("this machine has no /etc/%s to give the image", f)
			}
			files["etc/"+f] = string(b)
		}
	}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wants := filepath.Join(root, "etc/systemd/system/multi-user.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/lib/systemd/system/nftables.service", filepath.Join(wants, "nftables.service")); err != nil {
		t.Fatal(err)
	}
	return root
}

func runImage(t *testing.T, root string) map[string]checks.Finding {
	t.Helper()
	// proc and sys are this machine's: on an image they must not be read.
	env := &host.Env{Root: root, Proc: "/proc", Sys: "/sys", Cmd: noCommands{t}, Image: true}
	return checkstest.ByID(New(DefaultOptions()).Run(context.Background(), env))
}

func mountInfo(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestImagePersistent: on an image, the files its enabled units load are
// loaded by this machine's nft in scratch namespaces where the image's /etc
// is /etc (the include is the image's, and so is /etc/protocols: without
// it "ipv6-icmp" does not parse, as at the image's boot); the ruleset of
// the kernel, the sockets and the legacy tables are the machine's, never
// read, their checks skipped. Neither the host's ruleset nor its mounts
// change.
func TestImagePersistent(t *testing.T) {
	requireRoot(t)
	rules, mounts := hostRuleset(t), mountInfo(t)

	root := firewallImage(t, true)
	got := runImage(t, root)
	checkstest.Expect(t, got[IDPersistent], checkstest.Want{Status: checks.Pass, Reason: []string{"nftables.service is enabled and /etc/nftables.conf loads a default-deny input ruleset for ipv4 and ipv6"}})
	for _, id := range []string{IDInputDeny, IDForwardDeny, IDExposed, IDLegacy} {
		checkstest.Expect(t, got[id], checkstest.Want{Status: checks.Skip, Reason: []string{"image mode (--path.root " + root + "): "}})
		if len(got[id].Evidence) != 0 {
			t.Errorf("%s: skipped with evidence %+v", id, got[id].Evidence)
		}
	}

	bare := firewallImage(t, false)
	checkstest.Expect(t, runImage(t, bare)[IDPersistent], checkstest.Want{Status: checks.Fail, Reason: []string{
		"/etc/nftables.conf does not load", "/etc/nftables.d/filter.nft:", "Could not resolve protocol name"}})

	linked := firewallImage(t, true)
	conf := filepath.Join(linked, "etc/nftables.conf")
	if err := os.Remove(conf); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/nftables.d/filter.nft", conf); err != nil {
		t.Fatal(err)
	}
	checkstest.Expect(t, runImage(t, linked)[IDPersistent], checkstest.Want{Status: checks.Fail, Reason: []string{"/etc/nftables.conf is a symbolic link: not loaded from an image"}})

	if after := hostRuleset(t); after != rules {
		t.Errorf("the host's ruleset changed:\nbefore:\n%s\nafter:\n%s", rules, after)
	}
	if after := mountInfo(t); after != mounts {
		t.Errorf("the host's mounts changed:\nbefore:\n%s\nafter:\n%s", mounts, after)
	}
}

// TestImageEtc: in the scratch mount namespace /etc is the image's, but
// for the dynamic loader's files: this machine's ld.so.cache, and an empty
// ld.so.preload, whatever the image's say.
func TestImageEtc(t *testing.T) {
	requireRoot(t)
	mine, err := os.ReadFile("/etc/ld.so.cache")
	if err != nil {
		t.Skipf("this machine has no ld.so.cache: %v", err)
	}
	root := firewallImage(t, false)
	for p, c := range map[string]string{"etc/hostname": "the-image\n", "etc/ld.so.cache": "not this machine's", "etc/ld.so.preload": "/etc/evil.so\n"} {
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type seen struct {
		hostname, cache, preload []byte
		err                      error
	}
	var got seen
	onScratchThread(func() {
		if got.err = unix.Unshare(unix.CLONE_NEWNS); got.err != nil {
			return
		}
		if got.err = imageEtc(filepath.Join(root, "etc")); got.err != nil {
			return
		}
		got.hostname, _ = os.ReadFile("/etc/hostname")
		got.cache, _ = os.ReadFile("/etc/ld.so.cache")
		got.preload, got.err = os.ReadFile("/etc/ld.so.preload")
	})
	if got.err != nil {
		t.Fatal(got.err)
	}
	if string(got.hostname) != "the-image\n" || !bytes.Equal(got.cache, mine) || len(got.preload) != 0 {
		t.Errorf("in the namespace: hostname %q, this machine's ld.so.cache %v, ld.so.preload %q", got.hostname, bytes.Equal(got.cache, mine), got.preload)
	}
	if b, _ := os.ReadFile("/etc/ld.so.cache"); !bytes.Equal(b, mine) {
		t.Error("this machine's /etc changed")
	}
}
