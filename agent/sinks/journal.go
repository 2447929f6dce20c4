package sinks

import (
	"fmt"
	"strconv"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/internal/printable"
)

// Bounds, in runes, of a journal entry's message and fields: journald
// would keep longer ones, but an entry should stay readable in journalctl.
const (
	journalReasonMax = 1024
	journalFieldMax  = 128
)

// field escapes a value for a journal field: journalctl -a prints fields
// raw, so a control character in one would reach the terminal of whoever
// reads the journal.
func field(s string) string { return printable.Line(s, journalFieldMax) }

// JournalSend is journal.Send, replaced in tests.
type JournalSend func(message string, priority journal.Priority, vars map[string]string) error

// priorityOf maps a failing finding's severity to a syslog priority, so
// `journalctl -p warning` shows what matters.
func priorityOf(s checks.Severity) journal.Priority {
	switch s {
	case checks.Critical:
		return journal.PriCrit
	case checks.High:
		return journal.PriErr
	case checks.Medium:
		return journal.PriWarning
	case checks.Low:
		return journal.PriNotice
	}
	return journal.PriInfo
}

// Journal writes one structured entry per failing finding and one
// summary for the run. Fields are upper case as journald wants them:
// `journalctl -t vigie VIGIE_STATUS=fail` lists the failures.
func Journal(send JournalSend, r *report.Report) error {
	send, ok := journalSender(send)
	if !ok {
		return nil // no journald on this host
	}
	for _, f := range r.Findings {
		if !f.Failing() {
			continue
		}
		v, p := findingEntry(r, f)
		msg := fmt.Sprintf("%s %s: %s", v["VIGIE_CHECK_ID"], v["VIGIE_STATUS"], printable.Line(f.Reason, journalReasonMax))
		if err := send(msg, p, v); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	return journalSummary(send, r, runFields(r))
}

// JournalChanges writes one entry per change since the report before (a
// check newly failing, resolved, or failing otherwise) and the run's
// summary: what an operator reading `journalctl -t vigie` needs to hear
// each hour, instead of every failing finding again.
// `journalctl -t vigie VIGIE_CHANGE=failing` lists what broke.
func JournalChanges(send JournalSend, r *report.Report, changes []report.Change) error {
	send, ok := journalSender(send)
	if !ok {
		return nil
	}
	for _, c := range changes {
		f := c.Finding
		v, p := findingEntry(r, f)
		if c.Kind == report.Resolved || c.Kind == report.Waived {
			p = journal.PriInfo
		}
		v["VIGIE_CHANGE"] = string(c.Kind)
		was := ""
		if c.Was != "" {
			v["VIGIE_PREVIOUS_STATUS"] = field(string(c.Was))
			was = " (was " + v["VIGIE_PREVIOUS_STATUS"] + ")"
		}
		msg := fmt.Sprintf("%s %s, %s%s: %s", v["VIGIE_CHECK_ID"], c.Kind, v["VIGIE_STATUS"], was, printable.Line(f.Reason, journalReasonMax))
		if err := send(msg, p, v); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	v := runFields(r)
	v["VIGIE_CHANGES"] = strconv.Itoa(len(changes))
	return journalSummary(send, r, v)
}

// journalSender is send, or journald's when nil; false when the host has
// no journald.
func journalSender(send JournalSend) (JournalSend, bool) {
	if send != nil {
		return send, true
	}
	if !journal.Enabled() {
		return nil, false
	}
	return journal.Send, true
}

// runFields are the fields of every entry of a run.
func runFields(r *report.Report) map[string]string {
	return map[string]string{"SYSLOG_IDENTIFIER": "vigie", "VIGIE_REPORT_ID": field(r.ID), "VIGIE_PROFILE": field(r.Profile)}
}

// findingEntry is a finding's fields and priority: by its severity, and
// a check that could not run a warning at most.
func findingEntry(r *report.Report, f checks.Finding) (map[string]string, journal.Priority) {
	v := runFields(r)
	v["VIGIE_CHECK_ID"] = field(f.ID)
	v["VIGIE_STATUS"] = field(string(f.Status))
	v["VIGIE_SEVERITY"] = f.Severity.String()
	v["VIGIE_AREA"] = field(f.Area())
	p := priorityOf(f.Severity)
	if f.Status == checks.Error && p > journal.PriWarning {
		p = journal.PriWarning
	}
	return v, p
}

func journalSummary(send JournalSend, r *report.Report, v map[string]string) error {
	s := r.Summary
	v["VIGIE_SUMMARY"] = "1"
	v["VIGIE_PASS"] = strconv.Itoa(s.Pass)
	v["VIGIE_FAIL"] = strconv.Itoa(s.Fail)
	v["VIGIE_ERROR"] = strconv.Itoa(s.Error)
	v["VIGIE_SKIP"] = strconv.Itoa(s.Skip)
	v["VIGIE_WAIVED"] = strconv.Itoa(s.Waived)
	p := journal.PriInfo
	if s.Fail+s.Error > 0 {
		p = journal.PriNotice
	}
	msg := fmt.Sprintf("%d checks: %d pass, %d fail, %d error, %d skip (profile %s, %d ms)", s.Total, s.Pass, s.Fail, s.Error, s.Skip, v["VIGIE_PROFILE"], r.DurationMS)
	if err := send(msg, p, v); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}
