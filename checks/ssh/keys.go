package ssh

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"

	xssh "golang.org/x/crypto/ssh"
)

// ed25519Algorithms are the public key algorithms the baseline allows: the
// seed asks for ED25519 keys, and FIDO-backed ED25519 keys and certificates
// over ED25519 keys are the same curve.
var ed25519Algorithms = map[string]bool{
	xssh.KeyAlgoED25519:       true,
	xssh.KeyAlgoSKED25519:     true,
	xssh.CertAlgoED25519v01:   true,
	xssh.CertAlgoSKED25519v01: true,
}

// IsED25519 reports whether a key or signature algorithm name is one of the
// ED25519 family.
func IsED25519(alg string) bool { return ed25519Algorithms[alg] }

// keyTypes are the key type names OpenSSH 7 to 10 writes in authorized_keys
// lines, recognised even where x/crypto refuses the key (DSA, XMSS), so an
// operator sees "ssh-dss" rather than only "unparsable". Nothing else of an
// unparsable line is ever reported: it may be any file's text.
var keyTypes = map[string]bool{
	"ssh-ed25519": true, "ssh-ed25519-cert-v01@openssh.com": true,
	"sk-ssh-ed25519@openssh.com": true, "sk-ssh-ed25519-cert-v01@openssh.com": true,
	"ssh-rsa": true, "ssh-rsa-cert-v01@openssh.com": true,
	"rsa-sha2-256": true, "rsa-sha2-512": true,
	"rsa-sha2-256-cert-v01@openssh.com": true, "rsa-sha2-512-cert-v01@openssh.com": true,
	"ssh-dss": true, "ssh-dss-cert-v01@openssh.com": true,
	"ecdsa-sha2-nistp256": true, "ecdsa-sha2-nistp384": true, "ecdsa-sha2-nistp521": true,
	"ecdsa-sha2-nistp256-cert-v01@openssh.com": true, "ecdsa-sha2-nistp384-cert-v01@openssh.com": true,
	"ecdsa-sha2-nistp521-cert-v01@openssh.com": true,
	"sk-ecdsa-sha2-nistp256@openssh.com":       true, "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com": true,
	"webauthn-sk-ecdsa-sha2-nistp256@openssh.com": true,
	"ssh-xmss@openssh.com":                        true, "ssh-xmss-cert-v01@openssh.com": true,
}

// KeyLine is one entry of an authorized_keys file. For a line that is not a
// key, only where it is, how long, and a short hash are kept: the line may
// be a secret a symlink or hard link exposed.
type KeyLine struct {
	Line    int
	Type    string // key algorithm; for an unparsable line only a known type name, else ""
	Comment string
	Options []string
	Err     string // why the line could not be used as a key
	Len     int    // bytes in the line, for an unparsable one
	Hash    string // first 8 hex digits of the SHA-256 of the unparsable line, without its newline

	// Fingerprint is the key's SHA256 fingerprint, to recognise a key the
	// provider installs at boot (ssh.provider-keys).
	Fingerprint string
}

// maxKeyFile is the most of an authorized_keys file read: OpenSSH itself
// reads lines of up to 16 KiB (SSH_MAX_PUBKEY_BYTES), and a file of a
// megabyte already holds thousands of keys.
const maxKeyFile = 1 << 20

// maxKeyEntries bounds the entries kept with their details; the rest are
// only counted, so a file of half a million junk lines costs no more
// memory than its own size.
const maxKeyEntries = 256

// maxKeyLine is the longest line sshd accepts in authorized_keys
// (SSH_MAX_PUBKEY_BYTES, 16 KiB).
const maxKeyLine = 16 * 1024

// KeyList is what an authorized_keys file holds.
type KeyList struct {
	Entries []KeyLine // the first maxKeyEntries entries
	Total   int       // every non-comment line
	// Dropped counts the entries past maxKeyEntries that are not ED25519
	// keys, so the verdict still counts them.
	Dropped int
}

// ParseAuthorizedKeys reads every non-comment line of an authorized_keys
// file, at most maxKeyFile bytes of it.
func ParseAuthorizedKeys(data []byte) KeyList {
	if len(data) > maxKeyFile {
		data = data[:maxKeyFile]
	}
	var out KeyList
	n := 0
	for len(data) > 0 {
		n++
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			raw, data = data, nil
		}
		line := bytes.TrimSpace(raw)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		out.Total++
		k := parseKeyLine(n, raw, line)
		if len(out.Entries) < maxKeyEntries {
			out.Entries = append(out.Entries, k)
		} else if k.Err != "" || !IsED25519(k.Type) {
			out.Dropped++
		}
	}
	return out
}

func parseKeyLine(n int, raw, line []byte) KeyLine {
	if len(raw) > maxKeyLine {
		return unparsable(n, raw, "longer than sshd's 16 KiB limit for a key line")
	}
	pk, comment, opts, _, err := xssh.ParseAuthorizedKey(line)
	if err != nil {
		return unparsable(n, raw, "not a key x/crypto/ssh can read")
	}
	return KeyLine{Line: n, Type: pk.Type(), Comment: comment, Options: opts, Fingerprint: xssh.FingerprintSHA256(pk)}
}

func unparsable(n int, raw []byte, why string) KeyLine {
	sum := sha256.Sum256(raw)
	return KeyLine{Line: n, Type: knownType(raw), Err: why, Len: len(raw), Hash: hex.EncodeToString(sum[:4])}
}

// knownType finds the first field that is a key type name, skipping an
// options field.
func knownType(line []byte) string {
	for _, w := range bytes.Fields(line) {
		if keyTypes[string(w)] {
			return string(w)
		}
	}
	return ""
}
