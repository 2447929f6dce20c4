package ssh

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host/hosttest"
	"github.com/vigie-agent/vigie/host/scaleway"
	"github.com/vigie-agent/vigie/host/scaleway/scalewaytest"
	"github.com/vigie-agent/vigie/internal/fuzzseed"
)

// The metadata fixtures with SSH keys (see their README).
var metadataDir = scalewaytest.Dir() + "/"

func metadataFixture(t testing.TB, name string) *scaleway.Metadata {
	t.Helper()
	_, md := scalewaytest.Fixture(t, name)
	return md
}

func TestProviderKeys(t *testing.T) {
	const (
		rsaFP   = "SHA256:aTTMbk6L0r2UpMKBTq0s6dgCetn6JFIcHa8e675KnXU"
		opsFP   = "SHA256:Wbx5420jMmPhMaOEAsvR+5TAi7mCptkHUQT8SsCxZQo"
		tagFP   = "SHA256:uc+fML2idN+t+1Hj1Mv69mCoXWHemBJLG2jAb73Jzzw"
		skFP    = "SHA256:YZSx6ANzly+8x5ut4bMQtKMZW4xeZ72RqO94AiG5gQQ"
		ecdsaFP = "SHA256:6vaymUa0eXXMVl+7IV/a6SJ3AHORCm4/CnC6YVZw6rk"
	)
	tests := []struct {
		name    string
		facts   ProviderFacts
		status  checks.Status
		reason  []string
		good    []string // evidence values that pass
		bad     []string // evidence values that fail
		subject []string // evidence subjects
	}{
		{
			name: "an RSA project key fails, named", facts: ProviderKeysOf(metadataFixture(t, "keys-rsa-project.json")),
			status: checks.Fail,
			reason: []string{"1 of the 3 SSH keys the metadata installs at boot are not ED25519", "ssh-rsa " + rsaFP + " alice@laptop from the project or account key ssh_public_keys[1] (\"alice-laptop\", id 7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d)"},
			good:   []string{"ssh-ed25519 " + opsFP + " ops@bastion", "ssh-ed25519 " + tagFP + " deploy key 2026"},
			bad:    []string{"ssh-rsa " + rsaFP + " alice@laptop"},
			subject: []string{"project or account key ssh_public_keys[0] (\"bastion\", id 1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b)",
				"server tag AUTHORIZED_KEY (tags[1])"},
		},
		{
			name: "only ED25519 keys, FIDO included, pass", facts: ProviderKeysOf(metadataFixture(t, "keys-ed25519.json")),
			status: checks.Pass, reason: []string{"the 3 SSH key(s) the metadata installs at boot are ED25519"},
			good: []string{"ssh-ed25519 " + opsFP + " ops@bastion", "sk-ssh-ed25519@openssh.com " + skFP + " bob@yubikey", "ssh-ed25519 " + tagFP + " deploy key 2026"},
		},
		{
			name: "a tag that is no key, and an ECDSA tag", facts: ProviderKeysOf(metadataFixture(t, "keys-bad-tag.json")),
			status: checks.Fail,
			reason: []string{"2 of the 3 SSH keys", `not a key x/crypto/ssh can read: "AUTHORIZED_KEY=ssh-rsa_AAAAB3NzaC1yc2EAAAADAQABDDDDD" from the server tag AUTHORIZED_KEY (tags[0])`,
				"ecdsa-sha2-nistp256 " + ecdsaFP + " ci-runner from the server tag AUTHORIZED_KEY (tags[2])"},
			good: []string{"ssh-ed25519 " + opsFP + " ops@bastion"},
			bad:  []string{`not a key x/crypto/ssh can read: "AUTHORIZED_KEY=ssh-rsa_AAAAB3NzaC1yc2EAAAADAQABDDDDD"`, "ecdsa-sha2-nistp256 " + ecdsaFP + " ci-runner"},
		},
		{
			name: "no keys at all: pass, saying so", facts: ProviderKeysOf(metadataFixture(t, "keys-none.json")),
			status: checks.Pass, reason: []string{"the metadata lists no SSH key to install at boot"},
		},
		{
			name: "a hostile comment and an unreadable entry are escaped and bounded",
			facts: ProviderKeysOf(&scaleway.Metadata{
				SSHPublicKeys: scaleway.SSHPublicKeys{{Key: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDPf4K0hZuk1ziykbD5vCrPjLz5Jw8HGgbUZrJySUXJ1dgdVLngY4uv1bVXtwvBkpLVr3XadixDsIN+gZmMFxv+K1ujrwQo9FPvjxOgwW1XjtrPN+aDCvDWf/WPuMj3bKAxEb9+q4d6YdqHT+vbdtYkwPXh95nVi1v2RVv5qF6u3Q== \x1b]0;owned\x07" + strings.Repeat("x", 300), Description: "\x1b[31mevil\"", ID: "id\u202e"}, {Invalid: "not a key entry: json: cannot unmarshal number", Entry: "3"}},
				Tags:          scaleway.Tags{"AUTHORIZED_KEY=\u202egnp.exe_" + strings.Repeat("A", 500)},
			}),
			status: checks.Fail,
			reason: []string{"3 of the 3", `\x1b]0;owned\x07`, `ssh_public_keys[0] ("\x1b[31mevil"", id id\u202e)`, "not a key entry: json: cannot unmarshal number: \"3\"", `"AUTHORIZED_KEY=\u202egnp.exe_AAAA`},
		},
		{
			name: "off Scaleway: skipped with the reason", facts: ProviderFacts{NotApplicable: scaleway.ErrNotScaleway.Error()},
			status: checks.Skip, reason: []string{"not a Scaleway instance"},
		},
		{
			name: "metadata unavailable: an error saying so", facts: ProviderFacts{Err: "metadata: 4 attempts in 2.0s: ..."},
			status: checks.Error, reason: []string{"the Scaleway metadata is unavailable, so the SSH keys it installs at boot are unknown: metadata: 4 attempts in 2.0s"},
		},
		{
			name: "nothing gathered: skipped", status: checks.Skip, reason: []string{"not read"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := providerKeys(&Facts{Provider: tt.facts})
			if got.Status != tt.status {
				t.Fatalf("%s (%s), want %s", got.Status, got.Reason, tt.status)
			}
			for _, r := range tt.reason {
				if !strings.Contains(got.Reason, r) {
					t.Errorf("reason %q lacks %q", got.Reason, r)
				}
			}
			values := map[string]bool{}
			subjects := map[string]bool{}
			for _, e := range got.Evidence {
				v, _ := e.Value.(string)
				values[v] = e.OK
				subjects[e.Subject] = true
				checkPrintable(t, v, 400)
				checkPrintable(t, e.Subject, 400)
			}
			for _, v := range tt.good {
				if ok, found := values[v]; !found || !ok {
					t.Errorf("no passing evidence %q in %v", v, values)
				}
			}
			for _, v := range tt.bad {
				if ok, found := values[v]; !found || ok {
					t.Errorf("no failing evidence %q in %v", v, values)
				}
			}
			for _, s := range tt.subject {
				if !subjects[s] {
					t.Errorf("no evidence about %q in %v", s, subjects)
				}
			}
			checkPrintable(t, got.Reason, 4000)
		})
	}
}

// TestProviderKeysBounded: a metadata with thousands of keys is judged on
// the first ones and counted past them.
func TestProviderKeysBounded(t *testing.T) {
	var tags scaleway.Tags
	for i := 0; i < 1000; i++ {
		tags = append(tags, "AUTHORIZED_KEY=ssh-rsa_AAAA")
	}
	got := providerKeys(&Facts{Provider: ProviderKeysOf(&scaleway.Metadata{Tags: tags})})
	if got.Status != checks.Fail || len(got.Evidence) != maxProviderKeys+1 || !strings.Contains(got.Reason, "1000 of the 1000") || len(got.Reason) > 4000 {
		t.Errorf("%s, %d evidence, %d bytes: %.300s", got.Status, len(got.Evidence), len(got.Reason), got.Reason)
	}
}

// TestProviderKeysGather: on a Scaleway instance the keys come from the
// run's metadata client, with what installs them; off Scaleway nothing is
// asked.
func TestProviderKeysGather(t *testing.T) {
	body, err := os.ReadFile(metadataDir + "keys-rsa-project.json")
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	client := func() *scaleway.Client {
		c := scaleway.NewClient("")
		c.URL, c.Fallback = srv.URL, ""
		return c
	}

	off := GatherProvider(context.Background(), hosttest.Env(t, nil), client())
	if r := providerKeys(&Facts{Provider: off}); r.Status != checks.Skip || !strings.Contains(r.Reason, "not a Scaleway instance") || hits.Load() != 0 {
		t.Errorf("off Scaleway: %s %q, %d requests", r.Status, r.Reason, hits.Load())
	}

	env := hosttest.Env(t, map[string]string{"sys/class/dmi/id/sys_vendor": "Scaleway\n", "usr/local/sbin/scw-fetch-ssh-keys": "#!/bin/sh\n", "etc/cloud/cloud.cfg": "users: [default]\n"})
	on := GatherProvider(context.Background(), env, client())
	r := providerKeys(&Facts{Provider: on})
	if r.Status != checks.Fail || !strings.Contains(r.Reason, "alice@laptop") || hits.Load() != 1 {
		t.Fatalf("%s %q, %d requests", r.Status, r.Reason, hits.Load())
	}
	if src := r.Evidence[0].Source; !strings.Contains(src, "scw-fetch-ssh-keys (root's authorized_keys, at every boot)") || !strings.Contains(src, "cloud-init") {
		t.Errorf("source %q", src)
	}
	if rs := on.Reinstalled(); len(rs) != 1 || rs["SHA256:aTTMbk6L0r2UpMKBTq0s6dgCetn6JFIcHa8e675KnXU"].Comment != "alice@laptop" {
		t.Errorf("reinstalled %+v", rs)
	}
}

// FuzzProviderKeys: whatever the metadata's keys and tags hold, every key
// is judged, a key that passes is ED25519 with a fingerprint, and what the
// finding quotes is printable and bounded.
func FuzzProviderKeys(f *testing.F) {
	fuzzseed.Files(f, metadataDir+"keys-*.json")
	f.Add([]byte(`{"id":"x","ssh_public_keys":[{"key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHw \u001b[2J"},3,null],"tags":["AUTHORIZED_KEY=ssh-ed25519_AAAAC3NzaC1lZDI1NTE5AAAAIGRBbwAxkm+s1hZgfOYo4RadhsLmzN77NfQUI3MhKR5d_a_b",{"k":1},"AUTHORIZED_KEY="]}`))
	f.Add([]byte(`{"id":"x","ssh_public_keys":"none","tags":null}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		md, err := scaleway.Parse(in)
		if err != nil {
			return
		}
		boot := md.BootKeys()
		if len(boot) > len(md.SSHPublicKeys)+len(md.Tags) {
			t.Fatalf("%d boot keys from %d keys and %d tags", len(boot), len(md.SSHPublicKeys), len(md.Tags))
		}
		p := ProviderKeysOf(md)
		if len(p.Keys)+p.Dropped != len(boot) || len(p.Keys) > maxProviderKeys {
			t.Fatalf("%d judged, %d dropped, of %d", len(p.Keys), p.Dropped, len(boot))
		}
		for _, k := range p.Keys {
			if k.OK() && (!IsED25519(k.Type) || !strings.HasPrefix(k.Fingerprint, "SHA256:")) {
				t.Fatalf("passed %+v", k)
			}
			if (k.Err == "") == (k.Type == "") {
				t.Fatalf("type %q with error %q", k.Type, k.Err)
			}
			checkPrintable(t, k.Quoted, maxQuoted)
			checkPrintable(t, k.Describe(), 400)
			checkPrintable(t, k.Where(), 400)
		}
		r := providerKeys(&Facts{Provider: p})
		if r.Status == checks.Pass && p.Bad > 0 {
			t.Fatal("passed with keys that are not ED25519")
		}
	})
}

func checkPrintable(t *testing.T, s string, limit int) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("%q is not valid UTF-8", s)
	}
	if n := utf8.RuneCountInString(s); n > limit {
		t.Fatalf("%d runes, bound %d: %.200q", n, limit, s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || unicode.Is(unicode.Cf, r) {
			t.Fatalf("%q holds %U", s, r)
		}
	}
}
