package ssh

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/checks/checkstest"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hosttest"
)

// noCommands fails the test on any command: on an image, the ssh area
// runs nothing (no sshd -T of this machine's sshd) and probes nothing.
type noCommands struct {
	t    *testing.T
	mu   sync.Mutex
	seen []string
}

func (r *noCommands) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, strings.Join(append([]string{name}, args...), " "))
	r.t.Errorf("command run on an image: %s %s", name, strings.Join(args, " "))
	return nil, fmt.Errorf("no command on an image")
}

const imageSSHDConfig = `Include /etc/ssh/sshd_config.d/*.conf
KbdInteractiveAuthentication no
UsePAM yes
Subsystem sftp /usr/lib/openssh/sftp-server
`

const imageHardening = `PasswordAuthentication no
PermitRootLogin prohibit-password
HostKey /etc/ssh/ssh_host_ed25519_key
PubkeyAcceptedAlgorithms ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,sk-ssh-ed25519@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com
Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com
KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org
`

// imageTree is an image's root: sshd's configuration, its accounts (the
// default user with the test's own uid, so its files pass StrictModes),
// and no host key, as images ship.
func imageTree(t *testing.T, files map[string]string) *host.Env {
	t.Helper()
	all := map[string]string{
		"etc/ssh/sshd_config":              imageSSHDConfig,
		"etc/passwd":                       fmt.Sprintf("root:x:0:0:root:/root:/bin/bash\ndebian:x:%d:%d:Debian:/home/debian:/bin/bash\n", os.Getuid(), os.Getgid()),
		"etc/group":                        "root:x:0:\n",
		"home/debian/.ssh/authorized_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl builder@ci\n",
	}
	for p, c := range files {
		all[p] = c
	}
	env := hosttest.Env(t, all)
	env.Image, env.Cmd = true, &noCommands{t: t}
	// The image's proc and sys are empty, as an image's are; vigie must
	// not need them.
	return env
}

func imageOptions() Options {
	o := DefaultOptions()
	o.Probe = true // the configuration's, overruled by image mode
	return o
}

// TestImageFromFiles: on an image the settings come from vigie's own
// reading of the image's files (Include resolved under its root), never
// from this machine's sshd; the live probe and the provider's keys are
// skipped with their reasons; a host key the image leaves out is judged by
// the type its name says.
func TestImageFromFiles(t *testing.T) {
	env := imageTree(t, map[string]string{"etc/ssh/sshd_config.d/00-hardening.conf": imageHardening})
	got := checkstest.ByID(New(imageOptions()).Run(context.Background(), env))
	drop := "/etc/ssh/sshd_config.d/00-hardening.conf"
	for id, w := range map[string]checkstest.Want{
		IDPasswordAuth:   {Status: checks.Pass, Reason: []string{"passwordauthentication no", "from config files", imageNote}, Good: []string{"global@" + drop + ":1", "global@/etc/ssh/sshd_config:2"}},
		IDRootLogin:      {Status: checks.Pass, Good: []string{"global@" + drop + ":2"}},
		IDPubkeyAlgs:     {Status: checks.Pass},
		IDCrypto:         {Status: checks.Pass},
		IDHostKeys:       {Status: checks.Pass, Reason: []string{"1 host key(s), all ED25519"}, Good: []string{"/etc/ssh/ssh_host_ed25519_key@" + drop + ":3"}},
		IDAuthorizedKeys: {Status: checks.Pass, Reason: []string{"1 authorized key(s) in 1 file(s), all ED25519"}},
		IDLiveProbe:      {Status: checks.Skip, Reason: []string{"image mode (--path.root " + env.Root + "): no sshd of this image runs"}},
		IDProviderKeys:   {Status: checks.Skip, Reason: []string{"image mode (--path.root " + env.Root + "): the provider's keys"}},
	} {
		checkstest.Expect(t, got[id], w)
	}
	if ev := got[IDHostKeys].Evidence[0]; !strings.Contains(fmt.Sprint(ev.Value), "not in the image: the first boot generates an ssh-ed25519 key there") {
		t.Errorf("host key evidence: %+v", ev)
	}
	for _, id := range []string{IDLiveProbe, IDProviderKeys} {
		if len(got[id].Evidence) != 0 {
			t.Errorf("%s: a skipped check carries evidence: %+v", id, got[id].Evidence)
		}
	}
}

// TestImageDebianDefaults: a stock Debian image (no drop-in, no HostKey
// line, passwords on) fails on what its files say: the defaults sshd
// applies, and the RSA and ECDSA keys its first boot generates at the
// default paths; a Match block loosening passwords is seen without sshd.
func TestImageDebianDefaults(t *testing.T) {
	env := imageTree(t, map[string]string{"etc/ssh/sshd_config.d/50-deploy.conf": "Match User deploy\n\tPasswordAuthentication yes\n"})
	got := checkstest.ByID(New(imageOptions()).Run(context.Background(), env))
	checkstest.Expect(t, got[IDPasswordAuth], checkstest.Want{Status: checks.Fail, Reason: []string{"passwordauthentication is yes (global)", "passwordauthentication yes for Match User deploy at /etc/ssh/sshd_config.d/50-deploy.conf:2"}})
	checkstest.Expect(t, got[IDHostKeys], checkstest.Want{Status: checks.Fail, Reason: []string{
		"/etc/ssh/ssh_host_rsa_key is a default path (no HostKey line) and not in the image: the first boot generates an ssh-rsa key there, which sshd loads",
		"/etc/ssh/ssh_host_ecdsa_key is a default path (no HostKey line) and not in the image: the first boot generates an ecdsa-sha2-nistp256 key there",
	}})
	if strings.Contains(got[IDHostKeys].Reason, "ed25519_key") {
		t.Errorf("the ED25519 default path counted against the image: %q", got[IDHostKeys].Reason)
	}
}

// TestImageWithoutSshd: an image without OpenSSH skips the area, saying so.
func TestImageWithoutSshd(t *testing.T) {
	env := hosttest.Env(t, map[string]string{"etc/passwd": "root:x:0:0:root:/root:/bin/bash\n"})
	env.Image, env.Cmd = true, &noCommands{t: t}
	for _, f := range New(imageOptions()).Run(context.Background(), env) {
		if f.Status != checks.Skip {
			t.Errorf("%s: %s %q", f.ID, f.Status, f.Reason)
		}
	}
}
