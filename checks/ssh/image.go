package ssh

import (
	"path"
	"regexp"
)

// hostKeyName is the file name ssh-keygen -A, cloud-init and the RHEL
// sshd-keygen units give a host key of each type.
var hostKeyName = regexp.MustCompile(`^ssh_host_(rsa|dsa|ecdsa|ed25519)_key$`)

// hostKeyTypes maps those names to the key type sshd then loads.
var hostKeyTypes = map[string]string{
	"rsa": "ssh-rsa", "dsa": "ssh-dss", "ecdsa": "ecdsa-sha2-nistp256", "ed25519": "ssh-ed25519",
}

// generatedType is the type of the host key the first boot of an instance
// generates at p, by its file name: images leave the host keys out so that
// every instance makes its own. "" when the name does not say.
func generatedType(p string) string {
	m := hostKeyName.FindStringSubmatch(path.Base(p))
	if m == nil {
		return ""
	}
	return hostKeyTypes[m[1]]
}
