//go:build vmtest

package vmtest

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]`)

// guestFwdAddr is where the guest reaches the host's file server: qemu's
// user network forwards it to a loopback port on the host.
const guestFwdAddr = "10.0.2.100"

// guestFwdEnv, when set in the environment of the test binary, turns it into
// the per-connection relay qemu spawns for guestfwd (see TestMain).
const guestFwdEnv = "VIGIE_VMTEST_GUESTFWD"

// vmConfig says what to boot.
type vmConfig struct {
	// Suite is the guest's Debian suite (bookworm, trixie); "" is the
	// default one (bookworm, or VIGIE_VM_SUITE). bootGuest builds Image
	// from it.
	Suite     string
	Image     guestImage
	Dir       string // per-run directory: overlay, disks, console log
	UserData  string
	MetaData  string
	SSHPort   int    // host loopback port forwarded to the guest's sshd
	FileSrv   string // host loopback address the guest reaches as 10.0.2.100:80
	MemoryMiB int
	// SSHGuestPort is the guest port SSHPort reaches; 0 is 22.
	SSHGuestPort int
	// ExtraFwd forwards more host loopback ports to guest ports.
	ExtraFwd map[int]int
	// AllowReboot lets a guest reboot go on instead of ending qemu.
	AllowReboot bool
	// GuestFwd makes more guest addresses ("10.0.2.101:443") reach host
	// loopback ports: each connection is relayed to 127.0.0.1:PORT.
	GuestFwd map[string]int
	// GuestFwdCmd makes guest addresses reach the command qemu starts for
	// each connection ("socat - TCP:127.0.0.1:PORT"), given as is.
	GuestFwdCmd map[string]string
	// Net, when set, replaces the user network's 10.0.2.0/24.
	Net *userNet
	// SMBIOS sets the DMI system (type 1) strings the guest reads in
	// /sys/class/dmi/id: "manufacturer", "product".
	SMBIOS map[string]string
	// SCSI disks on a virtio-scsi controller, NVMe disks: blank, created in
	// Dir.
	SCSI []scsiDisk
	NVMe []nvmeDisk
}

// vm is one running qemu.
type vm struct {
	cfg     vmConfig
	cmd     *exec.Cmd
	Console string // serial console log
	monitor string // HMP monitor socket
	results string // raw disk the guest writes its evidence on
	done    chan struct{}
	waitErr error
	once    sync.Once
}

// startVM creates the overlay, the seed and the blank disks under cfg.Dir and
// starts qemu. The test's cleanup stops it if the test did not.
func startVM(t *testing.T, cfg vmConfig) *vm {
	t.Helper()
	if cfg.MemoryMiB == 0 {
		cfg.MemoryMiB = 1536
	}
	d := cfg.Dir
	v := &vm{
		cfg:     cfg,
		Console: filepath.Join(d, "console.log"),
		monitor: filepath.Join(d, "monitor.sock"),
		results: filepath.Join(d, "results.img"),
		done:    make(chan struct{}),
	}
	root := filepath.Join(d, "root.qcow2")
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", cfg.Image.Root, root)
	seed := makeSeed(t, d, cfg.UserData, cfg.MetaData)
	for name, size := range map[string]int64{"scratch1.img": 256 << 20, "scratch2.img": 256 << 20, "swap1.img": 64 << 20, "results.img": 64 << 20} {
		if err := os.Truncate(createFile(t, filepath.Join(d, name)), size); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(self, ", ") {
		t.Fatalf("test binary path %q has a comma or space: qemu's guestfwd cannot run it", self)
	}
	sshGuest := cfg.SSHGuestPort
	if sshGuest == 0 {
		sshGuest = 22
	}
	nic := "user,model=virtio-net-pci,restrict=on"
	if n := cfg.Net; n != nil {
		nic += ",net=" + n.Net + ",host=" + n.Host + ",dhcpstart=" + n.DHCPStart
	}
	nic += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:%d,guestfwd=tcp:%s:80-cmd:%s",
		cfg.SSHPort, sshGuest, cfg.fileAddr(), self)
	for guest, command := range cfg.GuestFwdCmd {
		nic += fmt.Sprintf(",guestfwd=tcp:%s-cmd:%s", guest, command)
	}
	for host, guest := range cfg.ExtraFwd {
		nic += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:%d", host, guest)
	}
	for guest, port := range cfg.GuestFwd {
		// qemu passes no arguments to a guestfwd command: the target port
		// is in the name of a link to this binary (see TestMain).
		relay := filepath.Join(d, relayPrefix+strconv.Itoa(port))
		if err := os.Symlink(self, relay); err != nil {
			t.Fatal(err)
		}
		nic += fmt.Sprintf(",guestfwd=tcp:%s-cmd:%s", guest, relay)
	}

	args := []string{
		// RDRAND seeds the guest kernel's RNG at 0.05 s, before its second
		// CPU starts. Without it the RNG is ready only once userspace runs
		// (12-19 s), and the kernel then patches a static key in
		// getrandom's path (int3 breakpoints) while the other vCPU runs
		// that code: under multi-threaded TCG a Debian 13 guest died of
		// "Oops: int3" in crng_make_state there.
		"-accel", "tcg,thread=multi", "-cpu", "qemu64,+rdrand", "-smp", "2", "-m", strconv.Itoa(cfg.MemoryMiB),
		"-nodefaults", "-no-user-config", "-display", "none",
		"-kernel", cfg.Image.Kernel, "-initrd", cfg.Image.Initrd,
		"-append", "root=LABEL=vigie-root rw console=ttyS0 net.ifnames=0 panic=-1",
		"-drive", "if=none,id=root,format=qcow2,file=" + root,
		"-device", "virtio-blk-pci,drive=root,serial=root",
		"-drive", "if=none,id=seed,format=raw,readonly=on,file=" + seed,
		"-device", "virtio-blk-pci,drive=seed,serial=seed",
		// Blank disks for the disk checks, and the results disk.
		"-drive", "if=none,id=scratch1,format=raw,file=" + filepath.Join(d, "scratch1.img"),
		"-device", "virtio-blk-pci,drive=scratch1,serial=scratch1",
		"-drive", "if=none,id=scratch2,format=raw,file=" + filepath.Join(d, "scratch2.img"),
		"-device", "virtio-blk-pci,drive=scratch2,serial=scratch2",
		"-drive", "if=none,id=swap1,format=raw,file=" + filepath.Join(d, "swap1.img"),
		"-device", "virtio-blk-pci,drive=swap1,serial=swap1",
		"-drive", "if=none,id=results,format=raw,file=" + v.results,
		"-device", "virtio-blk-pci,drive=results,serial=results",
		"-nic", nic,
		"-serial", "file:" + v.Console,
		"-monitor", "unix:" + v.monitor + ",server=on,wait=off",
	}
	args = append(args, cfg.extraDisks(t, d)...)
	if !cfg.AllowReboot {
		args = append(args, "-no-reboot") // a reboot or a panic ends qemu
	}
	cmd := exec.Command("qemu-system-x86_64", args...)
	cmd.Env = append(os.Environ(), guestFwdEnv+"="+cfg.FileSrv)
	qlog := createFile(t, filepath.Join(d, "qemu.log"))
	out, err := os.OpenFile(qlog, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start qemu: %v", err)
	}
	v.cmd = cmd
	go func() {
		v.waitErr = cmd.Wait()
		out.Close()
		close(v.done)
	}()
	t.Cleanup(v.kill)
	t.Logf("qemu started: ssh on 127.0.0.1:%d, console log %s", cfg.SSHPort, v.Console)
	return v
}

// exited reports whether qemu has ended.
func (v *vm) exited() bool {
	select {
	case <-v.done:
		return true
	default:
		return false
	}
}

// kill ends qemu and the relays it spawned, if still running.
func (v *vm) kill() {
	v.once.Do(func() {
		if v.cmd == nil || v.exited() {
			return
		}
		_ = syscall.Kill(-v.cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-v.done:
		case <-time.After(10 * time.Second):
		}
	})
}

// waitExit waits for qemu to end by itself within d.
func (v *vm) waitExit(d time.Duration) error {
	select {
	case <-v.done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("qemu still running after %s", d)
	}
}

// powerdown presses the virtual power button through the monitor.
func (v *vm) powerdown() error {
	c, err := net.DialTimeout("unix", v.monitor, 5*time.Second)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(c, "system_powerdown\n")
	return err
}

// stop shuts the guest down cleanly if it can (so the collector writes the
// results disk), and kills qemu if it has not ended within d.
func (v *vm) stop(d time.Duration) {
	if v.exited() {
		return
	}
	_ = v.powerdown()
	if err := v.waitExit(d); err != nil {
		v.kill()
	}
}

// consoleTail is the end of the serial console, for failure messages.
func (v *vm) consoleTail(n int) string {
	return fmt.Sprintf("--- console %s (last %d lines) ---\n%s\n--- end of console ---", v.Console, n, tailFile(v.Console, n))
}

// readResults untars the results disk the guest wrote at shutdown.
func (v *vm) readResults() (map[string][]byte, error) {
	f, err := os.Open(v.results)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return files, fmt.Errorf("results disk: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return files, fmt.Errorf("results disk: %s: %w", h.Name, err)
		}
		files[strings.TrimPrefix(h.Name, "./")] = data
	}
	if len(files) == 0 {
		return nil, errors.New("results disk is empty: the guest did not shut down cleanly")
	}
	return files, nil
}

// makeSeed writes the NoCloud seed ISO (volume label cidata).
func makeSeed(t *testing.T, dir, userData, metaData string) string {
	t.Helper()
	sd := filepath.Join(dir, "seed")
	if err := os.MkdirAll(sd, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"user-data": userData, "meta-data": metaData} {
		if err := os.WriteFile(filepath.Join(sd, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	iso := filepath.Join(dir, "seed.iso")
	run(t, "genisoimage", "-quiet", "-output", iso, "-volid", "cidata", "-joliet", "-rock",
		filepath.Join(sd, "user-data"), filepath.Join(sd, "meta-data"))
	return iso
}

func createFile(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// run runs a short host command and fails the test with its output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// relayGuestFwd is the process qemu spawns for each guest connection to
// 10.0.2.100:80: stdin and stdout are the guest's socket, relayed to the
// host's file server on loopback.
// relayPrefix names the links to the test binary that relay a guestfwd
// connection to 127.0.0.1:PORT, PORT being the rest of the name.
const relayPrefix = "relay-"

func relayGuestFwd(target string) int {
	c, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "guestfwd relay: %v\n", err)
		return 1
	}
	conn := c.(*net.TCPConn)
	go func() {
		_, _ = io.Copy(conn, os.Stdin)
		_ = conn.CloseWrite()
	}()
	_, _ = io.Copy(os.Stdout, conn)
	return 0
}
