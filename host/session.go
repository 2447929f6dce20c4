package host

import (
	"os"

	"github.com/prometheus/procfs"
)

// maxAncestors bounds the walk up the process tree (pid 1 ends it first).
const maxAncestors = 64

// OverSSH reports whether this process runs in an SSH session, as an
// operator who could be cut off by a change to sshd or the firewall:
// SSH_CONNECTION is set, or, since sudo's env_reset and su drop it, one of
// the process's ancestors is sshd's session process (sshd, or
// sshd-session since OpenSSH 9.8). proc is the procfs mount.
func OverSSH(proc string) bool {
	if _, ok := os.LookupEnv("SSH_CONNECTION"); ok {
		return true
	}
	fs, err := procfs.NewFS(proc)
	if err != nil {
		return false
	}
	pid := os.Getppid()
	for range maxAncestors {
		if pid <= 1 {
			return false
		}
		p, err := fs.Proc(pid)
		if err != nil {
			return false
		}
		st, err := p.Stat()
		if err != nil {
			return false
		}
		if st.Comm == "sshd" || st.Comm == "sshd-session" {
			return true
		}
		pid = st.PPID
	}
	return false
}
