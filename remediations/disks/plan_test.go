package disks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	diskcheck "github.com/vigie-agent/vigie/checks/disks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/remediations"
)

// testHost is a fake machine for plan building: a /dev with by-id links, an
// /etc with fstab and crypttab, mount points as directories, and blkid's
// answers as `blkid -o export` prints them on Debian 12 (util-linux 2.38).
type testHost struct {
	dir, dev, etc string
	blkid         map[string]string
	ran           []string
	failOn        string // a command line prefix that fails
}

func newHost(t *testing.T) *testHost {
	t.Helper()
	h := &testHost{dir: t.TempDir()}
	h.dev, h.etc = filepath.Join(h.dir, "dev"), filepath.Join(h.dir, "etc")
	for _, d := range []string{"dev/disk/by-id", "dev/disk/by-partuuid", "etc"} {
		if err := os.MkdirAll(filepath.Join(h.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := func(dir, name, target string) {
		if err := os.Symlink("../../"+target, filepath.Join(h.dev, "disk", dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	link("by-id", "virtio-scratch1", "vdb")
	link("by-id", "nvme-eui.0025388b91b2ab8e", "nvme1n1")
	link("by-id", "nvme-Scaleway_NVMe_scratch_0123", "nvme1n1")
	link("by-partuuid", "5f1c-03", "vda3")
	h.write(t, cryptsetupGenerators[0][1:], "")
	h.blkid = map[string]string{
		"vdb":     "DEVNAME=%s/vdb\nUUID=0b5c4a1e-8f0e-4d55-9f0a-6a4f3c2b1a00\nBLOCK_SIZE=4096\nTYPE=ext4\n",
		"nvme1n1": "DEVNAME=%s/nvme1n1\nUUID=7d2e0c4b-2a77-4a55-8c1e-1f0f1e2d3c4b\nLABEL=scratch\nTYPE=xfs\n",
		"vda3":    "DEVNAME=%s/vda3\nUUID=3c1d9e1a-5b5e-4c3a-9c2e-0e6b7a8f9d10\nTYPE=swap\nPARTUUID=5f1c-03\n",
		"vdc":     "DEVNAME=%s/vdc\nUUID=aa11bb22-0000-4000-8000-000000000001\nTYPE=ext4\n",
	}
	return h
}

func (h *testHost) write(t *testing.T, rel, content string) {
	t.Helper()
	p := filepath.Join(h.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (h *testHost) run(_ context.Context, _ []string, name string, args ...string) ([]byte, error) {
	line := shown(append([]string{name}, args...))
	h.ran = append(h.ran, line)
	if h.failOn != "" && strings.HasPrefix(line, h.failOn) {
		return nil, &remediations.CommandError{Argv: []string{name}, Err: errors.New("exit status 32"), Message: "failed on purpose"}
	}
	if name == "blkid" {
		dev := filepath.Base(args[len(args)-1])
		if out, ok := h.blkid[dev]; ok {
			return []byte(fmt.Sprintf(out, h.dev)), nil
		}
		return nil, &remediations.CommandError{Argv: []string{name}, Err: host.ExitStatus(2)}
	}
	return nil, nil
}

// shown renders a command line for comparison, a script of settle.go by
// a name, followed by its arguments.
func shown(argv []string) string {
	if len(argv) > 3 && argv[0] == "/bin/sh" && argv[1] == "-c" {
		name := map[string]string{remakeScript: "remake-if-blank", mountScript: "mount-unless-mounted", swaponScript: "swapon-unless-on"}[argv[2]]
		return strings.Join(append([]string{name}, argv[4:]...), " ")
	}
	return strings.Join(argv, " ")
}

// systemd records what the plan asks and can fail one unit's start.
type systemd struct {
	h        *testHost
	failUnit string
}

func (s systemd) Reload(context.Context) error {
	s.h.ran = append(s.h.ran, "daemon-reload")
	return nil
}
func (s systemd) Start(_ context.Context, u string) error {
	s.h.ran = append(s.h.ran, "start "+u)
	if u == s.failUnit {
		return fmt.Errorf("job for %s failed", u)
	}
	return nil
}
func (s systemd) Stop(_ context.Context, u string) error {
	s.h.ran = append(s.h.ran, "stop "+u)
	return nil
}

func (h *testHost) options(allow bool) Options {
	return Options{AllowDestructive: allow, Crypttab: "/etc/crypttab", Fstab: "/etc/fstab", Dev: h.dev, Systemd: systemd{h: h}, Run: h.run}
}

func (h *testHost) env() *host.Env { return &host.Env{Root: h.dir, Proc: "/proc", Sys: "/sys"} }

// facts builds what the disks area gathers: devices and what is in use.
func facts(items ...diskcheck.Item) *diskcheck.Facts {
	devs := map[string]*diskcheck.Device{
		"vda": {Name: "vda", Upper: []string{"vda1", "vda3"}}, "vda1": {Name: "vda1", Partition: true, Lower: []string{"vda"}},
		"vda3": {Name: "vda3", Partition: true, Lower: []string{"vda"}},
		"vdb":  {Name: "vdb"}, "vdc": {Name: "vdc"}, "nvme1n1": {Name: "nvme1n1"},
		"dm-0": {Name: "dm-0", Lower: []string{"vdd"}, DMUUID: "LVM-abc"}, "vdd": {Name: "vdd", Upper: []string{"dm-0"}},
	}
	return &diskcheck.Facts{Topology: &diskcheck.Topology{Devices: devs}, Items: items}
}

func item(kind, label, dev, fstype, class string, points ...string) diskcheck.Item {
	return diskcheck.Item{Kind: kind, Label: label, Points: points, FSType: fstype, Device: dev, Chain: dev + " (disk)",
		Disks: []*diskcheck.DiskInfo{{Device: &diskcheck.Device{Name: dev}, Class: class}}}
}

// withRoots gives an item the directories of the filesystem its mounts
// show, as mountinfo says.
func withRoots(it diskcheck.Item, roots ...string) diskcheck.Item {
	it.Roots = roots
	return it
}

func TestPlan(t *testing.T) {
	h := newHost(t)
	scratch := filepath.Join(h.dir, "scratch")
	full := filepath.Join(h.dir, "data")
	for _, d := range []string{filepath.Join(scratch, "lost+found"), full} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h.write(t, "data/results.csv", "1,2\n")
	h.write(t, "etc/fstab", "# /etc/fstab\nUUID=1111 / ext4 errors=remount-ro 0 1\nUUID=3c1d9e1a-5b5e-4c3a-9c2e-0e6b7a8f9d10 none swap sw 0 0\n"+
		"/dev/disk/by-id/virtio-scratch1 "+EscapeTab(scratch)+" ext4 defaults,noatime 0 2\n")
	h.write(t, "etc/crypttab", "# <target name> <source device> <key file> <options>\n")

	tests := []struct {
		name     string
		allow    bool
		items    []diskcheck.Item
		refusals []string // substrings, one per refusal, in order
		actions  []string // prefixes
		crypttab []string // lines the new crypttab must hold
		fstab    []string
	}{
		{name: "empty scratch, destructive allowed", allow: true,
			items:    []diskcheck.Item{item("filesystem", scratch, "vdb", "ext4", diskcheck.Scratch, scratch)},
			actions:  []string{"umount " + scratch, "wipefs --all " + h.dev + "/vdb", "systemctl daemon-reload", "systemctl start systemd-cryptsetup@vigie_scratch_vdb.service", "systemctl start "},
			crypttab: []string{"vigie_scratch_vdb " + h.dev + "/disk/by-id/virtio-scratch1 /dev/urandom plain,cipher=aes-xts-plain64,size=512,tmp=ext4,nofail"},
			fstab: []string{"# /dev/disk/by-id/virtio-scratch1 " + EscapeTab(scratch) + " ext4 defaults,noatime 0 2  # vigie: replaced by the encrypted scratch /dev/mapper/vigie_scratch_vdb",
				"/dev/mapper/vigie_scratch_vdb " + EscapeTab(scratch) + " ext4 defaults,noatime,nofail 0 0", "UUID=1111 / ext4 errors=remount-ro 0 1"}},
		{name: "empty scratch, not allowed", items: []diskcheck.Item{item("filesystem", scratch, "vdb", "ext4", diskcheck.Scratch, scratch)},
			refusals: []string{"erases it (scratch content does not outlive the instance, swap not the boot); `vigie fix --only disks --allow-destructive`"}},
		{name: "scratch with data", allow: true, items: []diskcheck.Item{item("filesystem", full, "vdb", "ext4", diskcheck.Scratch, full)},
			refusals: []string{"holds data (1 entries: results.csv)"}},
		{name: "scratch mounted from a subdirectory only", allow: true, items: []diskcheck.Item{withRoots(item("filesystem", scratch, "vdb", "ext4", diskcheck.Scratch, scratch), "/sub")},
			refusals: []string{"is mounted only from inside it (/sub: a subvolume or a subdirectory): vigie cannot see all it holds"}},
		{name: "empty bind mount beside the root that holds data", allow: true, items: []diskcheck.Item{withRoots(item("filesystem", scratch+", "+full, "vdb", "ext4", diskcheck.Scratch, scratch, full), "/", "/sub")},
			refusals: []string{"holds data (1 entries: results.csv)"}},
		{name: "scratch without a stable name", allow: true, items: []diskcheck.Item{item("filesystem", scratch, "vdc", "ext4", diskcheck.Scratch, scratch)},
			refusals: []string{"has no stable name"}},
		{name: "scratch on LVM", allow: true, items: []diskcheck.Item{item("filesystem", scratch, "dm-0", "ext4", diskcheck.Scratch, scratch)},
			refusals: []string{"vigie encrypts a whole disk or a partition only"}},
		{name: "scratch vfat", allow: true, items: []diskcheck.Item{item("filesystem", scratch, "vdb", "vfat", diskcheck.Scratch, scratch)},
			refusals: []string{"filesystem " + scratch + " is vfat"}},
		{name: "data disk", allow: true, items: []diskcheck.Item{item("filesystem", "/srv", "vdc", "ext4", diskcheck.Local, "/srv")},
			refusals: []string{"holds data: vigie never encrypts data in place. By hand: back it up; then either `cryptsetup luksFormat --type luks2`"}},
		{name: "root", allow: true, items: []diskcheck.Item{item("filesystem", "/", "vda1", "ext4", diskcheck.Local, "/")},
			refusals: []string{"update-initramfs -u"}},
		{name: "swap partition", allow: true, items: []diskcheck.Item{item("swap", h.dev+"/vda3", "vda3", "partition", diskcheck.Local)},
			actions:  []string{"swapoff " + h.dev + "/vda3", "wipefs --all " + h.dev + "/vda3", "systemctl daemon-reload", "systemctl start systemd-cryptsetup@vigie_swap_vda3.service", "systemctl start dev-mapper-vigie_swap_vda3.swap"},
			crypttab: []string{"vigie_swap_vda3 " + h.dev + "/disk/by-partuuid/5f1c-03 /dev/urandom swap,plain,cipher=aes-xts-plain64,size=512,nofail"},
			fstab:    []string{"# UUID=3c1d9e1a-5b5e-4c3a-9c2e-0e6b7a8f9d10 none swap sw 0 0  # vigie: replaced by the encrypted swap /dev/mapper/vigie_swap_vda3", "/dev/mapper/vigie_swap_vda3 none swap defaults,nofail 0 0"}},
		{name: "swap file", allow: true, items: []diskcheck.Item{item("swap", "/swapfile", "vda1", "file", diskcheck.Local)},
			refusals: []string{"vigie does not encrypt swap files"}},
		{name: "scratch by metadata, xfs on NVMe", allow: true, items: []diskcheck.Item{item("filesystem", scratch, "nvme1n1", "xfs", diskcheck.Scratch, scratch)},
			crypttab: []string{"vigie_scratch_nvme1n1 " + h.dev + "/disk/by-id/nvme-Scaleway_NVMe_scratch_0123 /dev/urandom plain,cipher=aes-xts-plain64,size=512,tmp=xfs,nofail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := BuildPlan(context.Background(), h.env(), facts(tt.items...), h.options(tt.allow))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Refusals) != len(tt.refusals) {
				t.Fatalf("refusals %q, want %d", p.Refusals, len(tt.refusals))
			}
			for i, r := range tt.refusals {
				if !strings.Contains(p.Refusals[i], r) {
					t.Errorf("refusal %q lacks %q", p.Refusals[i], r)
				}
			}
			if len(tt.refusals) > 0 && !p.Empty() {
				t.Errorf("a refused plan changes things: %d files, %d actions", len(p.Files), len(p.Actions))
			}
			if tt.actions != nil {
				if len(p.Actions) != len(tt.actions) {
					t.Fatalf("%d actions, want %d: %+v", len(p.Actions), len(tt.actions), p.Actions)
				}
				for i, a := range tt.actions {
					if !strings.HasPrefix(p.Actions[i].What, a) {
						t.Errorf("action %d %q, want %q", i, p.Actions[i].What, a)
					}
				}
			}
			files := map[string]string{}
			for _, fc := range p.Files {
				files[strings.TrimPrefix(fc.Path, h.dir)] = string(fc.Content)
			}
			for _, l := range tt.crypttab {
				if !slices.Contains(strings.Split(files["/etc/crypttab"], "\n"), l) {
					t.Errorf("crypttab lacks %q:\n%s", l, files["/etc/crypttab"])
				}
			}
			for _, l := range tt.fstab {
				if !slices.Contains(strings.Split(files["/etc/fstab"], "\n"), l) {
					t.Errorf("fstab lacks %q:\n%s", l, files["/etc/fstab"])
				}
			}
		})
	}
}

// TestPlanWithoutCryptsetupGenerator: a Debian 13 host installed without
// recommends has no systemd-cryptsetup, so nothing would open crypttab's
// devices at boot: the plan refuses, names the package, and changes
// nothing.
func TestPlanWithoutCryptsetupGenerator(t *testing.T) {
	h := newHost(t)
	if err := os.Remove(filepath.Join(h.dir, cryptsetupGenerators[0])); err != nil {
		t.Fatal(err)
	}
	scratch := filepath.Join(h.dir, "scratch")
	if err := os.MkdirAll(filepath.Join(scratch, "lost+found"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.write(t, "etc/fstab", "/dev/disk/by-id/virtio-scratch1 "+EscapeTab(scratch)+" ext4 defaults 0 2\nUUID=3c1d9e1a-5b5e-4c3a-9c2e-0e6b7a8f9d10 none swap sw 0 0\n")
	p, err := BuildPlan(context.Background(), h.env(), facts(
		item("filesystem", scratch, "vdb", "ext4", diskcheck.Scratch, scratch),
		item("swap", h.dev+"/vda3", "vda3", "partition", diskcheck.Local)), h.options(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Refusals) != 2 || !p.Empty() {
		t.Fatalf("refusals %q, %d files, %d actions", p.Refusals, len(p.Files), len(p.Actions))
	}
	for _, r := range p.Refusals {
		if !strings.Contains(r, "crypttab generator, which is not installed") || !strings.Contains(r, "apt-get install systemd-cryptsetup") {
			t.Errorf("refusal %q", r)
		}
	}
	// Where /lib is not merged into /usr, the generator is found there.
	h.write(t, cryptsetupGenerators[1][1:], "")
	if !hasCryptsetupGenerator(context.Background(), h.env()) {
		t.Errorf("generator under /lib not found")
	}
}

// TestFileWrittenAfterThePlan: a user writes to the empty scratch between
// the plan and its application; the check made again right before the
// umount refuses, so nothing is unmounted or erased.
func TestFileWrittenAfterThePlan(t *testing.T) {
	h := newHost(t)
	scratch := filepath.Join(h.dir, "scratch")
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		t.Fatal(err)
	}
	h.write(t, "etc/fstab", "UUID=0b5c4a1e-8f0e-4d55-9f0a-6a4f3c2b1a00 "+scratch+" ext4 defaults 0 2\n")
	p, err := BuildPlan(context.Background(), h.env(), facts(item("filesystem", scratch, "vdb", "ext4", diskcheck.Scratch, scratch)), h.options(true))
	if err != nil || len(p.Refusals) > 0 {
		t.Fatalf("plan: %v %q", err, p.Refusals)
	}
	h.write(t, "scratch/late.bin", "written after the plan was shown\n")
	h.ran = nil
	_, err = (&remediations.Engine{Dir: filepath.Join(h.dir, "state")}).Apply(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "holds data (1 entries: late.bin)") {
		t.Fatalf("err = %v", err)
	}
	for _, c := range h.ran {
		if strings.HasPrefix(c, "umount") || strings.HasPrefix(c, "wipefs") {
			t.Errorf("ran %q on a scratch that holds data", c)
		}
	}
}

// TestRollback: the encrypted mount fails to start; every step is undone
// newest first (the mapping closed, the filesystem made again with its
// UUID, mounted back) and fstab and crypttab are restored byte for byte.
func TestRollback(t *testing.T) {
	h := newHost(t)
	scratch := filepath.Join(h.dir, "scratch")
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		t.Fatal(err)
	}
	fstab := "UUID=1111 / ext4 errors=remount-ro 0 1\nUUID=0b5c4a1e-8f0e-4d55-9f0a-6a4f3c2b1a00 " + scratch + " ext4 defaults 0 2\n"
	h.write(t, "etc/fstab", fstab)
	opt := h.options(true)
	sd := systemd{h: h}
	p, err := BuildPlan(context.Background(), h.env(), facts(item("filesystem", scratch, "vdb", "ext4", diskcheck.Scratch, scratch)), opt)
	if err != nil {
		t.Fatal(err)
	}
	mountUnit := strings.TrimPrefix(p.Actions[len(p.Actions)-1].What, "systemctl start ")
	sd.failUnit = mountUnit
	opt.Systemd = sd
	p, err = BuildPlan(context.Background(), h.env(), facts(item("filesystem", scratch, "vdb", "ext4", diskcheck.Scratch, scratch)), opt)
	if err != nil {
		t.Fatal(err)
	}
	h.ran = nil
	_, err = (&remediations.Engine{Dir: filepath.Join(h.dir, "state")}).Apply(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "every change of this run rolled back") {
		t.Fatalf("err = %v", err)
	}
	dev := h.dev + "/vdb"
	want := []string{
		"umount " + scratch, "wipefs --all --quiet " + dev, "daemon-reload",
		"start systemd-cryptsetup@vigie_scratch_vdb.service", "start " + mountUnit,
		// rollback, newest first
		"stop systemd-cryptsetup@vigie_scratch_vdb.service",
		"remake-if-blank " + dev + " 0b5c4a1e-8f0e-4d55-9f0a-6a4f3c2b1a00 ext4 mkfs.ext4 -q -F -U 0b5c4a1e-8f0e-4d55-9f0a-6a4f3c2b1a00 " + dev,
		"mount-unless-mounted ext4 " + dev + " " + scratch,
		"daemon-reload", // Activate, once the files are back
	}
	if got := strings.Join(h.ran, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if b, _ := os.ReadFile(filepath.Join(h.etc, "fstab")); string(b) != fstab {
		t.Errorf("fstab not restored:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(h.etc, "crypttab")); !os.IsNotExist(err) {
		t.Errorf("crypttab created by a rolled-back run: %v", err)
	}
	// The journal holds the same reverts as command lines, for a later
	// process to run when a crash, not a failure, ends the run: a
	// filesystem erased by wipefs comes back with its UUID.
	runs, err := (&remediations.Engine{Dir: filepath.Join(h.dir, "state")}).Runs()
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %v %v", runs, err)
	}
	reverts := map[string]string{}
	for _, a := range runs[0].Journal {
		var cmds []string
		for _, argv := range a.Revert {
			cmds = append(cmds, shown(argv))
		}
		reverts[a.What] = strings.Join(cmds, "; ")
	}
	for what, want := range map[string]string{
		"umount " + scratch:       "mount-unless-mounted ext4 " + dev + " " + scratch,
		"wipefs --all " + dev:     "remake-if-blank " + dev + " 0b5c4a1e-8f0e-4d55-9f0a-6a4f3c2b1a00 ext4 mkfs.ext4 -q -F -U 0b5c4a1e-8f0e-4d55-9f0a-6a4f3c2b1a00 " + dev,
		"systemctl daemon-reload": "systemctl daemon-reload",
	} {
		if reverts[what] != want {
			t.Errorf("journaled revert of %q: %q, want %q", what, reverts[what], want)
		}
	}
}

func TestTab(t *testing.T) {
	in := "# comment\n\nUUID=1 / ext4 defaults 0 1\n/dev/sdb /mnt/my\\040data ext4 defaults 0 2\n"
	lines := ParseTab([]byte(in))
	if string(RenderTab(lines)) != in {
		t.Errorf("round trip:\n%s", RenderTab(lines))
	}
	if lines[3].Fields[1] != "/mnt/my data" {
		t.Errorf("escaped field: %q", lines[3].Fields[1])
	}
	out, n := Replace(lines, func(f []string) bool { return f[1] == "/mnt/my data" }, "why", "new line")
	got := string(RenderTab(out))
	if n != 1 || !strings.Contains(got, "# /dev/sdb /mnt/my\\040data ext4 defaults 0 2  # vigie: why\nnew line\n") {
		t.Errorf("replace (%d):\n%s", n, got)
	}
	if EscapeTab("/a b\\c") != `/a\040b\134c` {
		t.Errorf("escape: %s", EscapeTab("/a b\\c"))
	}
}

func FuzzParseTab(f *testing.F) {
	f.Add([]byte("UUID=1 / ext4 defaults 0 1\n# c\n/dev/sdb /mnt/a\\040b ext4 defaults 0 2\n"))
	f.Add([]byte("\\777 \\0 \\12"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines := ParseTab(b)
		// Rendering what was parsed gives the input back, newline-terminated.
		want := string(b)
		if want != "" && !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		if got := string(RenderTab(lines)); got != want && !(want == "\n" && got == "") {
			t.Fatalf("round trip %q -> %q", want, got)
		}
		for _, l := range lines {
			for _, fl := range l.Fields {
				if back := ParseTab([]byte(EscapeTab(fl))); fl != "" && !strings.ContainsAny(fl, "\x00") && (len(back) != 1 || len(back[0].Fields) != 1 || back[0].Fields[0] != fl) {
					if !strings.ContainsAny(fl, " \t\n\v\f\r\u0085\u00a0") && !strings.HasPrefix(fl, "#") {
						t.Fatalf("field %q does not survive escaping: %+v", fl, back)
					}
				}
			}
		}
	})
}

// TestSettleLines: the plan's Settle lines, per target: what uses the
// mapping and the mapping stopped (either may not exist: "-"), the clear
// filesystem or swap made again with its UUID and label if the raw device
// carries nothing, and used again; the reverts of the swapoff, umount and
// wipefs actions are the same idempotent lines.
func TestSettleLines(t *testing.T) {
	h := newHost(t)
	scratch := filepath.Join(h.dir, "scratch")
	if err := os.MkdirAll(filepath.Join(scratch, "lost+found"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.write(t, "etc/fstab", "UUID=0b5c4a1e-8f0e-4d55-9f0a-6a4f3c2b1a00 "+scratch+" ext4 defaults 0 2\nUUID=3c1d9e1a-5b5e-4c3a-9c2e-0e6b7a8f9d10 none swap sw 0 0\n")
	vdb, vda3, nvme := h.dev+"/vdb", h.dev+"/vda3", h.dev+"/nvme1n1"
	const uuid, swapUUID, xfsUUID = "0b5c4a1e-8f0e-4d55-9f0a-6a4f3c2b1a00", "3c1d9e1a-5b5e-4c3a-9c2e-0e6b7a8f9d10", "7d2e0c4b-2a77-4a55-8c1e-1f0f1e2d3c4b"
	tests := []struct {
		name    string
		items   []diskcheck.Item
		settle  []string
		reverts map[string]string
	}{
		{name: "ext4 scratch and swap partition",
			items: []diskcheck.Item{item("filesystem", scratch, "vdb", "ext4", diskcheck.Scratch, scratch), item("swap", vda3, "vda3", "partition", diskcheck.Local)},
			settle: []string{
				"-umount --all-targets /dev/mapper/vigie_scratch_vdb",
				"-systemctl stop systemd-cryptsetup@vigie_scratch_vdb.service",
				"remake-if-blank " + vdb + " " + uuid + " ext4 mkfs.ext4 -q -F -U " + uuid + " " + vdb,
				"mount-unless-mounted ext4 " + vdb + " " + scratch,
				"-systemctl stop dev-mapper-vigie_swap_vda3.swap",
				"-systemctl stop systemd-cryptsetup@vigie_swap_vda3.service",
				"remake-if-blank " + vda3 + " " + swapUUID + " swap mkswap -U " + swapUUID + " " + vda3,
				"swapon-unless-on " + vda3,
			},
			reverts: map[string]string{
				"umount " + scratch:    "mount-unless-mounted ext4 " + vdb + " " + scratch,
				"wipefs --all " + vdb:  "remake-if-blank " + vdb + " " + uuid + " ext4 mkfs.ext4 -q -F -U " + uuid + " " + vdb,
				"swapoff " + vda3:      "swapon-unless-on " + vda3,
				"wipefs --all " + vda3: "remake-if-blank " + vda3 + " " + swapUUID + " swap mkswap -U " + swapUUID + " " + vda3,
			}},
		{name: "xfs scratch with a label",
			items: []diskcheck.Item{item("filesystem", scratch, "nvme1n1", "xfs", diskcheck.Scratch, scratch)},
			settle: []string{
				"-umount --all-targets /dev/mapper/vigie_scratch_nvme1n1",
				"-systemctl stop systemd-cryptsetup@vigie_scratch_nvme1n1.service",
				"remake-if-blank " + nvme + " " + xfsUUID + " xfs mkfs.xfs -q -f -m uuid=" + xfsUUID + " -L scratch " + nvme,
				"mount-unless-mounted xfs " + nvme + " " + scratch,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := BuildPlan(context.Background(), h.env(), facts(tt.items...), h.options(true))
			if err != nil || len(p.Refusals) > 0 {
				t.Fatalf("plan: %v %q", err, p.Refusals)
			}
			var got []string
			for _, argv := range p.Settle {
				got = append(got, shown(argv))
			}
			if !slices.Equal(got, tt.settle) {
				t.Errorf("settle:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.settle, "\n"))
			}
			for _, a := range p.Actions {
				want, ok := tt.reverts[a.What]
				if !ok {
					continue
				}
				var cmds []string
				for _, argv := range a.Revert {
					cmds = append(cmds, shown(argv))
				}
				if got := strings.Join(cmds, "; "); got != want {
					t.Errorf("revert of %q: %q, want %q", a.What, got, want)
				}
			}
		})
	}
}

// TestSettleScripts runs the scripts of the Settle lines with the real
// /bin/sh, grep and tr, and stand-ins for blkid, findmnt, mount, swapon
// and mkfs that answer as the real ones do and log what they are asked:
// the clear filesystem is made again only on a device with no signature
// at all, and a device holding anything else is left as it is, and fails
// the line.
func TestSettleScripts(t *testing.T) {
	const dev, uuid = "/dev/vdb", "0b5c4a1e-8f0e-4d55-9f0a-6a4f3c2b1a00"
	tgt := target{item: diskcheck.Item{Kind: "filesystem", FSType: "ext4", Points: []string{"/scratch"}}, dev: dev, blk: map[string]string{"UUID": uuid}}
	swap := target{item: diskcheck.Item{Kind: "swap", FSType: "partition"}, dev: dev, blk: map[string]string{"UUID": uuid, "LABEL": "sw 1"}}
	ext4 := "DEVNAME=/dev/vdb\nUUID=" + uuid + "\nVERSION=1.0\nBLOCK_SIZE=4096\nTYPE=ext4\nUSAGE=filesystem\n"
	tests := []struct {
		name     string
		argv     []string
		out      string // what blkid, findmnt or swapon --show prints
		exit     int    // and its exit status
		wantRan  string
		wantFail string
	}{
		{name: "blank device: made again", argv: tgt.remakeLine(), exit: 2, wantRan: "mkfs.ext4 -q -F -U " + uuid + " " + dev},
		{name: "the clear filesystem is there: left alone", argv: tgt.remakeLine(), out: ext4},
		{name: "another filesystem: left alone, fails", argv: tgt.remakeLine(), out: strings.Replace(ext4, uuid, "aa11bb22-0000-4000-8000-000000000001", 1),
			wantFail: "/dev/vdb holds something other than the ext4 " + uuid + " vigie would make again (blkid -p exit 0: DEVNAME=/dev/vdb UUID=aa11bb22"},
		{name: "LUKS: left alone, fails", argv: tgt.remakeLine(), out: "DEVNAME=/dev/vdb\nUUID=" + uuid + "\nTYPE=crypto_LUKS\n", wantFail: "left as it is"},
		{name: "ambivalent probe: left alone, fails", argv: tgt.remakeLine(), exit: 8, wantFail: "blkid -p exit 8"},
		{name: "blank swap device: label kept whole", argv: swap.remakeLine(), exit: 2, wantRan: "mkswap -U " + uuid + " -L sw 1 " + dev},
		{name: "not mounted: mounted", argv: tgt.useLines()[0], exit: 1, wantRan: "mount -t ext4 " + dev + " /scratch"},
		{name: "mounted there already", argv: tgt.useLines()[0], out: dev + "\n"},
		{name: "the mapping still mounted there", argv: tgt.useLines()[0], out: "/dev/mapper/vigie_scratch_vdb\n", wantFail: "/scratch: /dev/mapper/vigie_scratch_vdb is mounted there, not /dev/vdb"},
		{name: "swap off: turned on", argv: swap.useLines()[0], out: "/dev/vda3\n", wantRan: "swapon " + dev},
		{name: "swap on already", argv: swap.useLines()[0], out: "/dev/vda3\n" + dev + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := t.TempDir()
			log := filepath.Join(bin, "log")
			answer := fmt.Sprintf("printf '%%b' %q; exit %d\n", tt.out, tt.exit)
			logged := `printf '%s\n' "$(basename "$0") $*" >>` + log + "\n"
			for name, body := range map[string]string{
				"blkid": answer, "findmnt": answer,
				"swapon":    `case "$1" in --show*) ` + answer + ";; esac\n" + logged,
				"mount":     logged,
				"mkfs.ext4": logged,
				"mkswap":    logged,
			} {
				if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(tt.argv[0], tt.argv[1:]...)
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			ran, _ := os.ReadFile(log)
			if got := strings.TrimSpace(string(ran)); got != tt.wantRan {
				t.Errorf("ran %q, want %q", got, tt.wantRan)
			}
			if tt.wantFail == "" && err != nil {
				t.Errorf("failed: %v %s", err, out)
			}
			if tt.wantFail != "" && (err == nil || !strings.Contains(string(out), tt.wantFail)) {
				t.Errorf("err = %v, output %q, want a failure saying %q", err, out, tt.wantFail)
			}
		})
	}
}
