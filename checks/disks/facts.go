package disks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/scaleway"
)

// Disk classes.
const (
	Local     = "local"     // storage of the hypervisor the instance runs on
	Block     = "block"     // a network volume (Scaleway b_ssd, sbs_volume)
	Scratch   = "scratch"   // local NVMe whose data does not survive a stop
	Removable = "removable" // cdrom, USB, the cloud-init seed
)

// Options are the disks area's settings.
type Options struct {
	// Scratch names devices ("nvme1n1", "/dev/vdb") or mount points
	// ("/scratch") to treat as scratch storage.
	Scratch []string
	// Metadata is the shared metadata client, nil to never ask.
	Metadata *scaleway.Client
}

// DiskInfo is a physical disk and what kind of storage it is.
type DiskInfo struct {
	*Device
	Class  string
	Why    string
	Root   bool
	InUse  bool
	Header string // for a disk not in use: what its first bytes say (a LUKS header)
}

// Item is something holding data: a mounted filesystem or an active swap.
type Item struct {
	Kind      string   // filesystem or swap
	Label     string   // mount points, or the swap path
	Points    []string // mount points of a filesystem
	Roots     []string // the directories of the filesystem they show ("/" for its root)
	FSType    string   // filesystem type, or the swap type (partition, file)
	Device    string
	Encrypted bool
	Chain     string
	Disks     []*DiskInfo
}

// Classes returns the classes of the disks under the item.
func (it Item) Classes() map[string]bool {
	out := map[string]bool{}
	for _, d := range it.Disks {
		out[d.Class] = true
	}
	return out
}

// Facts is what the disks rules need.
type Facts struct {
	Topology    *Topology
	Err         string
	Items       []Item
	Disks       []*DiskInfo
	ClassSource string // how disks were classified
	// Image is the swap an image's files enable at boot (host.Env.Image),
	// where sysfs and the mounts are not the image's and are not read.
	Image *ImageSwap
}

// Gather reads block devices, mounts and swaps, and classifies the disks.
func Gather(ctx context.Context, env *host.Env, opt Options) *Facts {
	f := &Facts{}
	if env.Image {
		f.Err = "not read on an image: the disks an instance uses are known only on the instance"
		f.Image = readImageSwap(ctx, env)
		return f
	}
	t, err := ReadTopology(ctx, env.Sys)
	if err != nil {
		f.Err = err.Error()
		return f
	}
	f.Topology = t
	for name, links := range readByID(ctx, env) {
		if d := t.Devices[name]; d != nil {
			d.Links = links
		}
	}
	var resolve func(string) string
	if env.Live() {
		resolve = liveResolve
	}
	mounts, err := readMounts(env.Proc, t, resolve)
	if err != nil {
		f.Err = err.Error()
		return f
	}
	swaps, err := readSwaps(env.Proc, t, mounts, resolve)
	if err != nil {
		f.Err = err.Error()
		return f
	}

	var md *scaleway.Metadata
	if opt.Metadata != nil {
		md, err = opt.Metadata.Get(ctx, env)
	}
	switch {
	case md != nil:
		f.ClassSource = "Scaleway metadata API (" + md.CommercialType + " in " + md.ZoneName() + ") and sysfs"
	case opt.Metadata != nil && err != nil && !errors.Is(err, scaleway.ErrNotScaleway):
		f.ClassSource = "sysfs heuristics: the metadata API did not answer (" + err.Error() + ")"
	default:
		f.ClassSource = "sysfs heuristics (not a Scaleway instance)"
	}
	scratch := map[string]bool{}
	for _, s := range opt.Scratch {
		scratch[strings.TrimPrefix(s, "/dev/")] = true
		scratch[s] = true
	}
	disks := map[string]*DiskInfo{}
	diskOf := func(d *Device) *DiskInfo {
		if di := disks[d.Name]; di != nil {
			return di
		}
		di := &DiskInfo{Device: d}
		di.Class, di.Why = classify(d, md, scratch)
		disks[d.Name] = di
		return di
	}
	for _, m := range mounts {
		it := Item{Kind: "filesystem", Label: strings.Join(m.Points, ", "), Points: m.Points, Roots: m.Roots, FSType: m.FSType, Device: m.Device}
		f.Items = append(f.Items, f.fill(it, diskOf, m.Points, scratch))
	}
	for _, s := range swaps {
		f.Items = append(f.Items, f.fill(Item{Kind: "swap", Label: s.Path, FSType: s.Type, Device: s.Device}, diskOf, nil, scratch))
	}
	for _, name := range sortedNames(t) {
		d := t.Devices[name]
		if len(d.Lower) == 0 && !strings.HasPrefix(name, "loop") && !strings.HasPrefix(name, "ram") && !strings.HasPrefix(name, "zram") {
			diskOf(d)
		}
	}
	for _, di := range disks {
		if !di.InUse && resolve != nil {
			di.Header = luksOf(ctx, di.Name)
		}
		f.Disks = append(f.Disks, di)
	}
	sortDisks(f.Disks)
	return f
}

// fill resolves an item's stack and disks.
func (f *Facts) fill(it Item, diskOf func(*Device) *DiskInfo, points []string, scratch map[string]bool) Item {
	t := f.Topology
	if it.Device == "" {
		it.Chain = "device not found in sysfs"
		return it
	}
	it.Encrypted = t.Encrypted(it.Device)
	it.Chain = t.Chain(it.Device)
	markScratch := false
	for _, p := range points {
		markScratch = markScratch || scratch[p]
	}
	for _, d := range t.Disks(it.Device) {
		di := diskOf(d)
		di.InUse = true
		if markScratch && di.Class != Scratch {
			di.Class, di.Why = Scratch, "disks.scratch lists "+strings.Join(points, ", ")
		}
		for _, p := range points {
			if p == "/" {
				di.Root = true
			}
		}
		it.Disks = append(it.Disks, di)
	}
	return it
}

// classify says what kind of storage a physical disk is, and why.
func classify(d *Device, md *scaleway.Metadata, scratch map[string]bool) (string, string) {
	switch {
	case scratch[d.Name]:
		return Scratch, "disks.scratch lists it"
	case strings.HasPrefix(d.Name, "sr") || d.Removable:
		return Removable, "removable medium"
	}
	if md != nil {
		for _, v := range md.SortedVolumes() {
			if id, ok := d.matchVolume(v.ID); ok {
				return volumeClass(v.VolumeType), "metadata volume " + v.ID + " is " + v.VolumeType + " (" + id.ID + " from " + id.From + ")"
			}
		}
		if strings.HasPrefix(d.Name, "nvme") && hasVolumeType(md, "scratch") {
			return Scratch, "NVMe disk on an instance whose metadata lists scratch storage"
		}
	}
	if strings.EqualFold(d.Vendor, "SCW") {
		return scwModelClass(d.Model)
	}
	if strings.HasPrefix(d.Name, "nvme") {
		return Local, "local NVMe disk"
	}
	return Local, "disk attached to the instance"
}

// scwModelClass reads the model of a SCSI disk of vendor SCW: l_ssd is a
// local volume, b_ssd and sbs_* block volumes. A model vigie does not know
// counts as local storage, whose check is the stricter.
func scwModelClass(model string) (string, string) {
	m := strings.ToLower(strings.TrimSpace(model))
	switch {
	case m == "l_ssd":
		return Local, "SCSI vendor SCW, model l_ssd: a Scaleway local volume"
	case m == "b_ssd" || strings.HasPrefix(m, "sbs_"):
		return Block, "SCSI vendor SCW, model " + m + ": a Scaleway block volume"
	}
	return Local, fmt.Sprintf("SCSI vendor SCW, unknown model %q (not l_ssd, b_ssd or sbs_*): counted as local storage, the stricter check", model)
}

func volumeClass(t string) string {
	switch t {
	case "b_ssd", "sbs_volume", "sbs_snapshot":
		return Block
	case "scratch":
		return Scratch
	}
	return Local
}

func hasVolumeType(md *scaleway.Metadata, t string) bool {
	for _, v := range md.Volumes {
		if v.VolumeType == t {
			return true
		}
	}
	return false
}
