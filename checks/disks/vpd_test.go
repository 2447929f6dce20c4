package disks

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/internal/fuzzseed"

	"github.com/vigie-agent/vigie/host"
)

// page83 builds a VPD page 0x83 from descriptors given as header bytes
// (code set, association and type) and a designator.
func page83(descs ...[]byte) []byte {
	var body []byte
	for _, d := range descs {
		body = append(body, d...)
	}
	return append([]byte{0, 0x83, byte(len(body) >> 8), byte(len(body))}, body...)
}

func desc(codeSet, assocType byte, v string) []byte {
	return append([]byte{codeSet, assocType, 0, byte(len(v))}, v...)
}

const fullVolume = "volume-3f9e1b2a-0000-4c1d-8e2f-aaaaaaaaaaaa"

func TestVPDIDs(t *testing.T) {
	naa := append([]byte{0x01, 0x03, 0, 8}, 0x60, 0x01, 0x40, 0x5f, 0xab, 0xcd, 0xef, 0x01)
	for _, tt := range []struct {
		name string
		page []byte
		want []string
	}{
		// qemu's scsi-hd device_id: one vendor-specific ASCII designator.
		{"qemu device_id", page83(desc(2, 0x00, fullVolume)), []string{fullVolume}},
		{"T10 vendor id", page83(desc(2, 0x01, "SCW     b_ssd           "+fullVolume)), []string{"b_ssd", fullVolume}},
		{"SCSI name, NUL padded", page83(desc(3, 0x08, fullVolume+"\x00\x00\x00")), []string{fullVolume}},
		{"binary NAA beside text", page83(naa, desc(2, 0x00, fullVolume)), []string{fullVolume}},
		{"target port ignored", page83(desc(2, 0x10, "port-a"), desc(2, 0x00, fullVolume)), []string{fullVolume}},
		{"binary code set", page83(desc(1, 0x00, fullVolume)), nil},
		{"control characters", page83(desc(2, 0x00, "volume-\x1b[31m")), nil},
		{"wrong page", append([]byte{0, 0x80, 0, 4}, "abcd"...), nil},
		{"short", []byte{0, 0x83}, nil},
		// A descriptor longer than the page ends the list; the one before
		// is kept.
		{"truncated", page83(desc(2, 0x00, fullVolume), []byte{2, 0, 0, 200, 'x'}), []string{fullVolume}},
		// A page length beyond the buffer is cut to the buffer.
		{"page length lies", append([]byte{0, 0x83, 0xff, 0xff}, desc(2, 0x00, fullVolume)...), []string{fullVolume}},
	} {
		if got := vpdIDs(tt.page); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestMatchVolume(t *testing.T) {
	const uuid = "3f9e1b2a-0000-4c1d-8e2f-aaaaaaaaaaaa"
	cut := fullVolume[:36] // the page 0x80 serial as qemu cuts it
	for _, tt := range []struct {
		name string
		d    Device
		from string // "" for no match
	}{
		{"cut serial only", Device{Serial: cut}, ""},
		{"wwid", Device{Serial: cut, WWID: "t10.SCW     b_ssd           " + fullVolume}, "wwid"},
		{"page 0x83", Device{Serial: cut, VPDIDs: []string{fullVolume}}, "vpd_pg83"},
		{"by-id link", Device{Serial: cut, Links: []string{"scsi-0SCW_b_ssd_" + fullVolume}}, "/dev/disk/by-id/scsi-0SCW_b_ssd_" + fullVolume},
		{"whole serial", Device{Serial: fullVolume}, "serial"},
		{"longer id", Device{VPDIDs: []string{fullVolume + "0"}}, ""},
		{"another volume", Device{VPDIDs: []string{"volume-" + strings.Repeat("b", 36)}}, ""},
	} {
		id, ok := tt.d.matchVolume(uuid)
		if ok != (tt.from != "") || id.From != tt.from {
			t.Errorf("%s: %+v %v, want from %q", tt.name, id, ok, tt.from)
		}
	}
	if _, ok := (&Device{Serial: fullVolume}).matchVolume(""); ok {
		t.Error("an empty volume id matched")
	}
}

func TestSCWModelClass(t *testing.T) {
	for _, tt := range []struct{ model, class, why string }{
		{"l_ssd", Local, "a Scaleway local volume"},
		{"b_ssd", Block, "a Scaleway block volume"},
		{"sbs_5k", Block, "model sbs_5k: a Scaleway block volume"},
		{"SBS_VOLUME", Block, "a Scaleway block volume"},
		{"x_hdd", Local, `unknown model "x_hdd"`},
		{"", Local, `unknown model ""`},
	} {
		class, why := classify(&Device{Name: "sda", Vendor: "SCW", Model: tt.model}, nil, nil)
		if class != tt.class || !strings.Contains(why, tt.why) {
			t.Errorf("model %q: %s %q, want %s with %q", tt.model, class, why, tt.class, tt.why)
		}
	}
}

func FuzzParseVPD83(f *testing.F) {
	f.Add(page83(desc(2, 0x00, fullVolume)))
	f.Add(page83(desc(2, 0x01, "SCW     b_ssd           "+fullVolume), desc(1, 0x03, "\x60\x01\x40\x5f\xab\xcd\xef\x01")))
	f.Add([]byte{0, 0x83, 0xff, 0xff, 2, 0, 0, 0xff})
	// The pages of the captured tree, as the kernel gave them.
	fuzzseed.Files(f, "testdata/scw-guest/sys/devices/*/*/*/*/*/*/vpd_pg8[03]")
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		for _, d := range ParseVPD83(b) {
			total += vpdDescHeader + len(d.Value)
			if d.Type > 15 || d.CodeSet > 15 || d.Association > 3 {
				t.Fatalf("field out of range: %+v", d)
			}
		}
		if total > max(len(b)-vpdHeader, 0) {
			t.Fatalf("%d bytes of descriptors in a %d-byte page", total, len(b))
		}
		for _, s := range vpdIDs(b) {
			if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("identifier %q", s)
			}
		}
	})
}

// TestFullIDsFromTree reads the ids from odd sysfs and by-id trees: an
// oversized page 0x83 is not read (the wwid still is), by-id entries that
// are not links are ignored, and a link is read, never followed.
func TestFullIDsFromTree(t *testing.T) {
	root := t.TempDir()
	dev := filepath.Join(root, "sys/devices/pci0000:00/host2/target2:0:0/2:0:0:0")
	write := func(p string, b []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"sda", "sdb"} {
		write(filepath.Join(dev, "block", name, "dev"), []byte("8:0\n"))
		write(filepath.Join(dev, "vendor"), []byte("SCW     \n"))
		write(filepath.Join(dev, "model"), []byte("b_ssd           \n"))
		link("../../", filepath.Join(dev, "block", name, "device"))
		link("../../devices/pci0000:00/host2/target2:0:0/2:0:0:0/block/"+name, filepath.Join(root, "sys/class/block", name))
	}
	big := page83(desc(2, 0x00, fullVolume))
	write(filepath.Join(dev, "vpd_pg83"), append(big, make([]byte, maxVPD)...))
	write(filepath.Join(dev, "wwid"), []byte("t10.SCW     b_ssd           "+fullVolume+"\n"))
	link("../../sdb", filepath.Join(root, "dev/disk/by-id/scsi-0SCW_b_ssd_"+fullVolume))
	link("/nonexistent/sda", filepath.Join(root, "dev/disk/by-id/scsi-0SCW_b_ssd_volume-other"))
	write(filepath.Join(root, "dev/disk/by-id/not-a-link_"+fullVolume), nil)
	env := &host.Env{Root: root, Proc: filepath.Join(root, "proc"), Sys: filepath.Join(root, "sys")}

	tp, err := ReadTopology(context.Background(), env.Sys)
	if err != nil {
		t.Fatal(err)
	}
	sda := tp.Devices["sda"]
	if sda == nil || len(sda.VPDIDs) != 0 || sda.WWID == "" {
		t.Fatalf("sda: %+v, want the wwid and no page 0x83", sda)
	}
	links := readByID(context.Background(), env)
	if got := links["sdb"]; !slices.Equal(got, []string{"scsi-0SCW_b_ssd_" + fullVolume}) {
		t.Errorf("sdb links %q", got)
	}
	if got := links["sda"]; !slices.Equal(got, []string{"scsi-0SCW_b_ssd_volume-other"}) {
		t.Errorf("sda links %q", got)
	}
	if id, ok := sda.matchVolume(strings.TrimPrefix(fullVolume, "volume-")); !ok || id.From != "wwid" {
		t.Errorf("sda: %+v %v, want the wwid", id, ok)
	}
}
