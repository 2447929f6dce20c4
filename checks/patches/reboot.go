package patches

import (
	"bufio"
	"bytes"
	"context"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hostfs"
)

// readRebootFlags reads Debian's and Ubuntu's flag: update-notifier and
// unattended-upgrades create /run/reboot-required, and list the packages
// that asked for it in /run/reboot-required.pkgs.
func readRebootFlags(ctx context.Context, env *host.Env, r *Reboot) {
	for _, dir := range []string{"/run", "/var/run"} {
		if !env.FS().Exists(ctx, dir+"/reboot-required") {
			continue
		}
		r.Required = true
		reason := dir + "/reboot-required exists"
		if b, err := env.ReadFile(ctx, dir+"/reboot-required.pkgs", hostfs.Config); err == nil {
			pkgs := uniqueLines(b)
			if len(pkgs) > 0 {
				reason += " (asked by " + strings.Join(pkgs, ", ") + ")"
			}
		}
		r.Reasons = append(r.Reasons, reason)
		return
	}
}

func uniqueLines(b []byte) []string {
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// checkKernel compares the running kernel with the newest one installed
// in /boot: a newer one means its fixes wait for a reboot.
func checkKernel(ctx context.Context, env *host.Env, r *Reboot) {
	b, err := hostfs.ReadFile(ctx, filepath.Join(env.Proc, "sys/kernel/osrelease"), hostfs.Small)
	if err != nil {
		r.Err = "read running kernel release: " + err.Error()
		return
	}
	r.RunningKernel = strings.TrimSpace(string(b))
	files, _ := filepath.Glob(env.Path("/boot/vmlinuz-*"))
	var rels []string
	for _, f := range files {
		rels = append(rels, strings.TrimPrefix(filepath.Base(f), "vmlinuz-"))
	}
	if len(rels) == 0 {
		return // no kernel in /boot: a container, or a kernel booted from elsewhere
	}
	r.NewestKernel = NewestKernel(rels)
	if CompareVersions(r.NewestKernel, r.RunningKernel) > 0 {
		r.Required = true
		r.Reasons = append(r.Reasons, "kernel "+r.NewestKernel+" is installed, "+r.RunningKernel+" is running")
	}
}

// NewestKernel picks the highest kernel release, ignoring rescue images.
func NewestKernel(rels []string) string {
	var cands []string
	for _, r := range rels {
		if !strings.Contains(r, "rescue") {
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		return ""
	}
	sort.Slice(cands, func(i, j int) bool { return CompareVersions(cands[i], cands[j]) < 0 })
	return cands[len(cands)-1]
}
