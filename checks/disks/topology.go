// Package disks checks encryption at rest inside the guest: the seed makes
// data encryption the customer's duty, and for health data requires local
// and scratch storage to be encrypted. For every mounted filesystem and
// every active swap it walks the block device stack from sysfs down to the
// physical disks and asks whether some layer is dm-crypt.
package disks

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/vigie-agent/vigie/host/hostfs"
)

// Device is one block device as sysfs shows it.
type Device struct {
	Name      string // vda1, dm-0, md0, nvme0n1
	MajMin    string // "254:1"
	Partition bool
	Lower     []string // devices this one is built on: slaves, or the disk of a partition
	Upper     []string // devices built on this one: holders and partitions
	DMName    string
	DMUUID    string
	MDLevel   string
	Vendor    string
	Model     string
	Serial    string
	WWID      string   // device/wwid: "t10.SCW     b_ssd           volume-...", "naa.6..."
	VPDIDs    []string // the text identifiers of VPD page 0x83 (device/vpd_pg83)
	Links     []string // names of its /dev/disk/by-id links
	Removable bool
	SizeBytes int64
}

// Layer names what a device adds to the stack, for evidence.
func (d *Device) Layer() string {
	switch {
	case strings.HasPrefix(d.DMUUID, "CRYPT-"):
		kind, _, _ := strings.Cut(strings.TrimPrefix(d.DMUUID, "CRYPT-"), "-")
		return "dm-crypt " + kind
	case strings.HasPrefix(d.DMUUID, "LVM-"):
		return "LVM"
	case strings.HasPrefix(d.DMUUID, "mpath-"):
		return "multipath"
	case d.DMUUID != "" || strings.HasPrefix(d.Name, "dm-"):
		return "device-mapper"
	case d.MDLevel != "":
		return "md " + d.MDLevel
	case d.Partition:
		return "partition"
	case strings.HasPrefix(d.Name, "loop"):
		return "loop"
	}
	return "disk"
}

// encryptingKinds are the dm-crypt targets that encrypt data. CRYPT-SUBDEV
// (the dm-integrity device under an authenticated LUKS2 volume), VERITY and
// INTEGRITY protect integrity only: they do not count.
var encryptingKinds = map[string]bool{"LUKS1": true, "LUKS2": true, "PLAIN": true, "BITLK": true, "TCRYPT": true, "LOOPAES": true}

// Encrypts reports whether this device itself encrypts what is written to
// it.
func (d *Device) Encrypts() bool {
	if !strings.HasPrefix(d.DMUUID, "CRYPT-") {
		return false
	}
	kind, _, _ := strings.Cut(strings.TrimPrefix(d.DMUUID, "CRYPT-"), "-")
	return encryptingKinds[kind]
}

// Topology is every block device of the host.
type Topology struct {
	Devices  map[string]*Device
	byMajMin map[string]string
	byDMName map[string]string
	ctx      context.Context // while reading
}

const maxAttr = 4096

// maxVPD fits any VPD page: a 4-byte header and up to 0xffff bytes.
const maxVPD = 4 + 0xffff

func (t *Topology) readRaw(dir, name string, max int64) []byte {
	b, err := hostfs.ReadFile(t.ctx, filepath.Join(dir, name), hostfs.Spec{Max: max})
	if err != nil {
		return nil
	}
	return b
}

func (t *Topology) readAttr(dir, name string) string {
	b, err := hostfs.ReadFile(t.ctx, filepath.Join(dir, name), hostfs.Spec{Max: maxAttr})
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ReadTopology reads /sys/class/block (sysDir is the sysfs mount): every
// disk, partition, device-mapper and md device, and the links between
// them.
func ReadTopology(ctx context.Context, sysDir string) (*Topology, error) {
	classDir := filepath.Join(sysDir, "class", "block")
	ents, err := os.ReadDir(classDir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", classDir, err)
	}
	t := &Topology{Devices: map[string]*Device{}, byMajMin: map[string]string{}, byDMName: map[string]string{}, ctx: ctx}
	for _, e := range ents {
		name := e.Name()
		dir, err := filepath.EvalSymlinks(filepath.Join(classDir, name))
		if err != nil {
			continue // vanished, or a link out of a captured tree
		}
		d := &Device{Name: name, MajMin: t.readAttr(dir, "dev")}
		if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
			d.Partition = true
			d.Lower = append(d.Lower, filepath.Base(filepath.Dir(dir)))
		}
		d.Lower = append(d.Lower, linkNames(filepath.Join(dir, "slaves"))...)
		d.DMName = t.readAttr(dir, "dm/name")
		d.DMUUID = t.readAttr(dir, "dm/uuid")
		d.MDLevel = t.readAttr(dir, "md/level")
		d.Vendor = t.readAttr(dir, "device/vendor")
		d.Model = t.readAttr(dir, "device/model")
		d.Serial = cmp.Or(t.readAttr(dir, "serial"), t.readAttr(dir, "device/serial"))
		// The kernel gives a SCSI disk's wwid only for NAA, EUI-64, T10 and
		// SCSI name designators (EINVAL otherwise): page 0x83 itself has
		// them all.
		d.WWID = t.readAttr(dir, "device/wwid")
		d.VPDIDs = vpdIDs(t.readRaw(dir, "device/vpd_pg83", maxVPD))
		d.Removable = t.readAttr(dir, "removable") == "1"
		if n, err := strconv.ParseInt(t.readAttr(dir, "size"), 10, 64); err == nil {
			d.SizeBytes = n * 512
		}
		t.Devices[name] = d
		if d.MajMin != "" {
			t.byMajMin[d.MajMin] = name
		}
		if d.DMName != "" {
			t.byDMName[d.DMName] = name
		}
	}
	for _, d := range t.Devices {
		for _, l := range d.Lower {
			if ld := t.Devices[l]; ld != nil {
				ld.Upper = append(ld.Upper, d.Name)
			}
		}
	}
	for _, d := range t.Devices {
		sort.Strings(d.Upper)
	}
	return t, nil
}

func linkNames(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil // no slaves directory: a device built on nothing
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// ByMajMin finds a device by its "MAJ:MIN" number.
func (t *Topology) ByMajMin(mm string) *Device { return t.Devices[t.byMajMin[mm]] }

// BySource finds the device a mount or swap source names: /dev/NAME,
// /dev/mapper/NAME, /dev/md/NAME. resolve, when not nil, follows /dev
// symlinks on the live system (by-uuid, by-label).
func (t *Topology) BySource(src string, resolve func(string) string) *Device {
	if resolve != nil {
		if r := resolve(src); r != "" {
			src = r
		}
	}
	switch {
	case strings.HasPrefix(src, "/dev/mapper/"):
		return t.Devices[t.byDMName[strings.TrimPrefix(src, "/dev/mapper/")]]
	case strings.HasPrefix(src, "/dev/"):
		return t.Devices[strings.TrimPrefix(src, "/dev/")]
	}
	return nil
}

// Encrypted reports whether everything written to d goes through dm-crypt:
// d encrypts, or every device it is built on is encrypted.
func (t *Topology) Encrypted(name string) bool { return t.encrypted(name, 0) }

func (t *Topology) encrypted(name string, depth int) bool {
	d := t.Devices[name]
	if d == nil || depth > 32 {
		return false
	}
	if d.Encrypts() {
		return true
	}
	if len(d.Lower) == 0 {
		return false
	}
	for _, l := range d.Lower {
		if !t.encrypted(l, depth+1) {
			return false
		}
	}
	return true
}

// Disks returns the physical disks under a device: the bottom of its
// stack.
func (t *Topology) Disks(name string) []*Device {
	seen := map[string]bool{}
	var out []*Device
	var walk func(string, int)
	walk = func(n string, depth int) {
		d := t.Devices[n]
		if d == nil || seen[n] || depth > 32 {
			return
		}
		seen[n] = true
		if len(d.Lower) == 0 {
			out = append(out, d)
			return
		}
		for _, l := range d.Lower {
			walk(l, depth+1)
		}
	}
	walk(name, 0)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Chain describes the stack from a device down, e.g.
// "dm-1 (LVM vg0-srv) > dm-0 (dm-crypt LUKS2 cryptdata) > vdc (disk)".
func (t *Topology) Chain(name string) string { return t.chain(name, 0) }

func (t *Topology) chain(name string, depth int) string {
	d := t.Devices[name]
	if d == nil || depth > 32 {
		return name
	}
	s := d.Name + " (" + d.Layer()
	if d.DMName != "" {
		s += " " + d.DMName
	}
	s += ")"
	switch len(d.Lower) {
	case 0:
		return s
	case 1:
		return s + " > " + t.chain(d.Lower[0], depth+1)
	}
	var parts []string
	for _, l := range d.Lower {
		parts = append(parts, t.chain(l, depth+1))
	}
	return s + " > [" + strings.Join(parts, " + ") + "]"
}
