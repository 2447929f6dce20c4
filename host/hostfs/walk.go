package hostfs

import (
	"context"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// dirent is one directory of the path being walked, held open with O_PATH
// so that nothing can be swapped under the walk.
type dirent struct {
	fd   int
	path string
	st   unix.Stat_t
}

// resolved is the end of a walk: the final component held with O_PATH in
// its parent directory.
type resolved struct {
	dirs   []dirent // root first; the last is the parent
	name   string   // final component in the parent ("." for the root)
	fd     int      // O_PATH descriptor of the final component
	st     unix.Stat_t
	info   Info
	linked bool // a symlink was followed on the way
	spec   Spec
}

func (r *resolved) closeDirs() {
	for _, d := range r.dirs {
		unix.Close(d.fd)
	}
	r.dirs = nil
}

func (r *resolved) dirInfos() []Info {
	out := make([]Info, len(r.dirs))
	for i, d := range r.dirs {
		out[i] = infoOf(d.path, &d.st)
	}
	return out
}

// reopen opens the final component for reading, in its parent directory,
// and checks it is still the file that was checked.
func (r *resolved) reopen() (int, error) {
	parent := r.dirs[len(r.dirs)-1]
	flags := readFlags
	if r.st.Mode&unix.S_IFMT == unix.S_IFDIR {
		flags |= unix.O_DIRECTORY
	}
	fd, err := unix.Openat(parent.fd, r.name, flags, 0)
	if err != nil {
		return -1, openError(r.info.Path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Dev != r.st.Dev || st.Ino != r.st.Ino {
		unix.Close(fd)
		return -1, &Error{Path: r.info.Path, Why: "replaced while being opened", Err: ErrChanged}
	}
	return fd, nil
}

// walk resolves p one component at a time under the root.
func (h FS) walk(ctx context.Context, p string, spec Spec) (*resolved, error) {
	rootfd, err := h.openRoot()
	if err != nil {
		return nil, err
	}
	r := &resolved{spec: spec, fd: -1}
	root := dirent{fd: rootfd, path: "/"}
	if err := unix.Fstat(rootfd, &root.st); err != nil {
		unix.Close(rootfd)
		return nil, openError("/", err)
	}
	r.dirs = []dirent{root}
	fail := func(err error) (*resolved, error) {
		r.closeDirs()
		if r.fd >= 0 {
			unix.Close(r.fd)
		}
		return nil, err
	}
	clean := path.Clean("/" + p)
	todo := components(clean)
	if len(todo) == 0 { // the root itself
		fd, err := unix.Openat(rootfd, ".", unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(openError(clean, err))
		}
		r.fd, r.name, r.st = fd, ".", root.st
		r.info = infoOf("/", &r.st)
		if err := checkFinal("/", &r.st, fd, spec, false); err != nil {
			return fail(err)
		}
		return r, nil
	}
	hops := 0
	for len(todo) > 0 {
		if err := ctx.Err(); err != nil {
			return fail(&Error{Path: clean, Why: "open stopped: " + err.Error(), Err: err})
		}
		c := todo[0]
		todo = todo[1:]
		cur := r.dirs[len(r.dirs)-1]
		if c == ".." {
			if len(r.dirs) > 1 {
				unix.Close(cur.fd)
				r.dirs = r.dirs[:len(r.dirs)-1]
			}
			continue
		}
		here := path.Join(cur.path, c)
		if spec.As != nil && !allowed(&cur.st, spec.As, 1) {
			return fail(&Error{Path: clean, Why: cur.path + " is not searchable by the account", Err: ErrNoAccess})
		}
		fd, err := unix.Openat(cur.fd, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(openError(clean, err))
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return fail(openError(clean, err))
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			if len(todo) == 0 && spec.kinds()&Symlink != 0 {
				r.fd, r.name, r.st, r.info = fd, c, st, infoOf(here, &st)
				return r, nil
			}
			if spec.As == nil && !trustedLink(&st, &cur.st) {
				unix.Close(fd)
				return fail(&Error{Path: clean, Why: "a symlink (" + here + ") owned by uid " + strconv.Itoa(int(st.Uid)) + " or in a directory others can write: not followed", Err: ErrLink})
			}
			hops++
			if hops > maxHops {
				unix.Close(fd)
				return fail(&Error{Path: clean, Why: "too many levels of symbolic links", Err: unix.ELOOP})
			}
			target, err := readlink(fd)
			unix.Close(fd)
			if err != nil {
				return fail(openError(clean, err))
			}
			r.linked = true
			if strings.HasPrefix(target, "/") {
				for len(r.dirs) > 1 {
					unix.Close(r.dirs[len(r.dirs)-1].fd)
					r.dirs = r.dirs[:len(r.dirs)-1]
				}
			}
			todo = append(components(target), todo...)
		case unix.S_IFDIR:
			if len(todo) == 0 {
				r.fd, r.name, r.st, r.info = fd, c, st, infoOf(here, &st)
				if err := checkFinal(clean, &st, fd, spec, r.linked); err != nil {
					return fail(err)
				}
				return r, nil
			}
			r.dirs = append(r.dirs, dirent{fd: fd, path: here, st: st})
		default:
			if len(todo) > 0 {
				unix.Close(fd)
				return fail(&Error{Path: clean, Why: "does not exist (" + here + " is not a directory)", Err: fs.ErrNotExist})
			}
			r.fd, r.name, r.st, r.info = fd, c, st, infoOf(here, &st)
			if err := checkFinal(clean, &st, fd, spec, r.linked); err != nil {
				return fail(err)
			}
			return r, nil
		}
	}
	// The path ended in ".." or a symlink to a directory above: the
	// directory on top of the stack is the answer.
	top := r.dirs[len(r.dirs)-1]
	fd, err := unix.Openat(top.fd, ".", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(openError(clean, err))
	}
	r.fd, r.name, r.st, r.info = fd, ".", top.st, infoOf(top.path, &top.st)
	if err := checkFinal(clean, &r.st, fd, spec, r.linked); err != nil {
		return fail(err)
	}
	return r, nil
}

func components(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

func readlink(fd int) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// trustedLink says whether root may follow a symlink on its own behalf: the
// link is root's and sits in a directory no one else can write, so no
// other account chose where it points.
func trustedLink(link, dir *unix.Stat_t) bool {
	return link.Uid == 0 && dir.Uid == 0 && dir.Mode&0o022 == 0
}

// checkFinal applies the spec to the file a path ended at.
func checkFinal(p string, st *unix.Stat_t, fd int, spec Spec, linked bool) error {
	k := kindOf(st)
	if spec.kinds()&k == 0 {
		return &Error{Path: p, Why: kindWhy(k, spec.kinds()), Err: ErrKind}
	}
	if spec.As != nil {
		if !allowed(st, spec.As, 4) {
			why := "a file the account cannot read"
			if linked {
				why = "a symlink to a file the account cannot read"
			}
			return &Error{Path: p, Why: why, Err: ErrNoAccess}
		}
		var sfs unix.Statfs_t
		if err := unix.Fstatfs(fd, &sfs); err == nil && pseudoFS(sfs.Type) {
			return &Error{Path: p, Why: "a symlink into procfs or sysfs, whose contents depend on who reads them", Err: ErrPseudo}
		}
	}
	if k == Regular && st.Size > spec.max() {
		return &Error{Path: p, Why: "larger than " + humanSize(spec.max()) + " (" + humanSize(st.Size) + "): not read", Err: ErrTooLarge}
	}
	return nil
}

func pseudoFS(t int64) bool {
	switch t {
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.DEBUGFS_MAGIC, unix.SECURITYFS_MAGIC,
		unix.TRACEFS_MAGIC, unix.CGROUP_SUPER_MAGIC, unix.CGROUP2_SUPER_MAGIC, unix.BPF_FS_MAGIC,
		unix.DEVPTS_SUPER_MAGIC:
		return true
	}
	return false
}

// allowed checks the permission bits want (4 read, 1 search) for a
// credential, the way the kernel does without ACLs: the owner's bits for the
// owner, the group's for a member, the others' otherwise. Root may read
// everything and search any directory.
func allowed(st *unix.Stat_t, c *Cred, want uint32) bool {
	if c.UID == 0 {
		return true
	}
	mode := st.Mode & 0o777
	switch {
	case st.Uid == c.UID:
		return (mode>>6)&want == want
	case slices.Contains(c.GIDs, st.Gid):
		return (mode>>3)&want == want
	}
	return mode&want == want
}

func kindOf(st *unix.Stat_t) Kind {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return Regular
	case unix.S_IFDIR:
		return Dir
	case unix.S_IFLNK:
		return Symlink
	case unix.S_IFIFO:
		return FIFO
	case unix.S_IFSOCK:
		return Socket
	case unix.S_IFCHR:
		return CharDevice
	case unix.S_IFBLK:
		return BlockDevice
	}
	return 0
}

var kindNames = map[Kind]string{
	Regular: "a file", Dir: "a directory", Symlink: "a symlink", FIFO: "a FIFO",
	Socket: "a socket", CharDevice: "a character device", BlockDevice: "a block device",
}

func kindWhy(got, want Kind) string {
	name := kindNames[got]
	if name == "" {
		name = "an unknown kind of file"
	}
	wantName := "a file"
	if want&Regular == 0 {
		for _, k := range []Kind{Dir, BlockDevice, CharDevice, FIFO, Socket, Symlink} {
			if want&k != 0 {
				wantName = kindNames[k]
				break
			}
		}
	}
	return name + ", not " + wantName
}

func modeOf(st *unix.Stat_t) fs.FileMode {
	m := fs.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	if st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func sortEntries(ents []fs.DirEntry) {
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
}
