package disks

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/checks/checkstest"
	"github.com/vigie-agent/vigie/host/hosttest"
)

// TestImageSwap: on an image the swap its boot enables is judged from its
// fstab and crypttab; the disk checks are live-only. The proc and sys the
// run is given are a machine's with a clear swap partition in use
// (testdata/plain): they are not the image's, and are never read.
func TestImageSwap(t *testing.T) {
	const crypttab = "# <target> <source> <key> <options>\ncswap /dev/disk/by-partuuid/1234-02 /dev/urandom swap,cipher=aes-xts-plain64,size=512\n"
	tests := []struct {
		name   string
		files  map[string]string
		status checks.Status
		reason string
		bad    []string
	}{
		{"no fstab", map[string]string{"etc/hostname": "img\n"}, checks.Pass, "the image enables no swap at boot", nil},
		{"no swap entry", map[string]string{"etc/fstab": "LABEL=root / ext4 defaults 0 1\n"}, checks.Pass, "the image enables no swap at boot", nil},
		{"crypttab swap", map[string]string{"etc/fstab": "LABEL=root / ext4 defaults 0 1\n/dev/mapper/cswap none swap sw 0 0\n", "etc/crypttab": crypttab},
			checks.Pass, "all 1 swap area(s) the image enables sit on dm-crypt mappings", nil},
		{"clear partition", map[string]string{"etc/fstab": "# swap\nUUID=0b1d-2c3e none swap sw 0 0\n"},
			checks.Fail, "UUID=0b1d-2c3e (/etc/fstab:2): no dm-crypt layer", []string{"UUID=0b1d-2c3e@/etc/fstab:2"}},
		{"swap file, and a noauto one", map[string]string{"etc/fstab": "/swapfile none swap sw 0 0\n/dev/vdb none swap noauto 0 0\n"},
			checks.Fail, "/swapfile (/etc/fstab:1)", []string{"/swapfile@/etc/fstab:1"}},
		{"a mapper crypttab does not open", map[string]string{"etc/fstab": "/dev/mapper/vg-swap none swap sw 0 0\n", "etc/crypttab": crypttab},
			checks.Fail, "a device-mapper device no /etc/crypttab line opens", []string{"/dev/mapper/vg-swap@/etc/fstab:1"}},
	}
	plain := filepath.Join("testdata", "plain")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := hosttest.Env(t, tt.files)
			env.Image, env.Proc, env.Sys = true, filepath.Join(plain, "proc"), filepath.Join(plain, "sys")
			got := checkstest.ByID(New(Options{Scratch: []string{"/scratch"}}).Run(context.Background(), env))
			checkstest.Expect(t, got[IDSwap], checkstest.Want{Status: tt.status, Reason: []string{tt.reason}, Bad: tt.bad})
			for _, id := range []string{IDLocal, IDScratch, IDBlock} {
				checkstest.Expect(t, got[id], checkstest.Want{Status: checks.Skip, Reason: []string{"image mode (--path.root " + env.Root + "): the disks in use"}})
			}
		})
	}
}

// FuzzImageTabs: any fstab and crypttab an image holds yields a verdict.
func FuzzImageTabs(f *testing.F) {
	f.Add("/dev/mapper/cswap none swap sw 0 0\nUUID=1 none swap noauto\n", "cswap /dev/vdb /dev/urandom swap\n")
	f.Add("\\040 \\134x swap\n#\n\t\n", "a")
	f.Fuzz(func(t *testing.T, fstab, crypttab string) {
		env := hosttest.Env(t, map[string]string{"etc/fstab": fstab, "etc/crypttab": crypttab})
		env.Image = true
		r := imageSwapRule(readImageSwap(context.Background(), env))
		if r.Status != checks.Pass && r.Status != checks.Fail {
			t.Fatalf("%s %q", r.Status, r.Reason)
		}
	})
}
