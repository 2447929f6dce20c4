// Package disks encrypts what can be encrypted without losing data:
// scratch storage and swap, whose content does not outlive the instance
// (or the boot), re-created on dm-crypt with a fresh random key at every
// boot. Disks that hold data are never touched: the plan gives the manual
// path instead, because encrypting them means a backup, a reformat or an
// offline re-encryption that an operator must own.
package disks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/vigie-agent/vigie/checks"
	diskcheck "github.com/vigie-agent/vigie/checks/disks"
	"github.com/vigie-agent/vigie/remediations"
)

// Cipher is dm-crypt's XTS mode with two 256-bit AES keys: a 512-bit key
// read from /dev/urandom at every boot.
const (
	Cipher  = "aes-xts-plain64"
	KeySize = "512"
)

// Systemd is what the plan asks of the service manager.
type Systemd interface {
	Reload(ctx context.Context) error
	Start(ctx context.Context, unit string) error
	Stop(ctx context.Context, unit string) error
}

// Options say what the plan may do and where the system's files are.
type Options struct {
	// AllowDestructive lets the plan erase scratch filesystems and swap
	// to re-create them encrypted. Without it the plan only explains.
	AllowDestructive bool
	Crypttab, Fstab  string // /etc/crypttab, /etc/fstab
	Dev              string // /dev
	Systemd          Systemd
	// Run runs a command; remediations.Run by default.
	Run func(ctx context.Context, env []string, name string, args ...string) ([]byte, error)
	// Check re-gathers the disks facts to verify.
	Check diskcheck.Options
}

func (o *Options) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if o.Run != nil {
		return o.Run(ctx, nil, name, args...)
	}
	return remediations.Run(ctx, nil, name, args...)
}

// Filesystems vigie can re-create with the same UUID on rollback.
var mkfsUUID = map[string]func(dev, uuid, label string) []string{
	"ext4": extMkfs("ext4"),
	"ext3": extMkfs("ext3"),
	"ext2": extMkfs("ext2"),
	"xfs": func(dev, uuid, label string) []string {
		return withLabel([]string{"mkfs.xfs", "-q", "-f", "-m", "uuid=" + uuid}, "-L", label, dev)
	},
	"btrfs": func(dev, uuid, label string) []string {
		return withLabel([]string{"mkfs.btrfs", "-q", "-f", "-U", uuid}, "-L", label, dev)
	},
}

func extMkfs(t string) func(dev, uuid, label string) []string {
	return func(dev, uuid, label string) []string {
		return withLabel([]string{"mkfs." + t, "-q", "-F", "-U", uuid}, "-L", label, dev)
	}
}

func withLabel(args []string, flag, label, dev string) []string {
	if label != "" {
		args = append(args, flag, label)
	}
	return append(args, dev)
}

// target is one item the plan re-creates encrypted.
type target struct {
	item   diskcheck.Item
	name   string // dm-crypt mapping: vigie_scratch_vdb
	dev    string // /dev/vdb
	stable string // /dev/disk/by-id/..., a name that cannot point at another disk after a reboot
	blk    map[string]string
}

// BuildPlan plans the encryption of unencrypted scratch filesystems and
// swap, and explains what it will not do.
func BuildPlan(ctx context.Context, env *host.Env, f *diskcheck.Facts, opt Options) (*remediations.Plan, error) {
	if f.Err != "" {
		return nil, fmt.Errorf("disks: %s", f.Err)
	}
	if opt.Crypttab == "" {
		opt.Crypttab = "/etc/crypttab"
	}
	if opt.Fstab == "" {
		opt.Fstab = "/etc/fstab"
	}
	if opt.Dev == "" {
		opt.Dev = "/dev"
	}
	p := &remediations.Plan{Area: "disks"}
	var targets []target
	for _, it := range f.Items {
		if it.Encrypted {
			continue
		}
		classes := it.Classes()
		switch {
		case it.Kind == "swap":
			if t, why := swapTarget(ctx, f, it, opt); why != "" {
				p.Refusals = append(p.Refusals, why)
			} else {
				targets = append(targets, t)
			}
		case len(classes) == 1 && classes[diskcheck.Scratch]:
			if t, why := scratchTarget(ctx, f, it, opt); why != "" {
				p.Refusals = append(p.Refusals, why)
			} else {
				targets = append(targets, t)
			}
		case classes[diskcheck.Removable] && len(classes) == 1:
		default:
			p.Refusals = append(p.Refusals, manualPath(it))
		}
	}
	if len(targets) == 0 {
		return p, nil
	}
	if !opt.AllowDestructive {
		for _, t := range targets {
			p.Refusals = append(p.Refusals, fmt.Sprintf("%s %s on %s: re-creating it encrypted erases it (scratch content does not outlive the instance, swap not the boot); `vigie fix --only disks --allow-destructive` does it", t.item.Kind, t.item.Label, t.dev))
		}
		return p, nil
	}
	if opt.Systemd == nil {
		for _, t := range targets {
			p.Refusals = append(p.Refusals, t.item.Kind+" "+t.item.Label+": encrypting it at every boot needs systemd (systemd-cryptsetup), which is not running")
		}
		return p, nil
	}
	if !hasCryptsetupGenerator(ctx, env) {
		for _, t := range targets {
			p.Refusals = append(p.Refusals, t.item.Kind+" "+t.item.Label+": encrypting it at every boot needs systemd's crypttab generator, which is not installed: "+
				"nothing would open /etc/crypttab's devices at boot (on Debian 13 it is a package of its own: apt-get install systemd-cryptsetup)")
		}
		return p, nil
	}
	if err := plan(ctx, env, p, targets, opt); err != nil {
		return nil, err
	}
	p.Activate = opt.Systemd.Reload
	p.Verify = func(ctx context.Context) error { return verify(ctx, env, targets, opt) }
	return p, nil
}

// cryptsetupGenerators are where systemd's systemd-cryptsetup-generator,
// which turns /etc/crypttab into systemd-cryptsetup@.service units, may be
// installed. Debian 12 and RHEL ship it with systemd; Debian 13 moved it to
// the package systemd-cryptsetup, which systemd only recommends.
var cryptsetupGenerators = []string{
	"/usr/lib/systemd/system-generators/systemd-cryptsetup-generator",
	"/lib/systemd/system-generators/systemd-cryptsetup-generator",
}

func hasCryptsetupGenerator(ctx context.Context, env *host.Env) bool {
	return slices.ContainsFunc(cryptsetupGenerators, func(p string) bool { return env.FS().Exists(ctx, p) })
}

// manualPath explains how to encrypt a disk that holds data, which vigie
// does not do.
func manualPath(it diskcheck.Item) string {
	var classes []string
	for c := range it.Classes() {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	s := fmt.Sprintf("%s %s on %s storage (%s) holds data: vigie never encrypts data in place. By hand: back it up; then either `cryptsetup luksFormat --type luks2` a new device, open it, make the filesystem and restore onto it, or, unmounted, `cryptsetup reencrypt --encrypt --type luks2 --reduce-device-size 32M /dev/DEVICE`; add it to /etc/crypttab and point /etc/fstab at /dev/mapper/NAME",
		it.Kind, it.Label, strings.Join(classes, "+"), it.Chain)
	if slices.Contains(it.Points, "/") {
		s += "; the root filesystem also needs the initramfs to unlock it (cryptsetup-initramfs, `update-initramfs -u`): usually simpler to rebuild the instance from an encrypted image"
	}
	return s
}

// scratchTarget decides whether a scratch filesystem can be re-created.
func scratchTarget(ctx context.Context, f *diskcheck.Facts, it diskcheck.Item, opt Options) (target, string) {
	if _, ok := mkfsUUID[it.FSType]; !ok {
		return target{}, fmt.Sprintf("filesystem %s is %s: vigie re-creates ext2/3/4, xfs and btrfs scratch filesystems only", it.Label, it.FSType)
	}
	t, why := baseTarget(ctx, f, it, opt, "vigie_scratch_")
	if why != "" {
		return t, why
	}
	if why := t.holds(); why != "" {
		return t, why
	}
	return t, ""
}

// holds says why the filesystem is not empty, or "" when it is. Only a
// mount of the filesystem's root shows everything it holds: a bind mount
// of a subdirectory or a btrfs subvolume mount shows a part, and every
// other subvolume, a snapshot included, is a directory of the root. So
// the root must be mounted, and every mount point is listed.
func (t target) holds() string {
	it := t.item
	if len(it.Roots) > 0 && !slices.Contains(it.Roots, "/") {
		return fmt.Sprintf("filesystem %s on scratch disk %s is mounted only from inside it (%s: a subvolume or a subdirectory): vigie cannot see all it holds, so it does not erase it; mount its root (for btrfs, subvolid=5) or empty it by hand",
			it.Label, t.dev, strings.Join(it.Roots, ", "))
	}
	for _, pt := range it.Points {
		if n, err := contentOf(pt); err != nil {
			return fmt.Sprintf("filesystem %s: cannot tell whether it is empty: %v", it.Label, err)
		} else if n != "" {
			return fmt.Sprintf("filesystem %s on scratch disk %s holds data (%s): vigie re-creates only an empty scratch filesystem; move the data off, then run the fix again", it.Label, t.dev, n)
		}
	}
	return ""
}

// contentOf says what a mount point holds besides an empty lost+found. It
// reads at most maxListed names: a scratch disk a user filled with a
// million files needs no more to be refused, and no more memory.
func contentOf(dir string) (string, error) {
	names, more, err := firstNames(dir)
	if err != nil {
		return "", err
	}
	var kept []string
	for _, n := range names {
		if n == "lost+found" {
			sub, subMore, err := firstNames(filepath.Join(dir, n))
			if err == nil && len(sub) == 0 && !subMore {
				continue
			}
		}
		kept = append(kept, n)
	}
	switch {
	case len(kept) == 0:
		return "", nil
	case more:
		return fmt.Sprintf("more than %d entries: %s", len(kept), checks.Abridge(kept, 5, ", ")), nil
	}
	return fmt.Sprintf("%d entries: %s", len(kept), checks.Abridge(kept, 5, ", ")), nil
}

const maxListed = 64

// firstNames lists up to maxListed names of a directory, sorted; more says
// there are others.
func firstNames(dir string) (names []string, more bool, err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, false, err
	}
	defer d.Close()
	names, err = d.Readdirnames(maxListed + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	if len(names) > maxListed {
		names, more = names[:maxListed], true
	}
	sort.Strings(names)
	return names, more, nil
}

// swapTarget decides whether a swap area can be re-created.
func swapTarget(ctx context.Context, f *diskcheck.Facts, it diskcheck.Item, opt Options) (target, string) {
	if it.FSType == "file" {
		return target{}, "swap file " + it.Label + ": vigie does not encrypt swap files (a loop device under swap can deadlock under memory pressure); replace it with an encrypted swap partition or zram"
	}
	return baseTarget(ctx, f, it, opt, "vigie_swap_")
}

// baseTarget finds the device and a stable name for it, and refuses
// stacked storage (LVM, md RAID) that a plain mapping would bypass.
func baseTarget(ctx context.Context, f *diskcheck.Facts, it diskcheck.Item, opt Options, prefix string) (target, string) {
	t := target{item: it}
	d := f.Topology.Devices[it.Device]
	if d == nil {
		return t, fmt.Sprintf("%s %s: its device is not in sysfs", it.Kind, it.Label)
	}
	if !(len(d.Lower) == 0 || d.Partition && len(d.Lower) == 1) || strings.HasPrefix(d.Name, "dm-") || strings.HasPrefix(d.Name, "md") {
		return t, fmt.Sprintf("%s %s sits on %s: vigie encrypts a whole disk or a partition only; put dm-crypt under that stack by hand", it.Kind, it.Label, it.Chain)
	}
	t.dev = filepath.Join(opt.Dev, d.Name)
	t.name = prefix + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, d.Name)
	t.stable = stableName(opt.Dev, d.Name)
	if t.stable == "" {
		return t, fmt.Sprintf("%s %s: %s has no stable name under %s/disk/by-id or by-partuuid; a crypttab entry naming it by /dev/%s could format another disk after a reboot", it.Kind, it.Label, t.dev, opt.Dev, d.Name)
	}
	out, err := opt.run(ctx, "blkid", "-o", "export", t.dev)
	if err != nil && host.ExitCode(err) != 2 { // 2: no signature found
		return t, fmt.Sprintf("%s %s: blkid %s: %v", it.Kind, it.Label, t.dev, err)
	}
	t.blk = parseExport(out)
	if it.Kind == "swap" && t.blk["TYPE"] != "swap" {
		return t, fmt.Sprintf("swap %s: blkid says %s holds %q, not swap", it.Label, t.dev, t.blk["TYPE"])
	}
	if it.Kind == "filesystem" && t.blk["TYPE"] != it.FSType {
		return t, fmt.Sprintf("filesystem %s: blkid says %s holds %q, mountinfo %q", it.Label, t.dev, t.blk["TYPE"], it.FSType)
	}
	return t, ""
}

// stableName finds a link to the device that survives a reboot and a
// change in probe order: by-id (serial), else by-partuuid.
func stableName(dev, name string) string {
	for _, dir := range []string{"disk/by-id", "disk/by-partuuid"} {
		ents, err := os.ReadDir(filepath.Join(dev, dir))
		if err != nil {
			continue
		}
		var links []string
		for _, e := range ents {
			target, err := os.Readlink(filepath.Join(dev, dir, e.Name()))
			if err == nil && filepath.Base(target) == name {
				links = append(links, e.Name())
			}
		}
		// wwn- and nvme-eui. names are the hardware's; prefer the
		// readable serial-based names, deterministically.
		slices.SortFunc(links, func(a, b string) int {
			wa, wb := strings.HasPrefix(a, "wwn-") || strings.HasPrefix(a, "nvme-eui."), strings.HasPrefix(b, "wwn-") || strings.HasPrefix(b, "nvme-eui.")
			if wa != wb {
				if wa {
					return 1
				}
				return -1
			}
			return strings.Compare(a, b)
		})
		if len(links) > 0 {
			return filepath.Join(dev, dir, links[0])
		}
	}
	return ""
}

// parseExport reads `blkid -o export`: KEY=value lines.
func parseExport(b []byte) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			out[k] = v
		}
	}
	return out
}

// specs are the ways fstab may name the device.
func (t target) specs() []string {
	s := []string{t.dev, t.stable}
	for _, k := range []string{"UUID", "LABEL", "PARTUUID", "PARTLABEL"} {
		if v := t.blk[k]; v != "" {
			s = append(s, k+"="+v)
		}
	}
	return s
}

func (t target) names(spec string) bool {
	if slices.Contains(t.specs(), spec) {
		return true
	}
	if strings.HasPrefix(spec, "/dev/") {
		if r, err := filepath.EvalSymlinks(spec); err == nil && r == t.dev {
			return true
		}
	}
	return false
}

// plan writes crypttab and fstab and adds the steps: take the old
// filesystem or swap out of use, erase its signature, have systemd open
// the mapping (which makes the new filesystem or swap), and use it again.
func plan(ctx context.Context, env *host.Env, p *remediations.Plan, targets []target, opt Options) error {
	crypttab, err := readTab(ctx, env, opt.Crypttab)
	if err != nil {
		return err
	}
	fstab, err := readTab(ctx, env, opt.Fstab)
	if err != nil {
		return err
	}
	reload := remediations.Action{What: "systemctl daemon-reload", Do: opt.Systemd.Reload,
		// Activate reloads again once the files are back.
		Undo:   func(context.Context) error { return nil },
		Revert: [][]string{{"systemctl", "daemon-reload"}}}
	var before, after []remediations.Action
	for _, t := range targets {
		mapper := "/dev/mapper/" + t.name
		cryptUnit := "systemd-cryptsetup@" + unit.UnitNameEscape(t.name) + ".service"
		var entry, mount string
		if t.item.Kind == "swap" {
			entry = fmt.Sprintf("%s %s /dev/urandom swap,plain,cipher=%s,size=%s,nofail", t.name, t.stable, Cipher, KeySize)
			mount = fmt.Sprintf("%s none swap defaults,nofail 0 0", mapper)
			fstab, _ = Replace(fstab, func(f []string) bool { return len(f) >= 3 && f[2] == "swap" && t.names(f[0]) },
				"replaced by the encrypted swap "+mapper)
		} else {
			entry = fmt.Sprintf("%s %s /dev/urandom plain,cipher=%s,size=%s,tmp=%s,nofail", t.name, t.stable, Cipher, KeySize, t.item.FSType)
			opts := "defaults"
			for _, l := range fstab {
				if len(l.Fields) >= 4 && slices.Contains(t.item.Points, l.Fields[1]) {
					opts = l.Fields[3]
				}
			}
			if !slices.Contains(strings.Split(opts, ","), "nofail") {
				opts += ",nofail"
			}
			var lines []string
			for _, pt := range t.item.Points {
				lines = append(lines, fmt.Sprintf("%s %s %s %s 0 0", mapper, EscapeTab(pt), t.item.FSType, opts))
			}
			mount = strings.Join(lines, "\n")
			fstab, _ = Replace(fstab, func(f []string) bool {
				return len(f) >= 2 && (slices.Contains(t.item.Points, f[1]) || t.names(f[0]) && f[1] != "none")
			}, "replaced by the encrypted scratch "+mapper)
		}
		crypttab, _ = Replace(crypttab, func(f []string) bool { return f[0] == t.name || len(f) >= 2 && t.names(f[1]) },
			"replaced by vigie's entry below")
		crypttab, _ = Replace(crypttab, nil, "", "# vigie: "+t.item.Kind+" "+t.item.Label+", a new random key at every boot", entry)
		for _, l := range strings.Split(mount, "\n") {
			fstab, _ = Replace(fstab, nil, "", l)
		}
		before = append(before, t.takeOut(opt)...)
		after = append(after, remediations.Action{What: "systemctl start " + cryptUnit + " (opens " + mapper + " with a random key and makes the " + t.kindWord() + ")",
			Do:     func(ctx context.Context) error { return opt.Systemd.Start(ctx, cryptUnit) },
			Undo:   func(ctx context.Context) error { return opt.Systemd.Stop(ctx, cryptUnit) },
			Revert: [][]string{{"systemctl", "stop", cryptUnit}}})
		after = append(after, t.putBack(opt, mapper))
		p.Settle = append(p.Settle, t.settle(mapper, cryptUnit)...)
		p.Notes = append(p.Notes, fmt.Sprintf("%s %s on %s (%s) is re-created on dm-crypt %s with a new random key at every boot: its content is erased now and at each boot.", t.item.Kind, t.item.Label, t.dev, t.stable, Cipher))
		if t.item.Kind == "filesystem" {
			p.Notes = append(p.Notes, "The new filesystem's root directory is root:root 0755 after each boot; set other ownership in the service that uses it.")
		}
	}
	p.Files = append(p.Files,
		remediations.FileChange{Path: env.Path(opt.Crypttab), Content: RenderTab(crypttab), Mode: 0o600, Why: "dm-crypt with a key from /dev/urandom, new at every boot"},
		remediations.FileChange{Path: env.Path(opt.Fstab), Content: RenderTab(fstab), Mode: 0o644, Why: "mount the encrypted device where the clear one was"})
	p.Actions = append(append(append(p.Actions, before...), reload), after...)
	return nil
}

func (t target) kindWord() string {
	if t.item.Kind == "swap" {
		return "swap area"
	}
	return t.item.FSType + " filesystem"
}

// takeOut stops using the clear device and erases its signature. Undone,
// it makes the same filesystem or swap again, with the same UUID and
// label, and uses it again: the empty scratch or the swap is back as the
// operator had it. Both reverts are right whatever they find (see
// settle.go): the revert of an interrupted run runs them after the
// run's Settle lines, which may have done the same already.
func (t target) takeOut(opt Options) []remediations.Action {
	var stop, remake remediations.Action
	if t.item.Kind == "swap" {
		stop = remediations.Action{What: "swapoff " + t.item.Label,
			Do: func(ctx context.Context) error { _, err := opt.run(ctx, "swapoff", t.item.Label); return err }}
	} else {
		pts := slices.Clone(t.item.Points)
		slices.Reverse(pts) // nested mounts first
		stop = remediations.Action{What: "umount " + strings.Join(pts, " "),
			Do: func(ctx context.Context) error {
				// Checked again right before: a file written since the
				// plan was shown keeps the filesystem from being erased.
				if why := t.holds(); why != "" {
					return errors.New(why)
				}
				_, err := opt.run(ctx, "umount", pts...)
				return err
			}}
	}
	stop.Revert = t.useLines()
	remake.Revert = [][]string{t.remakeLine()}
	// The same commands undo a failed run in this process and, from the
	// journal, one a crash interrupted: the filesystem or swap is made
	// again with its UUID and label, so the restored fstab finds it.
	stop.Undo, remake.Undo = opt.runAll(stop.Revert), opt.runAll(remake.Revert)
	remake.What = "wipefs --all " + t.dev
	remake.Do = func(ctx context.Context) error {
		_, err := opt.run(ctx, "wipefs", "--all", "--quiet", t.dev)
		return err
	}
	return []remediations.Action{stop, remake}
}

// runAll runs command lines in order through the options' runner.
func (o *Options) runAll(cmds [][]string) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, argv := range cmds {
			if _, err := o.run(ctx, argv[0], argv[1:]...); err != nil {
				return err
			}
		}
		return nil
	}
}

// putBack uses the encrypted device: swapon, or the mount units fstab now
// describes.
func (t target) putBack(opt Options, mapper string) remediations.Action {
	if t.item.Kind == "swap" {
		u := unit.UnitNamePathEscape(mapper) + ".swap"
		return remediations.Action{What: "systemctl start " + u,
			Do:     func(ctx context.Context) error { return opt.Systemd.Start(ctx, u) },
			Undo:   func(ctx context.Context) error { return opt.Systemd.Stop(ctx, u) },
			Revert: [][]string{{"systemctl", "stop", u}}}
	}
	var units []string
	for _, pt := range t.item.Points {
		units = append(units, unit.UnitNamePathEscape(pt)+".mount")
	}
	return remediations.Action{What: "systemctl start " + strings.Join(units, " "),
		Do: func(ctx context.Context) error {
			for _, u := range units {
				if err := opt.Systemd.Start(ctx, u); err != nil {
					return err
				}
			}
			return nil
		},
		Undo: func(ctx context.Context) error {
			var errs []error
			for i := len(units) - 1; i >= 0; i-- {
				errs = append(errs, opt.Systemd.Stop(ctx, units[i]))
			}
			return errors.Join(errs...)
		},
		Revert: [][]string{append([]string{"systemctl", "stop"}, reversed(units)...)}}
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func readTab(ctx context.Context, env *host.Env, path string) ([]TabLine, error) {
	b, err := env.ReadFile(ctx, path, hostfs.Config)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %w", err)
	}
	return ParseTab(b), nil
}

// verify gathers the disks facts again: every target is in use again,
// through dm-crypt.
func verify(ctx context.Context, env *host.Env, targets []target, opt Options) error {
	f := diskcheck.Gather(ctx, env, opt.Check)
	if f.Err != "" {
		return errors.New(f.Err)
	}
	var errs []error
	for _, t := range targets {
		found := false
		for _, it := range f.Items {
			// The kernel names an encrypted swap by its dm node (/dev/dm-1):
			// find it by the mapping in its chain.
			if it.Kind != t.item.Kind || t.item.Kind == "swap" && !strings.Contains(it.Chain, " "+t.name+")") || t.item.Kind != "swap" && it.Label != t.item.Label {
				continue
			}
			found = true
			if !it.Encrypted {
				errs = append(errs, fmt.Errorf("%s %s is in use but not encrypted (%s)", it.Kind, it.Label, it.Chain))
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("%s %s is not in use after the change", t.item.Kind, t.item.Label))
		}
	}
	return errors.Join(errs...)
}
