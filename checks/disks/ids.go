package disks

import (
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"
)

// byIDDir holds udev's stable disk names: scsi-0SCW_b_ssd_volume-<uuid>,
// nvme-<model>_<serial>, virtio-<serial>...
const byIDDir = "/dev/disk/by-id"

// maxLinks bounds how many by-id links one device keeps.
const maxLinks = 64

// readByID maps device names ("sda") to the names of their by-id links.
// Only the links' text is read: none is followed. A missing directory (a
// captured tree without one, a host without udev) gives nothing.
func readByID(ctx context.Context, env *host.Env) map[string][]string {
	ents, err := env.FS().ReadDir(ctx, byIDDir, hostfs.Spec{})
	if err != nil {
		return nil
	}
	dir := env.Path(byIDDir)
	out := map[string][]string{}
	for _, e := range ents {
		if e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		dev := path.Base(target)
		if len(out[dev]) < maxLinks {
			out[dev] = append(out[dev], e.Name())
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// fullID is one identifier a disk carries, and where it was read.
type fullID struct{ ID, From string }

// FullIDs lists the whole identifiers a disk carries, where the kernel or
// udev shows them: the wwid's fields, the text designators of VPD page
// 0x83, the id part of its by-id links (after the last "_",
// scsi-0SCW_b_ssd_volume-<uuid>), and its serial. On a SCSI disk the serial
// (page 0x80) may be cut: qemu keeps 36 characters of
// volume-<uuid>.
func (d *Device) FullIDs() []fullID {
	var out []fullID
	seen := map[string]bool{}
	add := func(id, from string) {
		if id == "" || seen[id+"\x00"+from] {
			return
		}
		seen[id+"\x00"+from] = true
		out = append(out, fullID{id, from})
	}
	for _, f := range strings.Fields(d.WWID) {
		add(f, "wwid")
	}
	for _, s := range d.VPDIDs {
		add(s, "vpd_pg83")
	}
	for _, l := range d.Links {
		i := strings.LastIndexByte(l, '_')
		add(l[i+1:], "/dev/disk/by-id/"+l)
	}
	add(d.Serial, "serial")
	return out
}

// matchVolume finds the identifier of a disk that names a metadata volume
// whole: "volume-<uuid>" or the bare uuid, never a prefix of it.
func (d *Device) matchVolume(volumeID string) (fullID, bool) {
	if volumeID == "" {
		return fullID{}, false
	}
	for _, id := range d.FullIDs() {
		if id.ID == volumeID || id.ID == "volume-"+volumeID {
			return id, true
		}
	}
	return fullID{}, false
}
