package ssh

import (
	"fmt"

	sshcheck "github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/host/scaleway"
	"github.com/vigie-agent/vigie/internal/printable"
)

// maxProviderNotes bounds the notes about keys the provider installs.
const maxProviderNotes = 16

// providerNotes names each key of an authorized_keys file that is not
// ED25519 and that the provider's metadata installs again at boot.
//
// vigie fix removes no key from any authorized_keys file: it makes sshd
// accept ED25519 keys only, and the judgement of who keeps a way in counts
// every key sshd would accept today, the provider's among them, so nothing
// there relies on a key being gone. Removing such a key by hand would not
// last either: the plan says where it must be removed instead.
func providerNotes(f *sshcheck.Facts, lockin bool) []string {
	back := f.Provider.Reinstalled()
	if len(back) == 0 {
		return nil
	}
	var out []string
	more := 0
	for _, kf := range f.KeyFiles {
		for _, k := range kf.Keys.Entries {
			pk, ok := back[k.Fingerprint]
			if !ok || k.Err != "" || k.Fingerprint == "" {
				continue
			}
			if len(out) == maxProviderNotes {
				more++
				continue
			}
			n := fmt.Sprintf("%s:%d (%s) holds %s, which comes back at boot from the Scaleway metadata (%s) whatever is removed from the file: remove it in the console, %s",
				kf.Path, k.Line, kf.Account, pk.Describe(), pk.Where(), consoleFix(pk))
			if lockin {
				n += "; with this fix sshd refuses it, as every key other than ED25519"
			}
			out = append(out, n)
		}
	}
	if more > 0 {
		out = append(out, fmt.Sprintf("and %d more keys the Scaleway metadata installs again at boot (see ssh.provider-keys)", more))
	}
	return out
}

// consoleFix says where a provider key is removed for good.
func consoleFix(k sshcheck.ProviderKey) string {
	if k.Origin == scaleway.OriginTag {
		return fmt.Sprintf("by dropping tags[%d] from the server's tags (`scw instance server update SERVER-ID tags.0=... `, the list given replaces the old one)", k.Index)
	}
	id := "SSH-KEY-ID"
	if k.ID != "" {
		id = printable.Line(k.ID, 64)
	}
	return "on the project's SSH keys page or with `scw iam ssh-key delete " + id + "`"
}
