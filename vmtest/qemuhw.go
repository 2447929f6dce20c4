//go:build vmtest

package vmtest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// userNet is the address plan of qemu's user network: net=, host=,
// dhcpstart=, and FileAddr, the address in it where the guest reaches the
// host's file server (10.0.2.100 by default).
type userNet struct {
	Net, Host, DHCPStart, FileAddr string
}

// scsiDisk is a blank scsi-hd with the INQUIRY strings and the page 0x80
// serial and page 0x83 device id it presents.
type scsiDisk struct {
	ID, Vendor, Product, Serial, DeviceID string
	SizeMiB                               int64
}

// nvmeDisk is a blank NVMe controller with one namespace.
type nvmeDisk struct {
	ID, Serial string
	SizeMiB    int64
}

// fileAddr is where the guest reaches the host's file server.
func (c vmConfig) fileAddr() string {
	if c.Net != nil && c.Net.FileAddr != "" {
		return c.Net.FileAddr
	}
	return guestFwdAddr
}

// extraDisks are the qemu options of the SCSI and NVMe disks, their images
// created in dir.
func (c vmConfig) extraDisks(t *testing.T, dir string) []string {
	t.Helper()
	var args []string
	blank := func(id string, mib int64) string {
		p := filepath.Join(dir, id+".img")
		if err := os.Truncate(createFile(t, p), mib<<20); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if len(c.SCSI) > 0 {
		args = append(args, "-device", "virtio-scsi-pci,id=scsi0")
	}
	for _, d := range c.SCSI {
		args = append(args, "-drive", "if=none,id="+d.ID+",format=raw,file="+blank(d.ID, d.SizeMiB),
			"-device", fmt.Sprintf("scsi-hd,bus=scsi0.0,drive=%s,vendor=%s,product=%s,serial=%s,device_id=%s", d.ID, d.Vendor, d.Product, d.Serial, d.DeviceID))
	}
	for _, d := range c.NVMe {
		args = append(args, "-drive", "if=none,id="+d.ID+",format=raw,file="+blank(d.ID, d.SizeMiB),
			"-device", "nvme,drive="+d.ID+",serial="+d.Serial)
	}
	if len(c.SMBIOS) > 0 {
		keys := make([]string, 0, len(c.SMBIOS))
		for k := range c.SMBIOS {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		s := "type=1"
		for _, k := range keys {
			s += "," + k + "=" + c.SMBIOS[k]
		}
		args = append(args, "-smbios", s)
	}
	return args
}
