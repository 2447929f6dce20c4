package ssh

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sshcheck "github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/host/scaleway"
	"github.com/vigie-agent/vigie/host/scaleway/scalewaytest"
)

const aliceFP = "SHA256:aTTMbk6L0r2UpMKBTq0s6dgCetn6JFIcHa8e675KnXU"

var projectKeys = scalewaytest.Fixture

// TestProviderNotes: a key of an authorized_keys file that the metadata
// installs again at boot is named, by fingerprint, with where to remove
// it; ED25519 keys and keys of nobody's metadata are not.
func TestProviderNotes(t *testing.T) {
	_, md := projectKeys(t, "keys-rsa-project.json")
	_, tagged := projectKeys(t, "keys-bad-tag.json")
	var lines []string
	for _, k := range md.BootKeys() {
		lines = append(lines, k.Line)
	}
	for _, k := range tagged.BootKeys() {
		lines = append(lines, k.Line)
	}
	file := []byte(strings.Join(lines, "\n") + "\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDPf4K0hZuk1ziykbD5vCrPjLz5Jw8HGgbUZrJySUXJ1dgdVLngY4uv1bVXtwvBkpLVr3XadixDsIN+gZmMFxv+K1ujrwQo9FPvjxOgwW1XjtrPN+aDCvDWf/WPuMj3bKAxEb9+q4d6YdqHT+vbdtYkwPXh95nVi1v2RVv5qF6u3Q== own@key\n")
	kf := []sshcheck.KeyFile{{Account: "debian", Path: "/home/debian/.ssh/authorized_keys", Keys: sshcheck.ParseAuthorizedKeys(file)}}
	both := sshcheck.ProviderKeysOf(md)
	both.Keys = append(both.Keys, sshcheck.ProviderKeysOf(tagged).Keys...)
	tests := []struct {
		name     string
		provider sshcheck.ProviderFacts
		lockin   bool
		want     []string
		not      []string
	}{
		{
			name: "RSA project key, lock-in applied", provider: sshcheck.ProviderKeysOf(md), lockin: true,
			want: []string{"/home/debian/.ssh/authorized_keys:2 (debian) holds ssh-rsa " + aliceFP + " alice@laptop, which comes back at boot from the Scaleway metadata (project or account key ssh_public_keys[1]",
				"`scw iam ssh-key delete 7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d`", "with this fix sshd refuses it"},
		},
		{
			name: "lock-in refused: no claim that sshd refuses it", provider: sshcheck.ProviderKeysOf(md),
			want: []string{aliceFP}, not: []string{"sshd refuses it"},
		},
		{
			name: "an ECDSA tag key", provider: both, lockin: true,
			want: []string{aliceFP, "ecdsa-sha2-nistp256 SHA256:6vaymUa0eXXMVl+7IV/a6SJ3AHORCm4/CnC6YVZw6rk ci-runner, which comes back at boot", "tags[2] from the server's tags (`scw instance server update SERVER-ID"},
		},
		{name: "only ED25519 in the metadata: nothing to say", provider: sshcheck.ProviderKeysOf(&scaleway.Metadata{}), lockin: true},
		{name: "off Scaleway: nothing to say", provider: sshcheck.ProviderFacts{NotApplicable: "not a Scaleway instance"}, lockin: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notes := providerNotes(&sshcheck.Facts{KeyFiles: kf, Provider: tt.provider}, tt.lockin)
			all := strings.Join(notes, "\n")
			if len(tt.want) == 0 && len(notes) > 0 {
				t.Errorf("notes %q", notes)
			}
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("notes lack %q:\n%s", w, all)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(all, w) {
					t.Errorf("notes hold %q:\n%s", w, all)
				}
			}
			if strings.Contains(all, "own@key") || strings.Contains(all, "ops@bastion") || strings.Contains(all, "deploy key") {
				t.Errorf("a key the metadata does not install again, or an ED25519 one, is named:\n%s", all)
			}
		})
	}
}

// TestFixNotesProviderKey: against a real sshd, root's authorized_keys
// holds an ED25519 key and the RSA key of the project; the plan keeps
// counting that key as a way root logs in today, turns non-ED25519 keys
// off, and says the RSA key comes back at boot and where it must go.
func TestFixNotesProviderKey(t *testing.T) {
	s := startDefault(t)
	s.rootKey(t)
	body, md := projectKeys(t, "keys-rsa-project.json")
	f, err := os.OpenFile(filepath.Join(s.dir, "keys/root"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(md.SSHPublicKeys[1].Key + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	opt := s.options()
	opt.Check = opt.Check.WithMetadata(scaleway.NewClient(srv.URL))
	p := s.plan(t, opt)
	if len(p.Refusals) != 0 {
		t.Fatalf("refusals: %v", p.Refusals)
	}
	all := strings.Join(p.Notes, "\n")
	for _, w := range []string{"keys/root:2 (root) holds ssh-rsa " + aliceFP + " alice@laptop, which comes back at boot from the Scaleway metadata", "with this fix sshd refuses it", "loses its ssh-rsa key(s); keeps its ED25519 key"} {
		if !strings.Contains(all, w) {
			t.Errorf("notes lack %q:\n%s", w, all)
		}
	}
}
