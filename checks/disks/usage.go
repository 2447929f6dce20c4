package disks

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
)

// Mount is a mounted filesystem backed by a block device.
type Mount struct {
	Points []string // every mount point of the device (bind mounts, subvolumes)
	// Roots are the directories of the filesystem its mounts show, as
	// mountinfo says: "/" for its root, another path for a bind mount of a
	// subdirectory or a btrfs subvolume. Only a mount of "/" shows all it
	// holds.
	Roots  []string
	Source string
	FSType string
	Device string // block device name, "" when it could not be resolved
}

// Swap is an active swap area.
type Swap struct {
	Path   string
	Type   string // partition or file
	Device string // the block device it sits on
}

// virtualFS lists filesystems that hold no data at rest on a local disk.
var virtualFS = map[string]bool{
	"proc": true, "sysfs": true, "tmpfs": true, "devtmpfs": true, "devpts": true, "cgroup": true, "cgroup2": true,
	"securityfs": true, "pstore": true, "efivarfs": true, "bpf": true, "debugfs": true, "tracefs": true, "mqueue": true,
	"hugetlbfs": true, "configfs": true, "fusectl": true, "autofs": true, "binfmt_misc": true, "rpc_pipefs": true,
	"nsfs": true, "overlay": true, "ramfs": true, "squashfs": true, "nfs": true, "nfs4": true, "cifs": true, "smb3": true,
	"ceph": true, "9p": true, "virtiofs": true, "fuse.sshfs": true, "fuse.lxcfs": true, "iso9660": true,
}

// Unescape decodes the octal escapes the kernel writes in mountinfo and
// swaps for space, tab, newline and backslash (\040, \011, \012, \134).
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readMounts reads <proc>/self/mountinfo and resolves each block-backed
// filesystem to its device: by device number, or for filesystems with
// anonymous numbers (btrfs) by the source.
func readMounts(procDir string, t *Topology, resolve func(string) string) ([]Mount, error) {
	pfs, err := procfs.NewFS(procDir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", procDir, err)
	}
	infos, err := pfs.GetMounts()
	if err != nil {
		return nil, fmt.Errorf("read %s/self/mountinfo: %w", procDir, err)
	}
	byDev := map[string]*Mount{}
	var order []string
	for _, mi := range infos {
		if virtualFS[mi.FSType] || strings.HasPrefix(mi.FSType, "fuse") {
			continue
		}
		src := Unescape(mi.Source)
		var dev *Device
		if !strings.HasPrefix(mi.MajorMinorVer, "0:") {
			dev = t.ByMajMin(mi.MajorMinorVer)
		}
		if dev == nil {
			dev = t.BySource(src, resolve)
		}
		if dev == nil && !strings.HasPrefix(src, "/dev/") {
			continue // not block-backed
		}
		key := src
		name := ""
		if dev != nil {
			key, name = dev.Name, dev.Name
		}
		m := byDev[key]
		if m == nil {
			m = &Mount{Source: src, FSType: mi.FSType, Device: name}
			byDev[key] = m
			order = append(order, key)
		}
		m.Points = append(m.Points, Unescape(mi.MountPoint))
		if root := Unescape(mi.Root); !slices.Contains(m.Roots, root) {
			m.Roots = append(m.Roots, root)
		}
	}
	out := make([]Mount, 0, len(order))
	for _, k := range order {
		sort.Strings(byDev[k].Points)
		sort.Strings(byDev[k].Roots)
		out = append(out, *byDev[k])
	}
	return out, nil
}

// readSwaps reads <proc>/swaps. A swap file sits on the device of the
// filesystem that holds it.
func readSwaps(procDir string, t *Topology, mounts []Mount, resolve func(string) string) ([]Swap, error) {
	pfs, err := procfs.NewFS(procDir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", procDir, err)
	}
	sw, err := pfs.Swaps()
	if err != nil {
		return nil, fmt.Errorf("read %s/swaps: %w", procDir, err)
	}
	var out []Swap
	for _, s := range sw {
		p := Unescape(s.Filename)
		item := Swap{Path: p, Type: s.Type}
		if s.Type == "file" {
			item.Device = deviceOfPath(p, mounts)
		} else if d := t.BySource(p, resolve); d != nil {
			item.Device = d.Name
		}
		out = append(out, item)
	}
	return out, nil
}

// deviceOfPath finds the mount holding a file: the longest mount point
// that is a prefix of its path.
func deviceOfPath(p string, mounts []Mount) string {
	best, dev := -1, ""
	for _, m := range mounts {
		for _, mp := range m.Points {
			if (p == mp || strings.HasPrefix(p, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
				best, dev = len(mp), m.Device
			}
		}
	}
	return dev
}

// liveResolve follows /dev symlinks (by-uuid, by-label, mapper) on the
// running system.
func liveResolve(src string) string {
	if !strings.HasPrefix(src, "/dev/") {
		return ""
	}
	r, err := filepath.EvalSymlinks(src)
	if err != nil {
		return ""
	}
	return r
}
