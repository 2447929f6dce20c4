package disks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/scaleway"
)

// fixtureEnv reads a tree captured in a Debian 12 guest by
// testdata/capture (see each scenario's README.md).
func fixtureEnv(t *testing.T, scenario string) *host.Env {
	t.Helper()
	root := filepath.Join("testdata", scenario)
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("fixture %s: %v", scenario, err)
	}
	return &host.Env{Root: root, Proc: filepath.Join(root, "proc"), Sys: filepath.Join(root, "sys")}
}

// itemVerdicts summarises a scenario as "kind label: encrypted/clear".
func itemVerdicts(f *Facts) []string {
	var out []string
	for _, it := range f.Items {
		v := "clear"
		if it.Encrypted {
			v = "encrypted"
		}
		out = append(out, it.Kind+" "+it.Label+": "+v)
	}
	sort.Strings(out)
	return out
}

type scenario struct {
	name    string
	items   []string                 // every item and its verdict
	chains  map[string]string        // item label -> substring of its chain
	roots   map[string][]string      // item label -> the filesystem directories its mounts show
	status  map[string]checks.Status // check id -> verdict
	scratch []string
}

var scenarios = []scenario{
	{
		name:  "plain",
		items: []string{"filesystem /: clear", "filesystem /data: clear", "swap /dev/vdd2: clear"},
		chains: map[string]string{
			"/data":     "vdd1 (partition) > vdd (disk)",
			"/dev/vdd2": "vdd2 (partition) > vdd (disk)",
		},
		status: map[string]checks.Status{IDLocal: checks.Fail, IDSwap: checks.Fail, IDScratch: checks.Skip, IDBlock: checks.Skip},
	},
	{
		name:   "luks2-partition",
		items:  []string{"filesystem /: clear", "filesystem /secure: encrypted"},
		chains: map[string]string{"/secure": "(dm-crypt LUKS2 luks-4826c58e-3c55-4b17-b501-bbdb04dde0eb) > "},
		status: map[string]checks.Status{IDLocal: checks.Fail, IDSwap: checks.Pass},
	},
	{
		name:   "lvm-on-luks",
		items:  []string{"filesystem /: clear", "filesystem /srv: encrypted", "swap /dev/dm-2: encrypted"},
		chains: map[string]string{"/srv": "(LVM vgcrypt-srv) > ", "/dev/dm-2": "(dm-crypt LUKS2"},
		status: map[string]checks.Status{IDLocal: checks.Fail, IDSwap: checks.Pass},
	},
	{
		name:   "luks-on-lvm",
		items:  []string{"filesystem /: clear", "filesystem /vault: encrypted", "filesystem /plainlv: clear"},
		chains: map[string]string{"/vault": "(dm-crypt LUKS2 vault_crypt) > ", "/plainlv": "(LVM vgdata-plain) > "},
		status: map[string]checks.Status{IDLocal: checks.Fail},
	},
	{
		name:   "md-raid1-luks",
		items:  []string{"filesystem /: clear", "filesystem /raid: encrypted"},
		chains: map[string]string{"/raid": "(dm-crypt LUKS2 md0_crypt) > md0 (md raid1) > ["},
		status: map[string]checks.Status{IDLocal: checks.Fail},
	},
	{
		name:   "crypt-swap",
		items:  []string{"filesystem /: clear", "swap /dev/dm-0: encrypted", "swap /dev/vde1: clear"},
		chains: map[string]string{"/dev/dm-0": "(dm-crypt PLAIN", "/dev/vde1": "vde1 (partition) > vde (disk)"},
		status: map[string]checks.Status{IDSwap: checks.Fail},
	},
	{
		name:   "nvme-scratch",
		items:  []string{"filesystem /: clear", "filesystem /scratch: clear", "filesystem /scratch2: encrypted"},
		chains: map[string]string{"/scratch": "nvme0n1 (disk)", "/scratch2": "(dm-crypt LUKS2 scratch2_crypt) > nvme1n1 (disk)"},
		// Off Scaleway, local NVMe is local storage.
		status: map[string]checks.Status{IDLocal: checks.Fail, IDScratch: checks.Skip},
	},
	{
		name:    "nvme-scratch",
		items:   []string{"filesystem /: clear", "filesystem /scratch: clear", "filesystem /scratch2: encrypted"},
		scratch: []string{"/scratch", "nvme1n1"},
		status:  map[string]checks.Status{IDScratch: checks.Fail},
	},
	{
		name:   "scw-block",
		items:  []string{"filesystem /: clear", "filesystem /mnt/block: clear"},
		chains: map[string]string{"/mnt/block": "sda (disk)"},
		status: map[string]checks.Status{IDBlock: checks.Fail, IDScratch: checks.Skip},
	},
	{
		// Off the metadata, the SCW disks are classified by their model, and
		// the NVMe disk is local storage.
		name:   "scw-guest",
		items:  []string{"filesystem /: clear", "filesystem /mnt/local: clear", "filesystem /mnt/block: clear", "filesystem /scratch: clear"},
		chains: map[string]string{"/mnt/local": "sda (disk)", "/mnt/block": "sdb (disk)", "/scratch": "nvme0n1 (disk)"},
		status: map[string]checks.Status{IDLocal: checks.Fail, IDBlock: checks.Fail, IDScratch: checks.Skip},
	},
	{
		name:   "btrfs",
		items:  []string{"filesystem /: clear", "filesystem /btr, /btr-sub: encrypted"},
		chains: map[string]string{"/btr, /btr-sub": "(dm-crypt LUKS2 btr_crypt) > "},
		roots:  map[string][]string{"/btr, /btr-sub": {"/", "/sub"}, "/": {"/"}},
		status: map[string]checks.Status{IDLocal: checks.Fail},
	},
}

// TestScalewayClassification serves the metadata fixtures from a loopback
// server: a GPU instance's NVMe disks are scratch storage, a SCSI disk
// with vendor SCW is a block volume.
func TestScalewayClassification(t *testing.T) {
	for _, tt := range []struct {
		tree, meta, id string
		status         checks.Status
		reason         string
	}{
		{"nvme-scratch", "gpu-scratch.json", IDScratch, checks.Fail, "1 of 2 scratch storage item(s) not encrypted: filesystem /scratch on scratch"},
		{"scw-block", "pro2-block.json", IDBlock, checks.Fail, "filesystem /mnt/block on block"},
	} {
		body, err := os.ReadFile(filepath.Join("testdata/metadata", tt.meta))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
		md := scaleway.NewClient(srv.URL)
		f := Gather(context.Background(), fixtureEnv(t, tt.tree), Options{Metadata: md})
		srv.Close()
		if !strings.Contains(f.ClassSource, "Scaleway metadata API") {
			t.Errorf("%s: classified by %q", tt.tree, f.ClassSource)
		}
		for _, fi := range Evaluate(f) {
			if fi.ID == tt.id && (fi.Status != tt.status || !strings.Contains(fi.Reason, tt.reason)) {
				t.Errorf("%s: %s %s %q", tt.tree, fi.ID, fi.Status, fi.Reason)
			}
		}
	}
}

// TestScalewayGuestTree: the tree captured in vmtest's Scaleway-like guest
// (a SCSI l_ssd and a SCSI b_ssd volume whose page 0x80 serial qemu cut to
// 36 characters, an NVMe disk), classified with each metadata fixture, or
// without metadata by the disks' models.
func TestScalewayGuestTree(t *testing.T) {
	const (
		local = "volume-63c4923f-42b5-4ec2-8bf2-e3ea49738f40"
		block = "volume-a5529ffb-d461-4051-bd3a-e81e5399fa06"
	)
	for _, tt := range []struct {
		meta  string            // "" for none
		class map[string]string // disk -> class
		why   map[string]string // disk -> substring of its Why
		fails map[string]string // check id -> substring of its reason
	}{
		{
			meta:  "dev1-s-scw-guest.json",
			class: map[string]string{"sda": Local, "sdb": Block, "nvme0n1": Local},
			why: map[string]string{
				"sda": "metadata volume 63c4923f-42b5-4ec2-8bf2-e3ea49738f40 is l_ssd (" + local + " from vpd_pg83)",
				"sdb": "metadata volume a5529ffb-d461-4051-bd3a-e81e5399fa06 is b_ssd (" + block + " from vpd_pg83)",
			},
			fails: map[string]string{IDLocal: "filesystem /mnt/local on local", IDBlock: "filesystem /mnt/block on block"},
		},
		{
			meta:  "h100-scw-guest.json",
			class: map[string]string{"sda": Local, "sdb": Block, "nvme0n1": Scratch},
			why:   map[string]string{"sda": "model l_ssd", "sdb": "model b_ssd", "nvme0n1": "metadata lists scratch storage"},
			fails: map[string]string{IDScratch: "filesystem /scratch on scratch", IDLocal: "filesystem /mnt/local on local", IDBlock: "filesystem /mnt/block on block"},
		},
		{
			class: map[string]string{"sda": Local, "sdb": Block, "nvme0n1": Local},
			why:   map[string]string{"sda": "model l_ssd: a Scaleway local volume", "sdb": "model b_ssd: a Scaleway block volume", "nvme0n1": "local NVMe disk"},
			fails: map[string]string{IDLocal: "filesystem /scratch on local"},
		},
	} {
		opt := Options{}
		if tt.meta != "" {
			body, err := os.ReadFile(filepath.Join("testdata/metadata", tt.meta))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
			defer srv.Close()
			opt.Metadata = scaleway.NewClient(srv.URL)
		}
		f := Gather(context.Background(), fixtureEnv(t, "scw-guest"), opt)
		if f.Err != "" {
			t.Fatal(f.Err)
		}
		got := map[string]*DiskInfo{}
		for _, d := range f.Disks {
			got[d.Name] = d
		}
		for name, class := range tt.class {
			d := got[name]
			if d == nil || d.Class != class || !strings.Contains(d.Why, tt.why[name]) {
				t.Errorf("%s: %s: %+v, want %s with %q", tt.meta, name, d, class, tt.why[name])
			}
		}
		for _, fi := range Evaluate(f) {
			if want, ok := tt.fails[fi.ID]; ok && (fi.Status != checks.Fail || !strings.Contains(fi.Reason, want)) {
				t.Errorf("%s: %s %s %q, want fail with %q", tt.meta, fi.ID, fi.Status, fi.Reason, want)
			}
		}
	}
}

// TestNoMetadataOffScaleway: a tree without the Scaleway markers never
// reaches the metadata address (the client is not forced).
func TestNoMetadataOffScaleway(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	md := scaleway.NewClient("")
	md.URL = srv.URL
	f := Gather(context.Background(), fixtureEnv(t, "nvme-scratch"), Options{Metadata: md})
	if hits != 0 || !strings.Contains(f.ClassSource, "not a Scaleway instance") {
		t.Errorf("%d requests, classified by %q", hits, f.ClassSource)
	}
}

func TestFixtureScenarios(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			f := Gather(context.Background(), fixtureEnv(t, sc.name), Options{Scratch: sc.scratch})
			if f.Err != "" {
				t.Fatal(f.Err)
			}
			if got := itemVerdicts(f); strings.Join(got, "; ") != strings.Join(sortedCopy(sc.items), "; ") {
				t.Errorf("items\n got %q\nwant %q", got, sortedCopy(sc.items))
			}
			for label, want := range sc.chains {
				found := false
				for _, it := range f.Items {
					if it.Label == label {
						found = true
						if !strings.Contains(it.Chain, want) {
							t.Errorf("%s: chain %q lacks %q", label, it.Chain, want)
						}
					}
				}
				if !found {
					t.Errorf("no item %s", label)
				}
			}
			for label, want := range sc.roots {
				for _, it := range f.Items {
					if it.Label == label && !slices.Equal(it.Roots, want) {
						t.Errorf("%s: roots %q, want %q", label, it.Roots, want)
					}
				}
			}
			for _, fi := range Evaluate(f) {
				if want, ok := sc.status[fi.ID]; ok && fi.Status != want {
					t.Errorf("%s: %s (%s), want %s", fi.ID, fi.Status, fi.Reason, want)
				}
			}
		})
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/mnt/my\040disk`: "/mnt/my disk",
		`/a\011b\012c`:    "/a\tb\nc",
		`/back\134slash`:  `/back\slash`,
		`/trailing\04`:    `/trailing\04`,
		`/not\999octal`:   `/not\999octal`,
	} {
		if got := Unescape(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func FuzzUnescape(f *testing.F) {
	f.Add(`/mnt/my\040disk`)
	f.Fuzz(func(t *testing.T, s string) {
		if got := Unescape(s); len(got) > len(s) {
			t.Fatalf("%q grew to %q", s, got)
		}
	})
}
