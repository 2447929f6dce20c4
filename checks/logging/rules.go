package logging

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/vigie-agent/vigie/checks"
)

// Check ids of the logging area.
const (
	IDJournaldPersistent = "logging.journald-persistent"
	IDAudit              = "logging.audit"
	IDTimeSync           = "logging.time-sync"
)

func journaldRule(f *Facts) checks.Result {
	j := f.Journald
	if j.Err != "" {
		return checks.Errorf("%s", j.Err)
	}
	where := "compiled-in default (no Storage= in " + cmp.Or(strings.Join(j.Files, ", "), "any journald.conf") + ")"
	if j.File != "" {
		where = fmt.Sprintf("%s:%d", j.File, j.Line)
	}
	ev := []checks.Evidence{{Key: "Storage", Value: j.Storage, Want: "persistent, or auto with " + JournalDir + " present", Source: "journald.conf and drop-ins", File: j.File, Line: j.Line}}
	dir := checks.Evidence{Subject: JournalDir, Key: "directory", Value: j.JournalDir, Source: "filesystem", OK: j.JournalDir}
	if !j.JournalDir {
		dir.Value = j.DirNote
	}
	// An empty list, not null, where no journald.conf exists (the schema
	// has no null value).
	ev = append(ev, dir, checks.Evidence{Key: "files", Value: append([]string{}, j.Files...), Source: "journald's reading order", OK: true})
	for _, ig := range j.Ignored {
		ev = append(ev, checks.Evidence{Key: "ignored", Value: ig, OK: true})
	}
	switch {
	case j.Storage == "persistent":
		ev[0].OK = true
		return checks.Passf("journald keeps logs on disk: Storage=persistent (%s)", where).With(ev...)
	case j.Storage == "auto" && j.JournalDir:
		ev[0].OK = true
		return checks.Passf("journald keeps logs on disk: Storage=auto (%s) and %s exists", where, JournalDir).With(ev...)
	case j.Storage == "auto":
		return checks.Failf("journald keeps logs in memory only and loses them at reboot: Storage=auto (%s) and %s", where, j.DirNote).With(ev...)
	case j.Storage == "none":
		return checks.Failf("journald stores no logs at all: Storage=none (%s)", where).With(ev...)
	}
	return checks.Failf("journald keeps logs in memory only and loses them at reboot: Storage=%s (%s)", j.Storage, where).With(ev...)
}

// serviceEvidence describes a daemon for a finding.
func serviceEvidence(s Service, via Services, ok bool) checks.Evidence {
	src := []string{}
	if via.ActiveVia != "" {
		src = append(src, via.ActiveVia)
	}
	if via.EnabledVia != "" {
		src = append(src, via.EnabledVia)
	}
	if via.ProcOK {
		src = append(src, "process table")
	}
	return checks.Evidence{Subject: s.Name, Key: "running", Value: s.How(), Want: "running", Source: strings.Join(src, ", "), OK: ok}
}

// unknownServices says why running daemons cannot be told from stopped ones.
func unknownServices(s Services) string {
	return "cannot tell which daemons run: systemd: " + s.ActiveErr + "; " + s.ProcErr
}

func auditRule(f *Facts) checks.Result {
	s := f.Services
	if s.Image {
		return imageAuditRule(s)
	}
	if !s.Known() {
		return checks.Errorf("%s", unknownServices(s))
	}
	a := s.Audit
	if a.Running() {
		return checks.Passf("auditd runs: %s", a.How()).With(serviceEvidence(a, s, true))
	}
	return checks.Failf("auditd does not run: %s", a.How()).With(serviceEvidence(a, s, false))
}

func timeSyncRule(f *Facts) checks.Result {
	s := f.Services
	if s.Image {
		return imageTimeSyncRule(s)
	}
	var ev []checks.Evidence
	var running []string
	for _, t := range s.Time {
		r := t.Running()
		if r {
			running = append(running, t.Name)
		}
		if r || len(t.Enabled) > 0 {
			ev = append(ev, serviceEvidence(t, s, r))
		}
	}
	clock := "unknown (" + f.ClockErr + ")"
	if f.Clock != nil {
		clock = f.Clock.String()
		ev = append(ev, checks.Evidence{Subject: "kernel clock", Key: "synchronised", Value: clock, Want: fmt.Sprintf("maximum error below %s", maxSyncError), Source: "adjtimex(2)", OK: f.Clock.Synced()})
	}
	if f.Synchronized {
		ev = append(ev, checks.Evidence{Subject: "systemd-timesyncd", Key: "synchronised", Value: SyncMarker + " exists", Source: "filesystem", File: SyncMarker, OK: true})
	}
	kernelSynced := f.Clock != nil && f.Clock.Synced()
	switch {
	case !s.Known() && f.Clock == nil:
		return checks.Errorf("%s; kernel clock %s", unknownServices(s), clock).With(ev...)
	case len(running) == 0 && kernelSynced:
		return checks.Passf("the kernel reports a synchronised clock (%s), though none of systemd-timesyncd, chrony, ntpd runs", clock).With(ev...)
	case len(running) == 0 && !s.Known():
		return checks.Errorf("%s; and the kernel clock is not synchronised (%s)", unknownServices(s), clock).With(ev...)
	case len(running) == 0:
		return checks.Failf("no time synchronisation daemon runs (systemd-timesyncd, chrony, ntpd or OpenNTPD)").With(ev...)
	case len(running) > 1:
		return checks.Failf("%d time synchronisation daemons run and fight over the clock: %s", len(running), strings.Join(running, ", ")).With(ev...)
	case f.Clock != nil && !kernelSynced:
		return checks.Failf("%s runs but the kernel clock is not synchronised (%s): it cannot reach a time server or has just started", running[0], clock).With(ev...)
	case kernelSynced:
		return checks.Passf("%s runs and the kernel clock is synchronised", running[0]).With(ev...)
	case f.Synchronized:
		return checks.Passf("%s runs and has synchronised the clock (%s)", running[0], SyncMarker).With(ev...)
	}
	return checks.Passf("%s runs; the kernel clock state is %s", running[0], clock).With(ev...)
}
