package host

import (
	"math"
	"os"
	"time"

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
	_, ok := SSHSessionStart(proc)
	return ok
}

// SSHSessionStart returns when the SSH session this process runs in began:
// the start of its nearest ancestor that is sshd's session process (sshd,
// or sshd-session since OpenSSH 9.8). ok is false outside such a session.
// A confirmation that must come over a connection opened after a change
// compares the two.
func SSHSessionStart(proc string) (time.Time, bool) {
	fs, err := procfs.NewFS(proc)
	if err != nil {
		return time.Time{}, false
	}
	pid := os.Getppid()
	for range maxAncestors {
		if pid <= 1 {
			return time.Time{}, false
		}
		p, err := fs.Proc(pid)
		if err != nil {
			return time.Time{}, false
		}
		st, err := p.Stat()
		if err != nil {
			return time.Time{}, false
		}
		if st.Comm == "sshd" || st.Comm == "sshd-session" {
			start, err := st.StartTime()
			if err != nil {
				return time.Time{}, false
			}
			sec, frac := math.Modf(start)
			return time.Unix(int64(sec), int64(frac*1e9)), true
		}
		pid = st.PPID
	}
	return time.Time{}, false
}
