package patches

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vigie-agent/vigie/checks"
)

// Check ids of the patches area.
const (
	IDSecurityPending = "patches.security-pending"
	IDPending         = "patches.pending"
	IDReboot          = "patches.reboot-required"
	IDAutoUpdates     = "patches.auto-updates"
	IDIndexFresh      = "patches.index-fresh"
	IDOSSupported     = "patches.os-supported"
)

// IndexStale says why the package index cannot vouch for "nothing
// pending", or "" when it can. Where the sources are known one by one, the
// sources of security updates are judged, the oldest first: one list
// refreshed today does not vouch for a security list a week old.
func (f *Facts) IndexStale() string {
	if len(f.Indexes) > 0 {
		judged := f.securitySources()
		if len(judged) == 0 {
			return fmt.Sprintf("no source of security updates is configured: none of the %d lists under /var/lib/apt/lists is a security archive (Label or Origin Debian-Security, a suite ending in -security)", len(f.Indexes))
		}
		old := judged[0]
		if age := f.Now.Sub(old.Fetched); age > f.MaxIndexAge {
			return fmt.Sprintf("%s %s (%s) is %s old (refreshed %s)", f.sourceWord(), old.Name, old.File, roundAge(age), old.Fetched.UTC().Format(time.RFC3339))
		}
		return ""
	}
	if f.IndexNewest.IsZero() {
		if f.IndexErr != "" {
			return f.IndexErr
		}
		return "the package index age is unknown"
	}
	if age := f.Now.Sub(f.IndexNewest); age > f.MaxIndexAge {
		return fmt.Sprintf("the package index is %s old (refreshed %s)", roundAge(age), f.IndexNewest.UTC().Format(time.RFC3339))
	}
	return ""
}

// sourceWord names what is judged: apt's security archive, or any
// repository of dnf and zypper.
func (f *Facts) sourceWord() string {
	if f.Manager == "apt" {
		return "the security source"
	}
	return "the repository"
}

// securitySources are the sources of security updates, oldest first.
func (f *Facts) securitySources() []IndexSource {
	var out []IndexSource
	for _, s := range f.Indexes {
		if s.Security {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Fetched.Before(out[j].Fetched) })
	return out
}

func roundAge(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	return d.Round(time.Minute).String()
}

func describeUpdate(u Update) string {
	s := u.Name
	if u.Arch != "" && u.Arch != "all" && u.Arch != "noarch" {
		s += ":" + u.Arch
	}
	if u.From != "" {
		s += " " + u.From + " -> " + u.To
	} else if u.To != "" {
		s += " " + u.To
	}
	var extra []string
	if len(u.Advisories) > 0 {
		extra = append(extra, strings.Join(u.Advisories, ","))
	}
	if u.Severity != "" {
		extra = append(extra, u.Severity)
	}
	if len(u.CVEs) > 0 {
		extra = append(extra, strings.Join(u.CVEs, ","))
	}
	if len(u.Archives) > 0 {
		extra = append(extra, strings.Join(u.Archives, ","))
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, "; ") + ")"
	}
	return s
}

// pendingRule fails when some update selected by pick is pending.
func pendingRule(pick func(Update) bool, what string) func(*Facts) checks.Result {
	return func(f *Facts) checks.Result {
		if f.UpdatesErr != "" {
			return checks.Errorf("%s: %s", f.Manager, f.UpdatesErr)
		}
		var list []string
		for _, u := range f.Updates {
			if pick(u) {
				list = append(list, describeUpdate(u))
			}
		}
		if list == nil {
			list = []string{}
		}
		ev := []checks.Evidence{{Key: what, Value: list, Source: f.Source, Want: "none", OK: len(list) == 0}}
		stale := f.IndexStale()
		if stale != "" {
			ev = append(ev, checks.Evidence{Key: "index", Value: stale, Source: f.Manager})
		}
		switch {
		case len(list) > 0:
			return checks.Failf("%d %s pending: %s", len(list), what, checks.Abridge(list, 5, "; ")).With(ev...)
		case stale != "":
			return checks.Errorf("no %s pending according to an index that cannot be trusted: %s", what, stale).With(ev...)
		}
		return checks.Passf("no %s pending (%s)", what, f.Source).With(ev...)
	}
}

func isSecurity(u Update) bool { return u.Security }

// isPackage counts packages, not zypper patches (which group packages).
func isPackage(u Update) bool { return !u.Patch }

func rebootRule(f *Facts) checks.Result {
	r := f.Reboot
	var ev []checks.Evidence
	if r.RunningKernel != "" {
		ev = append(ev, checks.Evidence{Key: "running_kernel", Value: r.RunningKernel, Source: "/proc/sys/kernel/osrelease", OK: true})
	}
	if r.NewestKernel != "" {
		ev = append(ev, checks.Evidence{Key: "newest_installed_kernel", Value: r.NewestKernel, Source: "/boot/vmlinuz-*", OK: CompareVersions(r.NewestKernel, r.RunningKernel) <= 0})
	}
	for _, reason := range r.Reasons {
		ev = append(ev, checks.Evidence{Key: "reason", Value: reason, Want: "no reboot pending"})
	}
	switch {
	case r.Required:
		return checks.Failf("a reboot is required to run the installed fixes: %s", strings.Join(r.Reasons, "; ")).With(ev...)
	case r.Err != "":
		return checks.Errorf("%s", r.Err).With(ev...)
	}
	return checks.Passf("no reboot pending: the running kernel is the newest installed").With(ev...)
}

func autoRule(f *Facts) checks.Result {
	a := f.Auto
	if f.Manager == "zypper" {
		return checks.Skipf("automatic updates are not checked on zypper hosts yet")
	}
	if a.Tool == "" {
		return checks.Errorf("no package manager to check: %s", f.UpdatesErr)
	}
	var ev []checks.Evidence
	for _, d := range a.Details {
		ev = append(ev, checks.Evidence{Subject: a.Tool, Value: d, OK: true})
	}
	for _, p := range a.Problems {
		ev = append(ev, checks.Evidence{Subject: a.Tool, Value: p, Want: "security updates installed automatically"})
	}
	switch {
	case a.Err != "":
		return checks.Errorf("%s: %s", a.Tool, a.Err).With(ev...)
	case !a.Enabled:
		return checks.Failf("%s does not install security updates automatically: %s", a.Tool, strings.Join(a.Problems, "; ")).With(ev...)
	}
	return checks.Passf("%s installs security updates automatically", a.Tool).With(ev...)
}

func indexRule(f *Facts) checks.Result {
	if f.Manager == "" {
		return checks.Errorf("%s", f.UpdatesErr)
	}
	stale := f.IndexStale()
	ev := []checks.Evidence{{Key: "max_age", Value: f.MaxIndexAge.String(), Source: "patches.index_max_age", OK: true}}
	if len(f.Indexes) == 0 && !f.IndexNewest.IsZero() {
		ev = append(ev, checks.Evidence{Key: "refreshed", Value: f.IndexNewest.UTC().Format(time.RFC3339), Source: f.Manager, OK: stale == ""})
	}
	for _, s := range f.Indexes {
		e := checks.Evidence{Subject: s.Name, Key: "refreshed", Value: s.Fetched.UTC().Format(time.RFC3339), File: s.File, Source: f.Manager,
			Want: "within " + f.MaxIndexAge.String(), OK: f.Now.Sub(s.Fetched) <= f.MaxIndexAge}
		if !s.Security {
			e.Want, e.OK = "not judged: no security updates come from it", true
		}
		ev = append(ev, e)
	}
	if stale != "" {
		return checks.Failf("%s: pending updates published since are unknown", stale).With(ev...)
	}
	if sec := f.securitySources(); len(sec) > 0 {
		names := make([]string, 0, len(sec))
		for _, s := range sec {
			names = append(names, s.Name)
		}
		what := "the sources of security updates"
		if f.Manager != "apt" {
			what = "the enabled repositories"
		}
		return checks.Passf("%s were refreshed within %s, the oldest %s ago: %s",
			what, f.MaxIndexAge, roundAge(f.Now.Sub(sec[0].Fetched)), checks.Abridge(names, 5, ", ")).With(ev...)
	}
	return checks.Passf("the package index was refreshed %s ago", roundAge(f.Now.Sub(f.IndexNewest))).With(ev...)
}

func osRule(f *Facts) checks.Result {
	ev := []checks.Evidence{{Key: "os", Value: strings.TrimSpace(f.OS.ID + " " + f.OS.VersionID), Source: "/etc/os-release", OK: true}}
	s := f.Support
	if !s.Known {
		return checks.Skipf("%s is not in vigie's table of release support dates", strings.TrimSpace(f.OS.PrettyName+" ("+f.OS.ID+" "+f.OS.VersionID+")")).With(ev...)
	}
	ev = append(ev, checks.Evidence{Key: "security_support_until", Value: s.Until.Format("2006-01-02"), Source: "vigie's release table", OK: f.Now.Before(s.Until)})
	if !f.Now.Before(s.Until) {
		return checks.Failf("%s no longer receives security updates (support ended %s): upgrade to a supported release", s.Name, s.Until.Format("2006-01-02")).With(ev...)
	}
	left := s.Until.Sub(f.Now)
	msg := fmt.Sprintf("%s receives security updates until %s", s.Name, s.Until.Format("2006-01-02"))
	if s.Note != "" {
		msg += " (" + s.Note + ")"
	}
	if left < 180*24*time.Hour {
		msg += fmt.Sprintf(": %d days left, plan the upgrade", int(left.Hours()/24))
	}
	return checks.Passf("%s", msg).With(ev...)
}
