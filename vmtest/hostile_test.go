//go:build vmtest

package vmtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/internal/hostiletest"
)

// Where the guest keeps the planting scripts and the root-only secret.
const (
	guestHostileScript = "/usr/local/lib/vigie-vmtest/hostile-home.sh"
	guestPlantScript   = "/usr/local/lib/vigie-vmtest/plant.sh"
	guestSecretDir     = "/root/vigie-hostile"
)

// guestPlant is the root side in the guest: one real account per trick of
// hostile-home.sh (useradd, home in /home, a login shell; the "names" one
// with invalid UTF-8 in its name and an 8 KB GECOS), the trick planted by
// that account itself (setpriv to its uid, a login's environment), and a
// listener with a hostile process name run by vh-escapes. It prints the
// listener's port, vh-escapes' home and the guest's clock when done.
const guestPlant = `#!/bin/bash
set -euo pipefail
script=` + guestHostileScript + `
secret_dir=` + guestSecretDir + `
odd_name=$(printf 'vh-names-\377\376')
gecos="Hostile $(printf '\377\376') user $(head -c 8000 /dev/zero | tr '\0' G)"
as() {
  local u=$1
  shift
  setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --init-groups --no-new-privs --reset-env "$@" </dev/null
}
for trick in $(bash "$script" list); do
  name=vh-$trick
  if [ "$trick" = names ] && useradd -m -l -s /bin/bash --badname -c "$gecos" "$odd_name"; then
    name=$odd_name
  else
    useradd -m -l -s /bin/bash "$name"
  fi
  case $trick in
  secret) as "$name" /bin/bash "$script" secret "$secret_dir/secret.yaml" ;;
  rootdir) as "$name" /bin/bash "$script" rootdir "$secret_dir" ;;
  *) as "$name" /bin/bash "$script" "$trick" ;;
  esac
done
as vh-escapes setsid /bin/bash "$script" listen 3600 >/var/tmp/vh-listen.port 2>&1 &
for _ in $(seq 100); do
  [ -s /var/tmp/vh-listen.port ] && break
  sleep 0.1
done
echo "port=$(head -n 1 /var/tmp/vh-listen.port)"
echo "home=$(getent passwd vh-escapes | cut -d: -f6)"
echo "planted=$(date +%s.%N)"
`

// hostileGuest is what plantHostileHomes left in the guest.
type hostileGuest struct {
	marker    string       // the random part of the root-only secret
	keyFile   string       // vh-escapes' authorized_keys (ED25519 with escapes, RSA)
	port      int          // the hostile listener's
	plantedAt time.Time    // on the guest's clock
	checks    []string     // the check ids of the last report before the tricks
	before    serviceState // vigie.service before the tricks
}

// plantHostileHomes copies scripts/hostile-home.sh into the guest, writes a
// root-only secret and plants every trick, each as its own account.
func plantHostileHomes(t *testing.T, g *guest, rcv *receiver) hostileGuest {
	t.Helper()
	script, err := os.ReadFile(filepath.Join("..", "scripts", "hostile-home.sh"))
	if err != nil {
		t.Fatal(err)
	}
	h := hostileGuest{marker: hostiletest.NewMarker("sk-live-")}
	prior := rcv.reports()
	if len(prior) == 0 {
		t.Fatal("no report before the tricks to compare with")
	}
	last, err := hostiletest.ParseReport(prior[len(prior)-1].Body)
	if err != nil {
		t.Fatal(err)
	}
	h.checks = last.IDs()
	if h.before, err = sampleService(g); err != nil {
		t.Fatal(err)
	}
	g.sh("sudo install -D -m 0755 /dev/stdin "+guestHostileScript, script)
	g.sh("sudo install -D -m 0700 /dev/stdin "+guestPlantScript, []byte(guestPlant))
	g.sh("sudo install -d -m 0700 "+guestSecretDir, nil)
	secret := []byte("api_key: " + h.marker + "\n")
	g.sh("sudo install -m 0600 /dev/stdin "+guestSecretDir+"/secret.yaml", secret)
	g.sh("sudo install -m 0600 /dev/stdin "+guestSecretDir+"/authorized_keys", secret)
	out := g.sh("sudo "+guestPlantScript, nil)
	kv := keyValues(out)
	h.port, _ = strconv.Atoi(kv["port"])
	sec, _ := strconv.ParseFloat(kv["planted"], 64)
	h.plantedAt = time.Unix(0, int64(sec*1e9))
	if h.port == 0 || kv["home"] == "" || sec == 0 {
		t.Fatalf("planting the hostile homes printed:\n%s", hostiletest.CatV([]byte(out)))
	}
	h.keyFile = kv["home"] + "/.ssh/authorized_keys"
	return h
}

// keyValues reads KEY=VALUE lines (systemctl show, the planting script).
func keyValues(out string) map[string]string {
	kv := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			kv[k] = v
		}
	}
	return kv
}

// serviceState is one sample of vigie.service: systemctl show's properties
// and the main process's peak RSS (VmHWM).
type serviceState struct {
	kv     map[string]string
	hwmKiB int
}

// sampleState prints what sampleService reads; as root, since systemctl
// as another user needs the D-Bus system bus the guest does not run.
const sampleState = `systemctl show -p ActiveState -p MainPID -p NRestarts -p MemoryCurrent -p MemoryPeak -p MemoryMax vigie
pid=$(systemctl show -p MainPID --value vigie)
if [ -n "$pid" ] && [ "$pid" != 0 ] && [ -r "/proc/$pid/status" ]; then
  awk '/^VmHWM:/ { print "VmHWM=" $2 }' "/proc/$pid/status"
fi
`

func sampleService(g *guest) (serviceState, error) {
	out, err := guestSSH(g.port, g.key, time.Minute, "sudo sh -s", []byte(sampleState))
	if err != nil {
		return serviceState{}, err
	}
	s := serviceState{kv: keyValues(out)}
	s.hwmKiB, _ = strconv.Atoi(s.kv["VmHWM"])
	return s, nil
}

// bytesOf reads a byte count systemctl shows; false for "infinity" and
// "[not set]" (accounting off, or a property systemd 252 does not have).
func (s serviceState) bytesOf(p string) (int64, bool) {
	n, err := strconv.ParseInt(s.kv[p], 10, 64)
	return n, err == nil
}

// checkHostileService: with every trick planted, vigie.service (asked to
// check at once by a reload) stays up without a restart and keeps
// reporting, the reports are valid and complete, its memory stays bounded,
// and no byte of the secret reaches the receiver, the journal or the
// textfile.
func checkHostileService(t *testing.T, g *guest, rcv *receiver, h hostileGuest) {
	t.Helper()
	before := h.before
	if out, err := guestSSH(g.port, g.key, time.Minute, "sudo systemctl reload vigie", nil); err != nil {
		t.Errorf("systemctl reload vigie, the tricks planted: %v: %s", err, strings.TrimSpace(out))
	}

	// Two reports of cycles started after the planting: the reload's and
	// the next interval's. A restart of the service ends the wait early.
	var hostile []received
	var samples []serviceState
	deadline := time.Now().Add(3 * time.Minute)
	for len(hostile) < 2 && time.Now().Before(deadline) {
		time.Sleep(3 * time.Second)
		if s, err := sampleService(g); err == nil {
			samples = append(samples, s)
			if s.kv["MainPID"] != before.kv["MainPID"] || s.kv["NRestarts"] != before.kv["NRestarts"] {
				break
			}
		}
		hostile = hostile[:0]
		for _, r := range rcv.reports() {
			if !r.StartedAt.Before(h.plantedAt) {
				hostile = append(hostile, r)
			}
		}
	}
	after, err := sampleService(g)
	if err != nil {
		t.Fatal(err)
	}
	samples = append(samples, after)
	if after.kv["ActiveState"] != "active" || after.kv["MainPID"] != before.kv["MainPID"] || after.kv["NRestarts"] != before.kv["NRestarts"] {
		t.Errorf("vigie.service with the hostile homes: %s (before them: %s)\n%s", showState(after), showState(before),
			hostiletest.CatV([]byte(g.sh(`sudo journalctl -u vigie --no-pager -n 20000 | grep -E 'fatal error|out of memory|panic|Main process exited|Failed with result|Scheduled restart|Watchdog' | tail -n 12 || true`, nil))))
	}
	if len(hostile) < 2 {
		t.Errorf("%d report(s) of a cycle started after the tricks were planted arrived within 3 minutes, want 2", len(hostile))
	}
	checkServiceMemory(t, samples)

	exp := hostiletest.Expect{Checks: h.checks, KeyFile: h.keyFile, Port: h.port}
	for _, r := range hostile {
		if err := validateReport(r.Body); err != nil {
			t.Errorf("report %s does not validate: %v", r.ID, err)
		}
		rep, err := hostiletest.ParseReport(r.Body)
		if err != nil {
			t.Errorf("report %s: %v", r.ID, err)
			continue
		}
		for _, p := range exp.Problems(rep) {
			t.Errorf("report %s: %s", r.ID, p)
		}
	}
	for _, r := range rcv.reports() {
		for _, l := range hostiletest.Leaks("report "+r.ID+" received by the host", r.Body, h.marker) {
			t.Error(l)
		}
	}
	journal := g.sh("sudo journalctl -u vigie -o export --no-pager", nil)
	textfile := g.sh("sudo cat /var/lib/prometheus/node-exporter/vigie.prom", nil)
	for _, l := range append(hostiletest.Leaks("the guest's journal of vigie.service", []byte(journal), h.marker),
		hostiletest.Leaks("the guest's textfile", []byte(textfile), h.marker)...) {
		t.Error(l)
	}
	t.Logf("hostile homes: %d report(s) after the planting; vigie.service %s", len(hostile), showState(after))
}

func showState(s serviceState) string {
	return fmt.Sprintf("ActiveState=%s MainPID=%s NRestarts=%s MemoryCurrent=%s MemoryPeak=%s MemoryMax=%s VmHWM=%d KiB",
		s.kv["ActiveState"], s.kv["MainPID"], s.kv["NRestarts"], s.kv["MemoryCurrent"], s.kv["MemoryPeak"], s.kv["MemoryMax"], s.hwmKiB)
}

// hostileRSSBound is the main process's peak RSS allowed when the unit
// sets no MemoryMax.
const hostileRSSBound = 64 << 10 // KiB

// checkServiceMemory holds the service's memory under the unit's
// MemoryMax: its MemoryPeak where systemd has it (254 and later), else the
// largest MemoryCurrent sampled during the hostile cycles (systemd 252, on
// Debian 12, has no MemoryPeak; samples every few seconds can miss a
// short peak). Without a MemoryMax in the unit, the bound is 64 MiB of the
// main process's own peak RSS (VmHWM, which misses nothing).
func checkServiceMemory(t *testing.T, samples []serviceState) {
	t.Helper()
	final := samples[len(samples)-1]
	var peak int64
	source := "MemoryPeak"
	if p, ok := final.bytesOf("MemoryPeak"); ok {
		peak = p
	} else {
		source = fmt.Sprintf("largest MemoryCurrent of %d samples (no MemoryPeak in this systemd)", len(samples))
		for _, s := range samples {
			if c, ok := s.bytesOf("MemoryCurrent"); ok {
				peak = max(peak, c)
			}
		}
	}
	hwm := 0
	for _, s := range samples {
		hwm = max(hwm, s.hwmKiB)
	}
	t.Logf("vigie.service memory with the hostile homes: %s %d KiB, main process VmHWM %d KiB, MemoryMax %s", source, peak>>10, hwm, final.kv["MemoryMax"])
	if limit, ok := final.bytesOf("MemoryMax"); ok {
		if peak >= limit {
			t.Errorf("vigie.service used %d KiB (%s), MemoryMax %d KiB", peak>>10, source, limit>>10)
		}
		return
	}
	// The unit sets no MemoryMax (yet): bound the process itself.
	switch {
	case hwm == 0:
		t.Errorf("the unit sets no MemoryMax, and no vigie process ran when sampled to read its peak RSS from")
	case hwm >= hostileRSSBound:
		t.Errorf("the unit sets no MemoryMax; vigie's own peak RSS (VmHWM) is %d KiB, want under %d KiB", hwm, hostileRSSBound)
	}
}
