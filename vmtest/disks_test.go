//go:build vmtest

package vmtest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// checkDisksInGuest formats the guest's two blank disks, one as plain ext4
// mounted on /scratch (declared scratch storage), one as LUKS2 mounted on
// /secure, and asks vigie: the first must fail, the second pass, through
// the guest kernel's real dm-crypt.
func checkDisksInGuest(t *testing.T, port int, key sshKey, vigie string) {
	t.Helper()
	steps := []string{
		"sudo mkfs.ext4 -q -F /dev/disk/by-id/virtio-scratch1 && sudo mkdir -p /scratch && sudo mount /dev/disk/by-id/virtio-scratch1 /scratch",
		"printf vigie-test-passphrase | sudo cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file - /dev/disk/by-id/virtio-scratch2",
		"printf vigie-test-passphrase | sudo cryptsetup open --key-file - /dev/disk/by-id/virtio-scratch2 securedata",
		"sudo mkfs.ext4 -q /dev/mapper/securedata && sudo mkdir -p '/secure data' && sudo mount /dev/mapper/securedata '/secure data'",
		`printf 'disks:\n  scratch: ["/scratch"]\n' | sudo tee /etc/vigie-disks.yaml`,
	}
	for _, s := range steps {
		if out, err := guestSSH(port, key, 2*time.Minute, s, nil); err != nil {
			t.Errorf("%v\n%s", err, out)
			return
		}
	}
	rep, ok := guestCheck(t, port, key, vigie+" check --only disks --json --config /etc/vigie-disks.yaml")
	if !ok {
		return
	}
	scratch, _ := rep.finding("disks.scratch-encrypted")
	if scratch.Status != "fail" || !strings.Contains(scratch.Reason, "filesystem /scratch on scratch") {
		t.Errorf("disks.scratch-encrypted: %+v", scratch)
	}
	local, _ := rep.finding("disks.local-encrypted")
	secure, root := false, false
	for _, e := range local.Evidence {
		var v string
		_ = json.Unmarshal(e.Value, &v)
		switch e.Subject {
		case "filesystem /secure data":
			secure = e.OK && strings.Contains(v, "dm-crypt LUKS2 securedata")
		case "filesystem /":
			root = !e.OK
		}
	}
	if !secure || !root || local.Status != "fail" {
		t.Errorf("disks.local-encrypted: the LUKS2 mount must pass and the plain root fail: %+v", local)
	}
	t.Logf("disks in the guest: %s / %s", scratch.Reason, local.Reason)
}
