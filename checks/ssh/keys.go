package ssh

import (
	"bufio"
	"bytes"
	"strings"

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

// KeyLine is one entry of an authorized_keys file.
type KeyLine struct {
	Line    int
	Type    string // key algorithm as written; "" when unreadable
	Comment string
	Options []string
	Err     string // why the line could not be parsed
}

const maxKeyFile = 1 << 20

// ParseAuthorizedKeys reads every non-comment line of an authorized_keys
// file. Lines x/crypto cannot parse are kept with the error and the type
// token when one can be recognised, so an operator sees e.g. a DSA key that
// the library refuses as exactly that.
func ParseAuthorizedKeys(data []byte) []KeyLine {
	if len(data) > maxKeyFile {
		data = data[:maxKeyFile]
	}
	var out []KeyLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 16*1024), maxKeyFile)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pk, comment, opts, _, err := xssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			out = append(out, KeyLine{Line: n, Type: guessKeyType(line), Err: err.Error()})
			continue
		}
		out = append(out, KeyLine{Line: n, Type: pk.Type(), Comment: comment, Options: opts})
	}
	if err := sc.Err(); err != nil {
		out = append(out, KeyLine{Line: n + 1, Err: "line too long: " + err.Error()})
	}
	return out
}

// guessKeyType finds the first word that looks like a key algorithm name,
// skipping an options field.
func guessKeyType(line string) string {
	for _, w := range strings.Fields(line) {
		if strings.HasPrefix(w, "ssh-") || strings.HasPrefix(w, "ecdsa-") || strings.HasPrefix(w, "sk-") || strings.HasPrefix(w, "rsa-") {
			return w
		}
	}
	return ""
}
