package patches

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/vigie-agent/vigie/host"
)

// "RLSA-2024:1234 Important/Sec. openssl-libs-1:3.0.7-27.el9.x86_64": dnf4
// updateinfo list. The type column is "Important/Sec.", "Moderate/Sec.",
// "Low/Sec.", "Critical/Sec.", "Unknown/Sec." for security, "bugfix" or
// "enhancement" otherwise.
var updateinfoLine = regexp.MustCompile(`^(\S+)\s+(\S+)\s+(\S+)$`)

// ParseUpdateinfo reads `dnf updateinfo list` output (dnf4), one advisory
// and package per line. Lines that are not advisories (headers, metadata
// age notices) are skipped; a line with three columns that does not end in
// a package name-version.arch is an error.
func ParseUpdateinfo(out []byte) ([]Update, error) {
	byPkg := map[string]*Update{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		m := updateinfoLine.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(line, "Last metadata") || strings.HasPrefix(line, "Updating") {
			continue
		}
		id, kind, nevra := m[1], m[2], m[3]
		name, version, arch, ok := splitNEVRA(nevra)
		if !ok {
			continue
		}
		u := byPkg[nevra]
		if u == nil {
			u = &Update{Name: name, To: version, Arch: arch}
			byPkg[nevra] = u
			order = append(order, nevra)
		}
		u.Advisories = append(u.Advisories, id)
		if sev, sec := strings.CutSuffix(kind, "/Sec."); sec {
			u.Security = true
			if rank(sev) > rank(u.Severity) {
				u.Severity = sev
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dnf updateinfo output: %w", err)
	}
	out2 := make([]Update, 0, len(order))
	for _, k := range order {
		out2 = append(out2, *byPkg[k])
	}
	return out2, nil
}

func rank(sev string) int {
	switch strings.ToLower(sev) {
	case "critical":
		return 4
	case "important":
		return 3
	case "moderate":
		return 2
	case "low":
		return 1
	}
	return 0
}

var archs = map[string]bool{"x86_64": true, "noarch": true, "aarch64": true, "i686": true, "ppc64le": true, "s390x": true, "src": true}

// splitNEVRA splits "openssl-libs-1:3.0.7-27.el9.x86_64" into its name,
// [epoch:]version-release and arch.
func splitNEVRA(s string) (name, version, arch string, ok bool) {
	dot := strings.LastIndexByte(s, '.')
	if dot < 0 || !archs[s[dot+1:]] {
		return "", "", "", false
	}
	arch, s = s[dot+1:], s[:dot]
	rel := strings.LastIndexByte(s, '-')
	if rel <= 0 {
		return "", "", "", false
	}
	ver := strings.LastIndexByte(s[:rel], '-')
	if ver <= 0 {
		return "", "", "", false
	}
	return s[:ver], s[ver+1:], arch, true
}

// ParseCheckUpdate reads `dnf check-update` (exit status 100 when updates
// exist): "name.arch  version  repo" lines, until an "Obsoleting Packages"
// section.
func ParseCheckUpdate(out []byte) ([]Update, error) {
	var ups []Update
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Obsoleting Packages") || strings.HasPrefix(line, "Security:") {
			break
		}
		f := strings.Fields(line)
		if len(f) != 3 || strings.HasPrefix(line, " ") {
			continue
		}
		dot := strings.LastIndexByte(f[0], '.')
		if dot <= 0 || !archs[f[0][dot+1:]] {
			continue
		}
		ups = append(ups, Update{Name: f[0][:dot], Arch: f[0][dot+1:], To: f[1], Archives: []string{f[2]}})
	}
	return ups, sc.Err()
}

func gatherDnf(ctx context.Context, env *host.Env, opt Options, f *Facts) {
	quiet := []string{"-q", "--cacheonly"}
	if opt.Refresh {
		quiet = []string{"-q"}
	}
	f.Source = "dnf updateinfo list --security, dnf check-update"
	if env.Image {
		quiet = append(dnfImage(env), quiet...)
		f.Source += onImage
	}
	sec, err := env.Cmd.Run(ctx, "dnf", append(quiet, "updateinfo", "list", "--security")...)
	if err != nil {
		f.UpdatesErr = err.Error()
	}
	secUps, perr := ParseUpdateinfo(sec)
	if perr != nil && f.UpdatesErr == "" {
		f.UpdatesErr = perr.Error()
	}
	all, err := env.Cmd.Run(ctx, "dnf", append(quiet, "check-update")...)
	if err != nil && host.ExitCode(err) != 100 && f.UpdatesErr == "" {
		f.UpdatesErr = err.Error()
	}
	allUps, _ := ParseCheckUpdate(all)
	f.Updates = mergeSecurity(allUps, secUps)
	f.Indexes, f.IndexNewest, f.IndexErr = rpmIndexes(ctx, env)
	f.Auto = dnfAuto(ctx, env)
	if env.Image {
		return // whether a reboot is pending is no image's to say
	}
	out, err := env.Cmd.Run(ctx, "dnf", "-q", "needs-restarting", "-r")
	switch code := host.ExitCode(err); {
	case err == nil:
	case code == 1 && strings.Contains(string(out), "Reboot is required"):
		f.Reboot.Required = true
		f.Reboot.Reasons = append(f.Reboot.Reasons, "dnf needs-restarting -r: "+firstLine(string(out)))
	default:
		// Exit 1 also means "no such command" when dnf-plugins-core is
		// missing: only the text tells them apart.
		if f.Reboot.Err == "" {
			f.Reboot.Err = "dnf needs-restarting -r: " + err.Error()
		}
	}
}

// mergeSecurity marks the packages of check-update that an advisory
// lists, and adds advisory packages check-update did not show.
func mergeSecurity(all, sec []Update) []Update {
	idx := map[string]int{}
	for i, u := range all {
		idx[u.Name+"."+u.Arch] = i
	}
	for _, s := range sec {
		if i, ok := idx[s.Name+"."+s.Arch]; ok {
			all[i].Security = true
			all[i].Advisories = s.Advisories
			all[i].Severity = s.Severity
			continue
		}
		all = append(all, s)
	}
	return all
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
