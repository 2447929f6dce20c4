//go:build vmtest

package vmtest

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The volumes of the Scaleway-like guest: their ids are in the metadata
// fixture vmtest/testdata/scaleway/dev1-s-fr-par-1.json.
const (
	scwLocalVolume = "volume-63c4923f-42b5-4ec2-8bf2-e3ea49738f40" // l_ssd
	scwBlockVolume = "volume-a5529ffb-d461-4051-bd3a-e81e5399fa06" // b_ssd
	scwScratchNVMe = "scw-scratch-0"
	scwDEV1ID      = "9e92d89a-645e-49e9-aa5f-a6b248b758a9"
	scwGPUID       = "05230342-ffaf-46fe-a9dd-7159a4c3381e"
	scwMetadataIP  = "169.254.42.42"
	// scwSecurityGroup is the security group both fixtures name.
	scwSecurityGroup = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
	scwSlowAnswer    = 300 * time.Millisecond
)

// TestScaleway: one Debian 12 guest that looks like a Scaleway DEV1-S from
// inside: DMI vendor Scaleway, product DEV1-S (-smbios); besides the
// harness's virtio root, a SCSI l_ssd volume and a SCSI b_ssd volume
// (vendor SCW, serial and page 0x83 device id volume-<uuid>) and an NVMe
// scratch disk, each with an unencrypted ext4 mounted; the metadata API at
// its real address 169.254.42.42:80 (the user network is 169.254.0.0/16;
// guestfwd runs socat per connection to one persistent server on the
// host's loopback, whose answer and delay the test switches). vigie runs
// with its default configuration: no metadata_url.
//
//  1. With VIGIE_DISKS_CAPTURE=DIR, the disk tree is captured into DIR
//     (checks/disks/testdata/capture/capture.sh: checks/disks/testdata/scw-guest).
//  2. A stand-in answering after 300 ms, DEV1-S in fr-par-1 with an
//     ED25519 and an RSA project key: ten `vigie check --json` in a row
//     each report host.cloud (server id, zone, commercial type, security
//     group, public IPv4), classify the l_ssd disk local and the b_ssd
//     disk block by their whole ids, and fail ssh.provider-keys naming
//     rsa-project-key; `--profile hds` passes hds.zone and fails hds.offer.
//  3. A stand-in answering at once: three runs judge the same.
//  4. The same metadata with the ED25519 key only: ssh.provider-keys passes.
//  5. An H100-1-80G in nl-ams-1 whose metadata lists scratch storage,
//     answering after 300 ms: the NVMe disk is scratch, the SCSI disks
//     (not in its volumes) are classified by their model; `--profile hds`
//     fails hds.zone and passes hds.offer.
//  6. Control: the rules of 2, 4 and 5 again with scaleway.metadata_timeout
//     10s, so that a failure of the default configuration's runs that is
//     only the metadata deadline shows as one.
func TestScaleway(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		t.Fatal("socat not found: run vmtest/ci-deps.sh")
	}
	md := newMetadataStandIn(t)
	md.set(t, "dev1-s-fr-par-1.json", nil, 0)
	start := time.Now()
	g := bootGuest(t, "scaleway", "packaging/cloud-init/binary.yaml", binaryPlaceholder, artifact(t, "VIGIE_BINARY", "bin/vigie"),
		vmConfig{
			Suite: bookworm,
			// Debian 12's ifupdown and dhclient take a lease in
			// 169.254.0.0/16; systemd-networkd (Debian 13) treats the
			// range as IPv4 link-local.
			Net:         &userNet{Net: "169.254.0.0/16", Host: "169.254.0.2", DHCPStart: "169.254.0.15", FileAddr: "169.254.0.100"},
			GuestFwdCmd: map[string]string{scwMetadataIP + ":80": "socat - TCP:" + md.addr},
			SMBIOS:      map[string]string{"manufacturer": "Scaleway", "product": "DEV1-S"},
			SCSI: []scsiDisk{
				{ID: "lssd", Vendor: "SCW", Product: "l_ssd", Serial: scwLocalVolume, DeviceID: scwLocalVolume, SizeMiB: 128},
				{ID: "bssd", Vendor: "SCW", Product: "b_ssd", Serial: scwBlockVolume, DeviceID: scwBlockVolume, SizeMiB: 128},
			},
			NVMe: []nvmeDisk{{ID: "scratch", Serial: scwScratchNVMe, SizeMiB: 128}},
		})
	t.Logf("timings: boot %s", time.Since(start).Round(time.Second))
	sh := func(cmd string) string {
		t.Helper()
		return g.sh(cmd, nil)
	}
	const vigie = "/usr/local/bin/vigie"

	// The disks, by the names udev gives them.
	phase := time.Now()
	lssd := strings.TrimSpace(sh("readlink -f /dev/disk/by-id/scsi-0SCW_l_ssd_" + scwLocalVolume))
	bssd := strings.TrimSpace(sh("readlink -f /dev/disk/by-id/scsi-0SCW_b_ssd_" + scwBlockVolume))
	nvme := strings.TrimSpace(sh("lsblk -dno NAME,SERIAL | awk '$2 == \"" + scwScratchNVMe + "\" {print $1}'"))
	if !strings.HasPrefix(lssd, "/dev/sd") || !strings.HasPrefix(bssd, "/dev/sd") || !strings.HasPrefix(nvme, "nvme") {
		t.Fatalf("disks: l_ssd %q, b_ssd %q, NVMe %q\n%s", lssd, bssd, nvme, sh("ls -l /dev/disk/by-id/; lsblk"))
	}
	t.Logf("disks: l_ssd %s, b_ssd %s, NVMe /dev/%s; DMI %s", lssd, bssd, nvme, strings.TrimSpace(sh("cat /sys/class/dmi/id/sys_vendor /sys/class/dmi/id/product_name | paste -sd' '")))
	for dev, mnt := range map[string]string{lssd: "/mnt/local", bssd: "/mnt/block", "/dev/" + nvme: "/scratch"} {
		sh("sudo mkfs.ext4 -q -F " + dev + " && sudo mkdir -p " + mnt + " && sudo mount " + dev + " " + mnt)
	}
	sh("sudo udevadm settle --timeout=60")
	captureDisks(t, g)
	t.Logf("timings: disks set up %s", time.Since(phase).Round(time.Second))
	lname, bname := filepath.Base(lssd), filepath.Base(bssd)

	dev1 := func(where string, rep report) {
		t.Helper()
		checkCloud(t, where, rep, scwDEV1ID, "fr-par-1", "DEV1-S")
		checkDiskClass(t, where, rep, "disks.local-encrypted", lname, "local: metadata volume 63c4923f-42b5-4ec2-8bf2-e3ea49738f40 is l_ssd ("+scwLocalVolume)
		checkDiskClass(t, where, rep, "disks.block-encrypted", bname, "block: metadata volume a5529ffb-d461-4051-bd3a-e81e5399fa06 is b_ssd ("+scwBlockVolume)
		checkStatus(t, where, rep, "disks.local-encrypted", "fail", "filesystem /mnt/local on local")
		checkStatus(t, where, rep, "disks.block-encrypted", "fail", "filesystem /mnt/block on block")
	}
	dev1HDS := func(where string, rep report) {
		t.Helper()
		checkCloud(t, where, rep, scwDEV1ID, "fr-par-1", "DEV1-S")
		checkStatus(t, where, rep, "hds.zone", "pass", "fr-par-1")
		checkStatus(t, where, rep, "hds.offer", "fail", "DEV1")
	}
	gpuHDS := func(where string, rep report) {
		t.Helper()
		checkCloud(t, where, rep, scwGPUID, "nl-ams-1", "H100-1-80G")
		checkStatus(t, where, rep, "hds.zone", "fail", "nl-ams-1")
		checkStatus(t, where, rep, "hds.offer", "pass", "H100-1-80G")
		checkDiskClass(t, where, rep, "disks.scratch-encrypted", nvme, "scratch: NVMe disk on an instance whose metadata lists scratch storage")
		checkStatus(t, where, rep, "disks.scratch-encrypted", "fail", "filesystem /scratch on scratch")
		checkDiskClass(t, where, rep, "disks.local-encrypted", lname, "local: SCSI vendor SCW, model l_ssd: a Scaleway local volume")
		checkDiskClass(t, where, rep, "disks.block-encrypted", bname, "block: SCSI vendor SCW, model b_ssd: a Scaleway block volume")
	}
	ed25519Only := func(m map[string]any) {
		keys, _ := m["ssh_public_keys"].([]any)
		var kept []any
		for _, k := range keys {
			if km, _ := k.(map[string]any); km != nil && strings.HasPrefix(km["key"].(string), "ssh-ed25519 ") {
				kept = append(kept, k)
			}
		}
		m["ssh_public_keys"] = kept
	}
	logPhase := func(what string, phase time.Time, hits int64) {
		t.Helper()
		t.Logf("timings: %s %s (%d metadata requests)", what, time.Since(phase).Round(time.Second), md.hits.Load()-hits)
	}

	// A metadata service slower than a single 200 ms attempt, as a loaded
	// instance at first boot has it: ten runs in a row, then the hds
	// profile, all with the default configuration.
	phase, hits := time.Now(), md.hits.Load()
	md.set(t, "dev1-s-fr-par-1.json", nil, scwSlowAnswer)
	for i, rep := range guestChecks(t, g, vigie+" check --json", 10) {
		where := "slow DEV1-S run " + strconv.Itoa(i+1)
		dev1(where, rep)
		checkProviderKeys(t, where, rep, "fail", "rsa-project-key")
	}
	logPhase("10 checks, slow stand-in", phase, hits)
	phase, hits = time.Now(), md.hits.Load()
	if rep, ok := guestCheck(t, g.port, g.key, vigie+" check --profile hds --json"); ok {
		dev1HDS("hds DEV1-S, slow stand-in", rep)
	}
	logPhase("hds profile, DEV1-S, slow stand-in", phase, hits)

	// A fast one: three runs.
	phase, hits = time.Now(), md.hits.Load()
	md.set(t, "dev1-s-fr-par-1.json", nil, 0)
	for i, rep := range guestChecks(t, g, vigie+" check --json", 3) {
		dev1("fast DEV1-S run "+strconv.Itoa(i+1), rep)
	}
	logPhase("3 checks, fast stand-in", phase, hits)

	// The same instance with its ED25519 project key only.
	phase, hits = time.Now(), md.hits.Load()
	md.set(t, "dev1-s-fr-par-1.json", ed25519Only, 0)
	if rep, ok := guestCheck(t, g.port, g.key, vigie+" check --json"); ok {
		checkCloud(t, "ED25519-only DEV1-S", rep, scwDEV1ID, "fr-par-1", "DEV1-S")
		checkProviderKeys(t, "ED25519-only DEV1-S", rep, "pass", "")
	}
	logPhase("ED25519-only keys", phase, hits)

	// A GPU instance outside France, with scratch storage, its metadata
	// slow too.
	phase, hits = time.Now(), md.hits.Load()
	md.set(t, "h100-1-80g-nl-ams-1.json", nil, scwSlowAnswer)
	if rep, ok := guestCheck(t, g.port, g.key, vigie+" check --profile hds --json"); ok {
		gpuHDS("hds H100", rep)
	}
	logPhase("hds profile, H100", phase, hits)

	// Control: the same rules with a metadata deadline that a relay
	// under TCG meets (scaleway.metadata_timeout, the address still the
	// default one), so that a failure above that is only the deadline
	// shows as such.
	phase, hits = time.Now(), md.hits.Load()
	const conf = "/etc/vigie-scw-control.yaml"
	sh(`printf 'scaleway:\n  metadata_timeout: 10s\n' | sudo tee ` + conf)
	md.set(t, "dev1-s-fr-par-1.json", nil, scwSlowAnswer)
	if rep, ok := guestCheck(t, g.port, g.key, vigie+" check --json --config "+conf); ok {
		dev1("control DEV1-S", rep)
	}
	if rep, ok := guestCheck(t, g.port, g.key, vigie+" check --profile hds --json --config "+conf); ok {
		dev1HDS("control hds DEV1-S", rep)
	}
	md.set(t, "h100-1-80g-nl-ams-1.json", nil, 0)
	if rep, ok := guestCheck(t, g.port, g.key, vigie+" check --profile hds --json --config "+conf); ok {
		gpuHDS("control hds H100", rep)
	}
	logPhase("control runs, metadata_timeout 10s", phase, hits)
}

// metadataStandIn is the metadata API on the host's loopback: one server
// for the whole test, its answer and delay switched between runs.
type metadataStandIn struct {
	addr  string
	hits  atomic.Int64
	mu    sync.Mutex
	body  []byte
	delay time.Duration
}

func newMetadataStandIn(t *testing.T) *metadataStandIn {
	t.Helper()
	m := &metadataStandIn{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.addr = l.Addr().String()
	srv := &http.Server{ReadHeaderTimeout: 30 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.hits.Add(1)
		m.mu.Lock()
		body, delay := m.body, m.delay
		m.mu.Unlock()
		time.Sleep(delay)
		if r.URL.Path != "/conf" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return m
}

// set serves a fixture of testdata/scaleway, edited by edit when not nil,
// after delay.
func (m *metadataStandIn) set(t *testing.T, fixture string, edit func(map[string]any), delay time.Duration) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "scaleway", fixture))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		edit(v)
		if body, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	m.mu.Lock()
	m.body, m.delay = body, delay
	m.mu.Unlock()
}

// guestChecks runs a check n times in a row in one session and decodes each
// report (exit status 1 expected).
func guestChecks(t *testing.T, g *guest, args string, n int) []report {
	t.Helper()
	out := g.sh("for i in $(seq "+strconv.Itoa(n)+"); do sudo "+args+" >/tmp/vigie-run-$i.json; echo \"run $i exit=$?\"; done", nil)
	var reps []report
	for i := 1; i <= n; i++ {
		if !strings.Contains(out, "run "+strconv.Itoa(i)+" exit=1\n") {
			t.Errorf("%s, run %d: want exit 1\n%s", args, i, out)
		}
		raw := g.sh("sudo cat /tmp/vigie-run-"+strconv.Itoa(i)+".json", nil)
		var rep report
		if err := json.Unmarshal([]byte(raw), &rep); err != nil {
			t.Errorf("%s, run %d: decode report: %v", args, i, err)
			continue
		}
		if err := validateReport([]byte(raw)); err != nil {
			t.Errorf("%s, run %d: the report does not match the schema: %v", args, i, err)
		}
		reps = append(reps, rep)
	}
	return reps
}

// checkCloud: the report identifies the instance (server id, zone,
// commercial type) and says what the metadata says reaches it: the
// security group both fixtures name, and the public IPv4 of the one
// whose id is given.
func checkCloud(t *testing.T, where string, rep report, id, zone, commercialType string) {
	t.Helper()
	c := rep.Host.Cloud
	if c == nil || c.ServerID != id || c.Zone != zone || c.CommercialType != commercialType {
		got := "none"
		if c != nil {
			got = c.ServerID + " " + c.Zone + " " + c.CommercialType
		}
		f, _ := rep.finding("disks.local-encrypted")
		t.Errorf("%s: host.cloud %s, want %s %s %s (disks classified by: %s)", where, got, id, zone, commercialType, evidenceString(f, "", "classified_by"))
		return
	}
	ip := map[string]string{scwDEV1ID: "198.51.100.41", scwGPUID: "198.51.100.42"}[id]
	if c.SecurityGroup == nil || c.SecurityGroup.ID != scwSecurityGroup || c.SecurityGroup.Name != "Default security group" ||
		len(c.PublicIPv4) != 1 || c.PublicIPv4[0] != ip {
		t.Errorf("%s: host.cloud security group %+v, public IPv4 %v; want %s (Default security group) and %s", where, c.SecurityGroup, c.PublicIPv4, scwSecurityGroup, ip)
	}
}

func checkStatus(t *testing.T, where string, rep report, id, status, reason string) {
	t.Helper()
	if f, ok := rep.finding(id); !ok || f.Status != status || !strings.Contains(f.Reason, reason) {
		t.Errorf("%s: %s %s %q, want %s with %q", where, id, f.Status, f.Reason, status, reason)
	}
}

// checkDiskClass looks for the evidence of a disk's class in a disks
// finding.
func checkDiskClass(t *testing.T, where string, rep report, id, disk, want string) {
	t.Helper()
	f, _ := rep.finding(id)
	if got := evidenceString(f, disk, "class"); !strings.HasPrefix(got, want) {
		t.Errorf("%s: %s says of %s %q, want %q (classified by: %s)", where, id, disk, got, want, evidenceString(f, "", "classified_by"))
	}
}

// checkProviderKeys: ssh.provider-keys judges the metadata's project keys;
// a failure names the key by its comment.
func checkProviderKeys(t *testing.T, where string, rep report, status, comment string) {
	t.Helper()
	f, ok := rep.finding("ssh.provider-keys")
	if !ok {
		t.Errorf("%s: no ssh.provider-keys finding", where)
		return
	}
	ev, _ := json.Marshal(f.Evidence)
	if f.Status != status || comment != "" && !strings.Contains(f.Reason, comment) && !strings.Contains(string(ev), comment) {
		t.Errorf("%s: ssh.provider-keys %s %q, want %s naming %q (evidence %s)", where, f.Status, f.Reason, status, comment, ev)
	}
}

func evidenceString(f finding, subject, key string) string {
	for _, e := range f.Evidence {
		if e.Key == key && (subject == "" || e.Subject == subject) {
			var s string
			_ = json.Unmarshal(e.Value, &s)
			return s
		}
	}
	return ""
}

// captureDisks runs the fixture capture of checks/disks in the guest when
// VIGIE_DISKS_CAPTURE=DIR is set, and unpacks the tree into DIR/scw-guest
// (under TCG the capture takes minutes: CI does not run it).
func captureDisks(t *testing.T, g *guest) {
	t.Helper()
	dir := os.Getenv("VIGIE_DISKS_CAPTURE")
	if dir == "" {
		return
	}
	script, err := os.ReadFile(filepath.Join("..", "checks/disks/testdata/capture/capture.sh"))
	if err != nil {
		t.Fatal(err)
	}
	g.sh("sudo rm -rf /tmp/capture && sudo sh -s scw-guest /tmp/capture", script)
	info := g.sh("uname -r -v; dpkg-query -W udev util-linux e2fsprogs; lsblk -o NAME,MAJ:MIN,TYPE,FSTYPE,SIZE,MOUNTPOINTS; ls -l /dev/disk/by-id/", nil)
	t.Logf("capture: guest %s", info)
	tgz, err := base64.StdEncoding.DecodeString(strings.TrimSpace(g.sh("sudo tar -C /tmp/capture -czf - scw-guest | base64 -w0", nil)))
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("tar", "-C", dir, "-xzf", "-")
	cmd.Stdin = strings.NewReader(string(tgz))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("capture: untar: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "scw-guest.info"), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("capture: tree in %s", filepath.Join(dir, "scw-guest"))
}
