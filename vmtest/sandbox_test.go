//go:build vmtest

package vmtest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// unitCapBnd is the CapBnd line of /proc/PID/status that vigie.service's
// CapabilityBoundingSet gives: CAP_DAC_READ_SEARCH (2), CAP_NET_ADMIN (12),
// CAP_NET_RAW (13), CAP_SYS_PTRACE (19), CAP_SYS_ADMIN (21).
const unitCapBnd = "0000000000283004"

// luksMagic starts every LUKS2 header: written on a blank disk, it is what
// the disks area reads through /dev to tell a disk prepared for encryption.
const luksMagic = "LUKS\xba\xbe\x00\x02"

// prepareSandboxProbe gives the disks area a block device to read before
// the service's first cycle: the LUKS2 magic at the start of the second
// scratch disk. It returns the disk's kernel name.
func prepareSandboxProbe(g *guest) string {
	g.t.Helper()
	dev := "/dev/disk/by-id/virtio-scratch2"
	g.sh("sudo dd of="+dev+" bs=8 count=1 conv=notrunc,fsync status=none", []byte(luksMagic))
	return strings.TrimPrefix(strings.TrimSpace(g.sh("readlink -f "+dev, nil)), "/dev/")
}

// checkServiceSandbox: the report of a cycle run by vigie.service, with
// the unit's sandbox really applied, says what `vigie check` run as root
// outside it says, and no area could not look because of it. The cgroup
// stayed under MemoryMax.
func checkServiceSandbox(t *testing.T, g *guest, served []finding, luksDisk string) {
	t.Helper()
	// The sandbox is live, not silently ignored.
	pid := strings.TrimSpace(g.sh("sudo systemctl show -p MainPID --value vigie", nil))
	status := g.sh("sudo grep -E '^(CapBnd|NoNewPrivs|Seccomp):' /proc/"+pid+"/status", nil)
	for _, want := range []string{"CapBnd:\t" + unitCapBnd, "NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !strings.Contains(status, want+"\n") {
			t.Errorf("vigie (pid %s) runs without %q:\n%s", pid, want, status)
		}
	}

	// Nothing refused for want of a permission, in any finding.
	for _, f := range served {
		r := strings.ToLower(f.Reason)
		if strings.Contains(r, "permission denied") || strings.Contains(r, "operation not permitted") {
			t.Errorf("%s under vigie.service: %s: %s", f.ID, f.Status, f.Reason)
		}
	}
	byArea := map[string]int{}
	for _, f := range served {
		area, _, _ := strings.Cut(f.ID, ".")
		byArea[area]++
		if f.Status == "error" && (area == "ssh" || area == "firewall" || area == "access") {
			t.Errorf("%s under vigie.service: error: %s", f.ID, f.Reason)
		}
	}
	for _, area := range []string{"ssh", "firewall", "access", "patches", "disks", "logging"} {
		if byArea[area] == 0 {
			t.Errorf("the service's report has no %s finding: %v", area, byArea)
		}
	}

	// The same statuses as a check outside the sandbox, at the same time.
	outside, ok := guestCheck(t, g.port, g.key, "/usr/bin/vigie check --json")
	if ok {
		for _, f := range served {
			o, found := outside.finding(f.ID)
			if !found || o.Status == f.Status {
				continue
			}
			if timedOut(o.Reason) || timedOut(f.Reason) {
				t.Logf("%s: %s under the service, %s outside, one of them timed out: %q / %q", f.ID, f.Status, o.Status, f.Reason, o.Reason)
				continue
			}
			t.Errorf("%s: %s under vigie.service (%s), %s outside it (%s)", f.ID, f.Status, f.Reason, o.Status, o.Reason)
		}
	}

	// The disks area read the LUKS2 magic through /dev.
	luks := false
	for _, f := range served {
		for _, e := range f.Evidence {
			var v string
			_ = json.Unmarshal(e.Value, &v)
			if strings.HasPrefix(f.ID, "disks.") && e.Subject == luksDisk && strings.HasPrefix(v, "LUKS2 header, not opened") {
				luks = true
			}
		}
	}
	if !luks {
		t.Errorf("no disks finding tells %s's LUKS2 header: the service could not read the block device", luksDisk)
	}

	// node_exporter (another user) can reach the textfile despite UMask=0077.
	for _, l := range strings.Split(strings.TrimSpace(g.sh("sudo stat -c '%a %n' /var/lib/prometheus /var/lib/prometheus/node-exporter /var/lib/prometheus/node-exporter/vigie.prom", nil)), "\n") {
		mode, name, _ := strings.Cut(l, " ")
		m, err := strconv.ParseUint(mode, 8, 32)
		want := uint64(0o005)
		if strings.HasSuffix(name, ".prom") {
			want = 0o004
		}
		if err != nil || m&want != want {
			t.Errorf("%s has mode %s: node_exporter cannot read the textfile", name, mode)
		}
	}

	// The whole cgroup, apt and sshd -T included, stayed under MemoryMax.
	props := g.sh("sudo systemctl show -p MemoryMax -p MemoryHigh -p MemoryCurrent -p TasksMax -p TasksCurrent vigie", nil)
	peak := strings.TrimSpace(g.sh("cat /sys/fs/cgroup/system.slice/vigie.service/memory.peak 2>/dev/null || sudo systemctl show -p MemoryCurrent --value vigie", nil))
	limit := prop(props, "MemoryMax")
	p, perr := strconv.ParseUint(peak, 10, 64)
	m, merr := strconv.ParseUint(limit, 10, 64)
	if perr != nil || merr != nil || p == 0 || p >= m {
		t.Errorf("memory peak %q against MemoryMax %q", peak, limit)
	}
	t.Logf("vigie.service: memory peak %.1f MiB; %s", float64(p)/(1<<20), strings.Join(strings.Fields(props), ", "))
}

func timedOut(reason string) bool {
	r := strings.ToLower(reason)
	return strings.Contains(r, "deadline exceeded") || strings.Contains(r, "timed out") || strings.Contains(r, "timeout")
}

// prop is one KEY=VALUE line of `systemctl show`.
func prop(show, key string) string {
	for _, l := range strings.Split(show, "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return strings.TrimSpace(v)
		}
	}
	return fmt.Sprintf("(no %s)", key)
}
