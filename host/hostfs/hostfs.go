// Package hostfs is the one way vigie reads a file of the inspected host.
//
// vigie runs as root and reads files that local users control: their
// homes, ~/.ssh, every path sshd's AuthorizedKeysFile expands to. Any of
// them may be a symlink to /dev/zero or to a root-only secret, a FIFO that
// blocks forever, a sparse file of 100 GB, or a directory. A plain
// os.ReadFile would follow the link as root, block, or allocate the whole
// size. This package instead:
//
//   - resolves the path one component at a time from the inspected root
//     (O_PATH|O_NOFOLLOW), so a symlink is seen before it is followed and
//     absolute links stay inside the root (like RESOLVE_IN_ROOT); where no
//     symlink is involved one openat2 call with RESOLVE_NO_SYMLINKS does it;
//   - follows a symlink only where that is safe: for root's own files, only
//     links owned by root in directories only root can write; for a file
//     read on an account's behalf (Spec.As), any link, as sshd would, but
//     only to a target the account itself could reach and read, and never
//     into procfs or sysfs, whose contents depend on who reads them;
//   - opens with O_NONBLOCK|O_NOCTTY|O_CLOEXEC and checks the kind of file
//     before reading a byte: a FIFO, a socket, a device or a directory is
//     an error that says so, unless the caller asked for that kind;
//   - refuses a file larger than the caller's cap from its size alone, and
//     enforces the cap again while reading (procfs reports size 0);
//   - checks the context between reads, so a deadline stops the work.
//
// Errors are *Error values whose text is safe to report: they name the path
// and what it is, never what the file holds.
package hostfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Kind is a set of file types a reader accepts.
type Kind uint8

// The kinds of file.
const (
	Regular Kind = 1 << iota
	Dir
	Symlink
	FIFO
	Socket
	CharDevice
	BlockDevice
)

// Cred is an account as the kernel checks its access: a uid and every group
// it belongs to, the primary one included.
type Cred struct {
	UID  uint32
	GIDs []uint32
}

// Spec says what a reader accepts.
type Spec struct {
	// Max is the most bytes read; a larger file is ErrTooLarge. Zero means
	// DefaultMax.
	Max int64
	// Kinds are the accepted kinds of file; zero means Regular.
	Kinds Kind
	// As, when set, reads the file on that account's behalf, the way a
	// daemon that drops to the account (sshd for authorized_keys) would:
	// every directory must be searchable by it, the file readable by it,
	// and symlinks it planted are followed only under those rules.
	As *Cred
}

// Caps for the kinds of file vigie reads.
const (
	// DefaultMax fits any configuration file.
	DefaultMax = 4 << 20
	// SmallMax fits a sysfs attribute, a hostname or os-release.
	SmallMax = 64 << 10
	// TableMax fits an account database or a procfs table of a busy host.
	TableMax = 32 << 20
	// MaxDirEntries bounds a directory listing.
	MaxDirEntries = 10000
	// maxHops is the kernel's own limit on symlinks in one resolution.
	maxHops = 40
)

// Presets for the common cases.
var (
	Config = Spec{Max: DefaultMax}
	Small  = Spec{Max: SmallMax}
	Table  = Spec{Max: TableMax}
)

func (s Spec) max() int64 {
	if s.Max <= 0 {
		return DefaultMax
	}
	return s.Max
}

func (s Spec) kinds() Kind {
	if s.Kinds == 0 {
		return Regular
	}
	return s.Kinds
}

// Sentinel errors, for errors.Is. fs.ErrNotExist and fs.ErrPermission
// match too where the kernel said so.
var (
	ErrKind     = errors.New("not the kind of file expected")
	ErrTooLarge = errors.New("larger than the limit")
	ErrNoAccess = errors.New("the account cannot read it")
	ErrLink     = errors.New("an untrusted symlink")
	ErrPseudo   = errors.New("on a pseudo filesystem")
	ErrChanged  = errors.New("changed while being opened")
)

// Error is a failure to read one file. Its text names the path and what is
// wrong with it, never the file's contents.
type Error struct {
	Path string // on the inspected system
	Why  string // "a FIFO, not a file", "larger than 1 MiB", ...
	Err  error
}

func (e *Error) Error() string { return e.Path + ": " + e.Why }
func (e *Error) Unwrap() error { return e.Err }

// Why returns the reason an error gives for its file, without the path: for
// evidence that already names the file.
func Why(err error) string {
	var he *Error
	if errors.As(err, &he) {
		return he.Why
	}
	return err.Error()
}

// Info describes a file as it was opened.
type Info struct {
	Path string // resolved path on the inspected system, symlinks followed
	Mode fs.FileMode
	UID  uint32
	GID  uint32
	Size int64
}

func infoOf(p string, st *unix.Stat_t) Info {
	return Info{Path: p, Mode: modeOf(st), UID: st.Uid, GID: st.Gid, Size: st.Size}
}

// FS reads the files of one inspected system.
type FS struct {
	// Root is where the inspected system's "/" is: "/" (or "") for the
	// running host, a mounted image otherwise. Paths never escape it.
	Root string
}

// Host is the running system.
var Host = FS{Root: "/"}

// ReadFile reads a file of the running system by absolute path, the way
// FS.ReadFile does. A relative path is taken from the working directory.
func ReadFile(ctx context.Context, p string, spec Spec) ([]byte, error) {
	if !filepath.IsAbs(p) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, &Error{Path: p, Why: err.Error(), Err: err}
		}
		p = abs
	}
	return Host.ReadFile(ctx, p, spec)
}

// File is an open file of the inspected system.
type File struct {
	f    *os.File
	Info Info
	// Dirs are the directories of the resolved path, outermost first
	// (only when the path was walked, which Spec.As always does).
	Dirs []Info
	max  int64
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// ReadAt reads at an offset, for a header at a known place (a LUKS
// superblock on a block device). The caller bounds what it asks for.
func (f *File) ReadAt(b []byte, off int64) (int, error) { return f.f.ReadAt(b, off) }

// ReadAll reads the whole file, at most the cap, checking ctx between reads.
func (f *File) ReadAll(ctx context.Context) ([]byte, error) {
	size := f.Info.Size
	if size <= 0 || size > f.max {
		size = 4096
	}
	buf := make([]byte, 0, size+1)
	for {
		if err := ctx.Err(); err != nil {
			return nil, &Error{Path: f.Info.Path, Why: "read stopped: " + err.Error(), Err: err}
		}
		if int64(len(buf)) > f.max {
			return nil, tooLarge(f.Info.Path, f.max)
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := min(cap(buf)-len(buf), 1<<20)
		n, err := f.f.Read(buf[len(buf) : len(buf)+room])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			if int64(len(buf)) > f.max {
				return nil, tooLarge(f.Info.Path, f.max)
			}
			return buf, nil
		}
		if err != nil {
			return nil, &Error{Path: f.Info.Path, Why: "read: " + errnoText(err), Err: err}
		}
	}
}

// ReadDir lists a directory opened with Kinds including Dir, at most
// MaxDirEntries names, sorted by name as os.ReadDir sorts them. An entry's
// Type is what the directory says; Info lstats it by name on the host.
func (f *File) ReadDir() ([]fs.DirEntry, error) {
	ents, err := f.f.ReadDir(MaxDirEntries + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{Path: f.Info.Path, Why: "list: " + errnoText(err), Err: err}
	}
	if len(ents) > MaxDirEntries {
		return nil, &Error{Path: f.Info.Path, Why: fmt.Sprintf("more than %d entries", MaxDirEntries), Err: ErrTooLarge}
	}
	sortEntries(ents)
	return ents, nil
}

func tooLarge(p string, max int64) error {
	return &Error{Path: p, Why: "larger than " + humanSize(max) + ": not read", Err: ErrTooLarge}
}

// ReadFile opens, checks and reads one file.
func (h FS) ReadFile(ctx context.Context, p string, spec Spec) ([]byte, error) {
	f, err := h.Open(ctx, p, spec)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadAll(ctx)
}

// ReadDir lists a directory of the inspected system.
func (h FS) ReadDir(ctx context.Context, p string, spec Spec) ([]fs.DirEntry, error) {
	spec.Kinds = Dir
	f, err := h.Open(ctx, p, spec)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir()
}

// Stat resolves a path as Open does and describes what it finds, of any
// kind, without reading it.
func (h FS) Stat(ctx context.Context, p string, spec Spec) (*File, error) {
	spec.Kinds = Regular | Dir | FIFO | Socket | CharDevice | BlockDevice
	r, err := h.walk(ctx, p, spec)
	if err != nil {
		return nil, err
	}
	r.closeDirs()
	unix.Close(r.fd)
	return &File{Info: r.info, Dirs: r.dirInfos()}, nil
}

// Exists reports whether the path names something, following only the
// symlinks a root read follows. A check that only needs "is it there"
// must not open it.
func (h FS) Exists(ctx context.Context, p string) bool {
	_, err := h.Stat(ctx, p, Spec{})
	return err == nil
}

// Open resolves p under the root with the rules of Spec and opens it for
// reading.
func (h FS) Open(ctx context.Context, p string, spec Spec) (*File, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Path: p, Why: "open stopped: " + err.Error(), Err: err}
	}
	if spec.As == nil && openat2Works.Load() {
		f, err := h.openFast(p, spec)
		if f != nil || err != nil {
			return f, err
		}
	}
	r, err := h.walk(ctx, p, spec)
	if err != nil {
		return nil, err
	}
	defer r.closeDirs()
	defer unix.Close(r.fd)
	fd, err := r.reopen()
	if err != nil {
		return nil, err
	}
	return &File{f: os.NewFile(uintptr(fd), h.hostPath(r.info.Path)), Info: r.info, Dirs: r.dirInfos(), max: spec.max()}, nil
}

// openat2Works turns off after the kernel (or a seccomp filter) refuses
// openat2 once.
var openat2Works atomic.Bool

func init() { openat2Works.Store(true) }

const readFlags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC

// openFast opens a path with no symlink in it in one openat2 call. It
// returns nil, nil when the path must be walked instead.
func (h FS) openFast(p string, spec Spec) (*File, error) {
	rootfd, err := h.openRoot()
	if err != nil {
		return nil, err
	}
	defer unix.Close(rootfd)
	rel := strings.TrimLeft(path.Clean("/"+p), "/")
	if rel == "" {
		rel = "."
	}
	flags := uint64(readFlags)
	if spec.kinds()&Dir != 0 && spec.kinds()&^Dir == 0 {
		flags |= unix.O_DIRECTORY
	}
	fd, err := unix.Openat2(rootfd, rel, &unix.OpenHow{
		Flags:   flags,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_IN_ROOT,
	})
	switch {
	case err == nil:
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV), errors.Is(err, unix.ENOTDIR) && flags&unix.O_DIRECTORY != 0:
		return nil, nil // a symlink on the way: walk it
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM), errors.Is(err, unix.EINVAL), errors.Is(err, unix.E2BIG):
		openat2Works.Store(false)
		return nil, nil
	default:
		return nil, openError(p, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, openError(p, err)
	}
	clean := path.Clean("/" + p)
	if err := checkFinal(clean, &st, fd, spec, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &File{f: os.NewFile(uintptr(fd), h.hostPath(clean)), Info: infoOf(clean, &st), max: spec.max()}, nil
}

// HostPath is where a path of the inspected system is on this host: for
// what must walk a tree with the standard library (a glob), never to read.
func (h FS) HostPath(p string) string { return h.hostPath(p) }

func (h FS) hostPath(p string) string {
	if h.Root == "" || h.Root == "/" {
		return p
	}
	return filepath.Join(h.Root, p)
}

func (h FS) openRoot() (int, error) {
	root := h.Root
	if root == "" {
		root = "/"
	}
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &Error{Path: root, Why: "open the inspected root: " + errnoText(err), Err: err}
	}
	return fd, nil
}

// openError turns an errno from opening p into an *Error that still
// matches fs.ErrNotExist and fs.ErrPermission.
func openError(p string, err error) error {
	if errors.Is(err, unix.ENOTDIR) {
		return &Error{Path: p, Why: "does not exist (a component is not a directory)", Err: fs.ErrNotExist}
	}
	if errors.Is(err, unix.ELOOP) {
		return &Error{Path: p, Why: "too many levels of symbolic links", Err: err}
	}
	return &Error{Path: p, Why: errnoText(err), Err: err}
}

func errnoText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return err.Error()
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
