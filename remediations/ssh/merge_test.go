package ssh

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	sshcheck "github.com/vigie-agent/vigie/checks/ssh"
)

// TestMergedLines: each directive is the stricter of the operator's value
// and the baseline, lists keep the operator's order, nothing compliant is
// repeated, and nothing the operator removed is added back.
func TestMergedLines(t *testing.T) {
	// OpenSSH 10's default key exchanges, ML-KEM first.
	kex10 := "mlkem768x25519-sha256,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"
	tests := []struct {
		name     string
		settings sshcheck.Settings
		lockin   bool
		want     []string // lines, exactly
		refused  []string // substrings of refusals
	}{
		{"root login off stays off", sshcheck.Settings{"permitrootlogin": {"no"}, "passwordauthentication": {"no"}, "kbdinteractiveauthentication": {"no"}}, true, nil, nil},
		{"forced commands only stays", sshcheck.Settings{"permitrootlogin": {"forced-commands-only"}}, true, []string{"PasswordAuthentication no", "KbdInteractiveAuthentication no"}, nil},
		{"without-password is prohibit-password", sshcheck.Settings{"permitrootlogin": {"without-password"}, "passwordauthentication": {"no"}, "kbdinteractiveauthentication": {"no"}}, true, nil, nil},
		{"root login with a password", sshcheck.Settings{"permitrootlogin": {"yes"}, "passwordauthentication": {"no"}, "kbdinteractiveauthentication": {"no"}}, true, []string{"PermitRootLogin prohibit-password"}, nil},
		{"no lock-in allowed", sshcheck.Settings{"permitrootlogin": {"yes"}, "passwordauthentication": {"yes"}, "ciphers": {"aes128-cbc,aes256-gcm@openssh.com"}}, false, []string{"Ciphers aes256-gcm@openssh.com"}, nil},
		{"ML-KEM kept first, NIST curves dropped", sshcheck.Settings{"kexalgorithms": {kex10}, "permitrootlogin": {"no"}, "passwordauthentication": {"no"}, "kbdinteractiveauthentication": {"no"}}, true,
			[]string{"KexAlgorithms mlkem768x25519-sha256,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"}, nil},
		{"a short strong list is not rewritten", sshcheck.Settings{"ciphers": {"aes256-gcm@openssh.com,chacha20-poly1305@openssh.com"}, "permitrootlogin": {"no"}, "passwordauthentication": {"no"}, "kbdinteractiveauthentication": {"no"}}, true, nil, nil},
		{"key algorithms in the operator's order", sshcheck.Settings{"pubkeyacceptedalgorithms": {"rsa-sha2-512,sk-ssh-ed25519@openssh.com,ssh-ed25519"}, "permitrootlogin": {"no"}, "passwordauthentication": {"no"}, "kbdinteractiveauthentication": {"no"}}, true,
			[]string{"PubkeyAcceptedAlgorithms sk-ssh-ed25519@openssh.com,ssh-ed25519"}, nil},
		{"nothing added back", sshcheck.Settings{"pubkeyacceptedalgorithms": {"rsa-sha2-512"}, "macs": {"hmac-sha1"}, "permitrootlogin": {"no"}, "passwordauthentication": {"no"}, "kbdinteractiveauthentication": {"no"}}, true,
			nil, []string{"PubkeyAcceptedAlgorithms left as it is: sshd accepts no ED25519 key algorithm (rsa-sha2-512)", "MACs left as it is"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, refusals := mergedLines(tt.settings, tt.lockin)
			if !slices.Equal(lines, tt.want) {
				t.Errorf("lines %q, want %q", lines, tt.want)
			}
			if len(refusals) != len(tt.refused) {
				t.Fatalf("refusals %q, want %q", refusals, tt.refused)
			}
			for i, r := range tt.refused {
				if !strings.Contains(refusals[i], r) {
					t.Errorf("refusal %q lacks %q", refusals[i], r)
				}
			}
		})
	}
}

// TestMergedLinesOnCapturedServers runs the merge over the sshd -T of a
// fresh Debian 12 (OpenSSH 9.2) and Debian 13 (OpenSSH 10, captured in
// the guest): the key exchanges keep the operator's order, ML-KEM first
// where the server has it, name only what that sshd offers, and a second
// fix over the result writes nothing more.
func TestMergedLinesOnCapturedServers(t *testing.T) {
	for file, kex := range map[string]string{
		"debian12-default.txt": "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256",
		"debian13-default.txt": "mlkem768x25519-sha256,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org",
	} {
		b, err := os.ReadFile(filepath.Join("../../checks/ssh/testdata/sshd-T", file))
		if err != nil {
			t.Fatal(err)
		}
		s, err := sshcheck.ParseSshdT(b)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		lines, refusals := mergedLines(s, true)
		if len(refusals) > 0 {
			t.Errorf("%s: refusals %q", file, refusals)
		}
		got := map[string]string{}
		for _, l := range lines {
			k, v, _ := strings.Cut(l, " ")
			got[strings.ToLower(k)] = v
		}
		if got["kexalgorithms"] != kex {
			t.Errorf("%s: KexAlgorithms %s, want %s", file, got["kexalgorithms"], kex)
		}
		for key, v := range got {
			for _, a := range strings.Split(v, ",") {
				if key != "passwordauthentication" && key != "kbdinteractiveauthentication" && key != "permitrootlogin" && !slices.Contains(s.List(key), a) {
					t.Errorf("%s: %s %s is not offered by this sshd (%v)", file, key, a, s.List(key))
				}
			}
			s[key] = []string{v}
		}
		if again, _ := mergedLines(s, true); len(again) != 0 {
			t.Errorf("%s: a second fix writes %q", file, again)
		}
	}
}
