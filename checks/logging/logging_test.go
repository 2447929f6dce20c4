package logging

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/checks/checkstest"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hosttest"
)

func TestParseConf(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // "section.key=value@line"
		errs []int
	}{
		{
			name: "sections, spaces around =, comments",
			in:   "# c\n; c\n[Journal]\n  Storage = persistent  \nCompress=yes\n\n[Upload]\nURL=https://x\n",
			want: []string{"Journal.Storage=persistent@4", "Journal.Compress=yes@5", "Upload.URL=https://x@8"},
		},
		{
			name: "continuation joins with a space and skips comment lines",
			in:   "[Journal]\nSystemMaxUse=1\\\n# skipped\n  G\nStorage=\\\n\tvolatile\n",
			want: []string{"Journal.SystemMaxUse=1 G@2", "Journal.Storage=volatile@5"},
		},
		{
			name: "empty assignment is kept, lines systemd ignores are errors",
			in:   "Storage=none\n[Journal]\nStorage=\nno equals sign\n=value\n[bad\n",
			want: []string{"Journal.Storage=@3"},
			errs: []int{1, 4, 5, 6},
		},
		{
			name: "a trailing backslash on the last line is kept",
			in:   "[Journal]\nStorage=auto\\",
			want: []string{`Journal.Storage=auto\@2`},
		},
		{
			name: "CRLF",
			in:   "[Journal]\r\nStorage=persistent\r\n",
			want: []string{"Journal.Storage=persistent@2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := ParseConf([]byte(tt.in))
			var s []string
			for _, g := range got {
				s = append(s, fmt.Sprintf("%s.%s=%s@%d", g.Section, g.Key, g.Value, g.Line))
			}
			if strings.Join(s, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %q, want %q", s, tt.want)
			}
			var lines []int
			for _, e := range errs {
				lines = append(lines, e.Line)
			}
			if fmt.Sprint(lines) != fmt.Sprint(tt.errs) {
				t.Errorf("error lines %v, want %v (%+v)", lines, tt.errs, errs)
			}
		})
	}
}

func TestReadJournald(t *testing.T) {
	tests := []struct {
		tree    string
		storage string
		where   string // "file:line", "" for the default
		files   []string
		ignored int
		dir     bool
	}{
		{tree: "debian12", storage: "auto", files: []string{"/etc/systemd/journald.conf"}, dir: true},
		{
			tree: "dropins", storage: "volatile", where: "/etc/systemd/journald.conf.d/50-volatile.conf:3",
			files:   []string{"/etc/systemd/journald.conf", "/usr/lib/systemd/journald.conf.d/10-vendor.conf", "/etc/systemd/journald.conf.d/50-volatile.conf", "/usr/lib/systemd/journald.conf.d/60-other.conf"},
			ignored: 2, dir: true,
		},
		{tree: "minimal", storage: "auto"},
		{tree: "continuation", storage: "persistent", where: "/etc/systemd/journald.conf:7", files: []string{"/etc/systemd/journald.conf"}},
	}
	for _, tt := range tests {
		t.Run(tt.tree, func(t *testing.T) {
			j := ReadJournald(context.Background(), hosttest.Fixture(t, tt.tree))
			if j.Err != "" {
				t.Fatal(j.Err)
			}
			where := ""
			if j.File != "" {
				where = fmt.Sprintf("%s:%d", j.File, j.Line)
			}
			if j.Storage != tt.storage || where != tt.where {
				t.Errorf("Storage=%s at %q, want %s at %q", j.Storage, where, tt.storage, tt.where)
			}
			if strings.Join(j.Files, " ") != strings.Join(tt.files, " ") {
				t.Errorf("files %v, want %v", j.Files, tt.files)
			}
			if len(j.Ignored) != tt.ignored {
				t.Errorf("ignored %q, want %d", j.Ignored, tt.ignored)
			}
			if j.JournalDir != tt.dir {
				t.Errorf("journal dir %v (%s)", j.JournalDir, j.DirNote)
			}
		})
	}
}

func TestFixtureScenarios(t *testing.T) {
	tests := []struct {
		tree  string
		wants map[string]checkstest.Want
	}{
		{"debian12", map[string]checkstest.Want{
			IDJournaldPersistent: {Status: checks.Pass, Reason: []string{"Storage=auto (compiled-in default", "/var/log/journal exists"}},
			// kauditd is the kernel thread, not the daemon.
			IDAudit:    {Status: checks.Fail, Reason: []string{"not installed"}},
			IDTimeSync: {Status: checks.Pass, Reason: []string{"systemd-timesyncd runs and has synchronised the clock"}},
		}},
		{"dropins", map[string]checkstest.Want{
			IDJournaldPersistent: {Status: checks.Fail, Reason: []string{"Storage=volatile (/etc/systemd/journald.conf.d/50-volatile.conf:3)"}},
			IDAudit:              {Status: checks.Pass, Reason: []string{"unit auditd.service enabled", "pid 601"}},
			IDTimeSync:           {Status: checks.Pass, Reason: []string{"chrony runs; the kernel clock state is unknown"}},
		}},
		{"minimal", map[string]checkstest.Want{
			IDJournaldPersistent: {Status: checks.Fail, Reason: []string{"/var/log/journal does not exist"}},
			IDAudit:              {Status: checks.Fail, Reason: []string{"auditd.service enabled"}},
			IDTimeSync:           {Status: checks.Fail, Reason: []string{"no time synchronisation daemon runs"}},
		}},
		{"continuation", map[string]checkstest.Want{
			IDJournaldPersistent: {Status: checks.Pass, Reason: []string{"Storage=persistent (/etc/systemd/journald.conf:7)"}},
			IDTimeSync:           {Status: checks.Fail, Reason: []string{"2 time synchronisation daemons", "systemd-timesyncd, chrony"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.tree, func(t *testing.T) {
			got := checkstest.ByID(New(Options{}).Run(context.Background(), hosttest.Fixture(t, tt.tree)))
			if len(got) != len(rules) {
				t.Fatalf("%d findings", len(got))
			}
			for id, w := range tt.wants {
				checkstest.Expect(t, got[id], w)
			}
		})
	}
}

// TestEvidenceCitesFile: the failing journald finding names the drop-in
// and line that set the value.
func TestEvidenceCitesFile(t *testing.T) {
	f := Gather(context.Background(), hosttest.Fixture(t, "dropins"), Options{})
	r := journaldRule(f)
	if len(r.Evidence) == 0 || r.Evidence[0].File != "/etc/systemd/journald.conf.d/50-volatile.conf" || r.Evidence[0].Line != 3 || r.Evidence[0].Value != "volatile" || r.Evidence[0].OK {
		t.Errorf("%+v", r.Evidence)
	}
}

func TestTimeSyncClock(t *testing.T) {
	running := Service{Daemon: timeDaemons[1], PIDs: []int{700}}
	stopped := Service{Daemon: timeDaemons[0], Enabled: map[string]string{"systemd-timesyncd.service": "disabled"}}
	synced := &KernelClock{MaxError: 120 * time.Millisecond}
	adrift := &KernelClock{MaxError: 16 * time.Second, Unsync: true, State: 5}
	known := Services{ProcOK: true}
	unknown := Services{ActiveErr: "systemd is not running", ProcErr: "read process table: no such file"}
	tests := []struct {
		name  string
		svcs  Services
		time  []Service
		clock *KernelClock
		want  checkstest.Want
	}{
		{"daemon and synced clock", known, []Service{running}, synced, checkstest.Want{Status: checks.Pass, Reason: []string{"chrony runs and the kernel clock is synchronised"}}},
		{"daemon but clock adrift", known, []Service{running}, adrift, checkstest.Want{Status: checks.Fail, Reason: []string{"chrony runs but the kernel clock is not synchronised", "maximum error 16s"}}},
		{"no daemon but clock disciplined", known, []Service{stopped}, synced, checkstest.Want{Status: checks.Pass, Reason: []string{"none of systemd-timesyncd, chrony, ntpd runs"}}},
		{"no daemon, clock adrift", known, []Service{stopped}, adrift, checkstest.Want{Status: checks.Fail, Reason: []string{"no time synchronisation daemon"}}},
		{"nothing known", unknown, []Service{stopped}, nil, checkstest.Want{Status: checks.Error, Reason: []string{"cannot tell which daemons run", "systemd is not running"}}},
		{"services unknown, clock adrift", unknown, []Service{stopped}, adrift, checkstest.Want{Status: checks.Error, Reason: []string{"not synchronised"}}},
		{"services unknown, clock synced", unknown, []Service{stopped}, synced, checkstest.Want{Status: checks.Pass, Reason: []string{"kernel reports a synchronised clock"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.svcs.Time = tt.time
			f := &Facts{Services: tt.svcs, Clock: tt.clock, ClockErr: "not read"}
			r := timeSyncRule(f)
			checkstest.Expect(t, checks.NewFinding(checks.Meta{ID: IDTimeSync}, r), tt.want)
		})
	}
}

func TestAuditUnknown(t *testing.T) {
	f := &Facts{Services: Services{Audit: Service{Daemon: auditDaemon}, ActiveErr: "not asked", ProcErr: "read process table: denied"}}
	fi := checkstest.ByID(Evaluate(f))[IDAudit]
	checkstest.Expect(t, fi, checkstest.Want{Status: checks.Error, Reason: []string{"cannot tell", "denied"}})
	if fi.Severity != checks.Low {
		t.Errorf("severity %s", fi.Severity)
	}
}

// TestJournaldUnreadable: a drop-in directory that cannot be listed makes
// the check an error, not a silent default.
func TestJournaldUnreadable(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc/systemd"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A file where a directory is expected: ReadDir fails with ENOTDIR.
	if err := os.WriteFile(filepath.Join(root, "etc/systemd/journald.conf.d"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fi := checkstest.ByID(Evaluate(&Facts{Journald: ReadJournald(context.Background(), &host.Env{Root: root})}))[IDJournaldPersistent]
	checkstest.Expect(t, fi, checkstest.Want{Status: checks.Error, Reason: []string{"journald.conf.d"}})
}

func TestComm(t *testing.T) {
	if comm("systemd-timesyncd") != "systemd-timesyn" || comm("auditd") != "auditd" {
		t.Error(comm("systemd-timesyncd"))
	}
}

// TestLiveSystem reads this machine: journald's configuration, systemd or
// the process table, the kernel clock.
func TestLiveSystem(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the live system")
	}
	f := Gather(context.Background(), host.DefaultEnv(), Options{})
	if f.Clock == nil {
		t.Errorf("kernel clock not read: %s", f.ClockErr)
	}
	if !f.Services.Known() {
		t.Errorf("neither systemd nor /proc answered: %s / %s", f.Services.ActiveErr, f.Services.ProcErr)
	}
	for _, fi := range Evaluate(f) {
		if fi.Status == "" {
			t.Errorf("%s: no status", fi.ID)
		}
		t.Logf("%s: %s %s", fi.ID, fi.Status, fi.Reason)
	}
}
