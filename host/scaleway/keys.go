package scaleway

import (
	"encoding/json"
	"strings"
)

// SSHPublicKey is one entry of the metadata's ssh_public_keys: a key of
// the project (or, on older accounts, of the account) the server belongs
// to, as the Scaleway SDK decodes it.
type SSHPublicKey struct {
	ID          string `json:"id"`
	Key         string `json:"key"`
	Fingerprint string `json:"fingerprint"` // "256 MD5:... comment (ssh-ed25519)", as Scaleway shows it
	Description string `json:"description"`
	// Invalid says why the entry could not be read (not an object, a key
	// that is not a string), and Entry is then its JSON text; the other
	// fields are empty.
	Invalid string `json:"-"`
	Entry   string `json:"-"`
}

// SSHPublicKeys decodes the list leniently: an entry it cannot read is
// kept with Invalid set rather than failing the whole metadata, which also
// carries the platform's identity.
type SSHPublicKeys []SSHPublicKey

// UnmarshalJSON keeps every entry, readable or not; a value that is not a
// list is no list.
func (l *SSHPublicKeys) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if json.Unmarshal(b, &raw) != nil {
		*l = nil
		return nil
	}
	out := make(SSHPublicKeys, 0, len(raw))
	for _, r := range raw {
		var k SSHPublicKey
		if err := json.Unmarshal(r, &k); err != nil {
			k = SSHPublicKey{Invalid: "not a key entry: " + err.Error(), Entry: string(r)}
		}
		out = append(out, k)
	}
	*l = out
	return nil
}

// Tags decodes the server's tags leniently: an entry that is not a string
// is kept as its JSON text, so a tag list the service extends never hides
// the rest of the metadata.
type Tags []string

// UnmarshalJSON keeps strings as they are and anything else as JSON text.
func (t *Tags) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if json.Unmarshal(b, &raw) != nil {
		*t = nil
		return nil
	}
	out := make(Tags, 0, len(raw))
	for _, r := range raw {
		var s string
		if json.Unmarshal(r, &s) != nil {
			s = string(r)
		}
		out = append(out, s)
	}
	*t = out
	return nil
}

// AuthorizedKeyTag is the prefix of a server tag that holds an SSH key,
// its spaces written as underscores.
const AuthorizedKeyTag = "AUTHORIZED_KEY="

// Where a boot key comes from.
const (
	OriginProjectKey = "ssh_public_keys"
	OriginTag        = "tag " + AuthorizedKeyTag
)

// BootKey is one SSH key the metadata makes the image install at every
// boot, exactly as cloud-init's Scaleway data source
// (DataSourceScaleway.get_public_ssh_keys) and scw-fetch-ssh-keys derive
// it: each ssh_public_keys[].key as it is, then each tag starting with
// AUTHORIZED_KEY= with every underscore after the prefix turned into a
// space.
type BootKey struct {
	Origin string // OriginProjectKey or OriginTag
	Index  int    // position in ssh_public_keys or in tags, from 0
	Line   string // the authorized_keys line installed
	Raw    string // the entry as the metadata holds it: the key, or the whole tag
	ID     string // the key's id, for an ssh_public_keys entry
	Name   string // the key's description, for an ssh_public_keys entry
	// Invalid says why an ssh_public_keys entry could not be read at all.
	Invalid string
}

// BootKeys lists the keys the metadata will have installed at the next
// boot, in the order cloud-init installs them.
func (m *Metadata) BootKeys() []BootKey {
	var out []BootKey
	for i, k := range m.SSHPublicKeys {
		b := BootKey{Origin: OriginProjectKey, Index: i, Line: k.Key, Raw: k.Key, ID: k.ID, Name: k.Description, Invalid: k.Invalid}
		if k.Invalid != "" {
			b.Raw = k.Entry
		}
		out = append(out, b)
	}
	for i, t := range m.Tags {
		if rest, ok := strings.CutPrefix(t, AuthorizedKeyTag); ok {
			out = append(out, BootKey{Origin: OriginTag, Index: i, Line: strings.ReplaceAll(rest, "_", " "), Raw: t})
		}
	}
	return out
}
