package access

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/checks/checkstest"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/accounts"
	"github.com/vigie-agent/vigie/host/hosttest"

	"github.com/vigie-agent/vigie/checks"
)

type want struct {
	status   checks.Status
	reason   []string // substrings of the reason
	bad      []string // failing evidence, "subject@file:line"
	good     []string // passing evidence with a file, "subject@file:line"
	severity checks.Severity
}

func checkFinding(t *testing.T, f checks.Finding, w want) {
	t.Helper()
	checkstest.Expect(t, f, checkstest.Want{Status: w.status, Reason: w.reason, Bad: w.bad, Good: w.good})
	if f.Severity != w.severity {
		t.Errorf("%s: severity %s, want %s", f.ID, f.Severity, w.severity)
	}
}

func TestFixtureScenarios(t *testing.T) {
	tests := []struct {
		tree  string
		wants map[string]want
	}{
		{
			// A Debian 12 cloud image after first boot: the real sudoers of
			// the sudo package, cloud-init's rule for the default user.
			tree: "debian12-cloud",
			wants: map[string]want{
				IDUID0:           {status: checks.Pass, good: []string{"root@/etc/passwd:1"}, severity: checks.High},
				IDEmptyPasswords: {status: checks.Pass, reason: []string{"23 accounts"}, severity: checks.High},
				IDSudoNoPasswd: {
					status:   checks.Fail,
					reason:   []string{"/etc/sudoers.d/90-cloud-init-users:4 debian", "written by cloud-init"},
					bad:      []string{"debian@/etc/sudoers.d/90-cloud-init-users:4"},
					severity: checks.Medium,
				},
				IDKeyOnly: {status: checks.Pass, reason: []string{"1 account(s)", "debian"}, good: []string{"debian@/etc/shadow:23"}, severity: checks.Info},
			},
		},
		{
			tree: "mixed",
			wants: map[string]want{
				IDUID0: {status: checks.Fail, reason: []string{"toor (/etc/passwd:5)"}, bad: []string{"toor@/etc/passwd:5"}, good: []string{"root@/etc/passwd:1"}, severity: checks.High},
				IDEmptyPasswords: {
					status:   checks.Fail,
					reason:   []string{"alice (/etc/shadow:4)", "legacy (/etc/passwd:8)", "no entry for them: bob"},
					bad:      []string{"alice@/etc/shadow:4", "bob@/etc/passwd:7", "legacy@/etc/passwd:8"},
					severity: checks.High,
				},
				IDSudoNoPasswd: {
					status:   checks.Fail,
					reason:   []string{"3 sudo rule(s)"},
					bad:      []string{"ops@/etc/sudoers.local:2", "%admins (members: bob, ops), alice@/etc/sudoers.d/10-admins:2", "deploy@/etc/sudoers.d/20-deploy:1"},
					severity: checks.Medium,
				},
				IDKeyOnly: {status: checks.Pass, reason: []string{"1 account(s)", "deploy"}, good: []string{"deploy@/etc/shadow:5"}, severity: checks.Info},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.tree, func(t *testing.T) {
			got := checkstest.ByID(New(Options{}).Run(context.Background(), hosttest.Fixture(t, tt.tree)))
			if len(got) != len(rules) {
				t.Fatalf("%d findings for %d rules", len(got), len(rules))
			}
			for id, w := range tt.wants {
				checkFinding(t, got[id], w)
			}
		})
	}
}

// TestNoPasswdEvidence looks into the values: commands as sudo grants
// them, aliases spelled out, negated commands left out, where a rule
// comes from.
func TestNoPasswdEvidence(t *testing.T) {
	f := Gather(context.Background(), hosttest.Fixture(t, "mixed"), Options{})
	r := sudoNoPasswdRule(f)
	values := map[string]string{}
	sources := map[string]string{}
	for _, e := range r.Evidence {
		if e.Key == "NOPASSWD" {
			values[e.File] = fmt.Sprint(e.Value)
			sources[e.File] = e.Source
		}
	}
	for file, want := range map[string]string{
		"/etc/sudoers.local":       "[(root) /usr/bin/journalctl]",
		"/etc/sudoers.d/10-admins": "[(ALL) ALL]",
		"/etc/sudoers.d/20-deploy": "[(root) DEPLOY = /usr/bin/systemctl restart app.service, /usr/bin/systemctl reload app.service]",
	} {
		if values[file] != want {
			t.Errorf("%s: %s, want %s", file, values[file], want)
		}
		if sources[file] != "sudoers rule" {
			t.Errorf("%s: source %q", file, sources[file])
		}
	}

	cloud := Gather(context.Background(), hosttest.Fixture(t, "debian12-cloud"), Options{})
	for _, e := range sudoNoPasswdRule(cloud).Evidence {
		if e.Key == "NOPASSWD" && (!strings.Contains(e.Source, "cloud-init") || fmt.Sprint(e.Value) != "[(ALL) ALL]") {
			t.Errorf("cloud-init evidence %+v", e)
		}
	}
}

// TestKeyOnlyNeverShowsHashes: a locked field keeps its hash behind "!";
// only the marker may reach a report.
func TestKeyOnlyNeverShowsHashes(t *testing.T) {
	f := &Facts{
		Accounts: []accounts.Account{{Name: "carol", Password: "x", Home: "/home/carol", Shell: "/bin/bash", Line: 3}},
		Shadow:   map[string]accounts.ShadowEntry{"carol": {Name: "carol", Password: "!$y$j9T$salt$hash", Line: 7}},
		Keys:     map[string][]KeyFile{"carol": {{Path: "/home/carol/.ssh/authorized_keys", Keys: 2}}},
	}
	r := keyOnlyRule(f)
	if r.Status != checks.Pass || len(r.Evidence) != 1 {
		t.Fatalf("%+v", r)
	}
	if v := fmt.Sprint(r.Evidence[0].Value); strings.Contains(v, "$y$") || !strings.Contains(v, "locked (!)") || !strings.Contains(v, "2 key(s)") {
		t.Errorf("value %q", v)
	}
}

// TestUnreadableShadow: without /etc/shadow's content the checks that
// need it are errors that say why, never passes.
func TestUnreadableShadow(t *testing.T) {
	base := Facts{
		Accounts:  []accounts.Account{{Name: "root", Password: "x", Shell: "/bin/bash", Line: 1}, {Name: "old", UID: 1000, Password: "", Shell: "/bin/sh", Line: 2}},
		ShadowErr: "read /etc/shadow: permission denied (vigie must run as root to read it)",
		Sudo:      &Sudoers{Missing: true, Main: "/etc/sudoers"},
	}
	got := checkstest.ByID(Evaluate(&base))
	checkFinding(t, got[IDEmptyPasswords], want{status: checks.Error, reason: []string{"permission denied", "old (/etc/passwd:2)"}, bad: []string{"old@/etc/passwd:2"}, severity: checks.High})
	checkFinding(t, got[IDKeyOnly], want{status: checks.Error, reason: []string{"permission denied"}, severity: checks.Info})
	checkFinding(t, got[IDUID0], want{status: checks.Pass, severity: checks.High})
	checkFinding(t, got[IDSudoNoPasswd], want{status: checks.Pass, reason: []string{"sudo is not installed"}, severity: checks.Medium})

	// The same through Gather: a shadow that cannot be read (a directory
	// here, since the tests may run as root).
	root := hosttest.Tree(t, map[string]string{"etc/passwd": "root:x:0:0:root:/root:/bin/bash\n", "etc/shadow/x": ""})
	f := Gather(context.Background(), &host.Env{Root: root}, Options{})
	if f.ShadowErr == "" {
		t.Fatal("shadow read without error")
	}
	for _, fi := range Evaluate(f) {
		if (fi.ID == IDEmptyPasswords || fi.ID == IDKeyOnly) && fi.Status != checks.Error {
			t.Errorf("%s: %s", fi.ID, fi.Status)
		}
	}
}

func TestRuleEdges(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		id    string
		want  want
	}{
		{
			name:  "no passwd: every account check is an error",
			files: map[string]string{"etc/shadow": ""},
			id:    IDUID0,
			want:  want{status: checks.Error, reason: []string{"read /etc/passwd"}, severity: checks.High},
		},
		{
			name:  "a malformed passwd line could hide UID 0",
			files: map[string]string{"etc/passwd": "root:x:0:0:root:/root:/bin/bash\nevil:x:0:0:a:b:c:d\n", "etc/shadow": "root:*:1::::::\n"},
			id:    IDUID0,
			want:  want{status: checks.Error, reason: []string{"line(s) 2"}, severity: checks.High},
		},
		{
			name:  "no shadow file: accounts saying x have no entry",
			files: map[string]string{"etc/passwd": "root:x:0:0:root:/root:/bin/bash\nlk:*:5:5::/:/bin/sh\n"},
			id:    IDEmptyPasswords,
			want:  want{status: checks.Fail, reason: []string{"no entry for them: root"}, bad: []string{"root@/etc/passwd:1"}, severity: checks.High},
		},
		{
			name:  "unparsable sudoers line with no NOPASSWD found is an error",
			files: map[string]string{"etc/sudoers": "root ALL=(ALL) ALL\nbroken ALL\n"},
			id:    IDSudoNoPasswd,
			want:  want{status: checks.Error, reason: []string{"/etc/sudoers:2", "may be hidden"}, bad: []string{"@/etc/sudoers:2"}, severity: checks.Medium},
		},
		{
			name:  "only a negated command under NOPASSWD grants nothing",
			files: map[string]string{"etc/sudoers": "alice ALL = (ALL) ALL, NOPASSWD: !/bin/sh\n"},
			id:    IDSudoNoPasswd,
			want:  want{status: checks.Pass, reason: []string{"1 rule(s) in 1 file(s)"}, severity: checks.Medium},
		},
		{
			name: "user aliases expand, negation carried, groups resolved by gid",
			files: map[string]string{
				"etc/passwd":  "root:x:0:0:root:/root:/bin/bash\nann:x:1000:27::/home/ann:/bin/bash\n",
				"etc/group":   "sudo:x:27:zed\n",
				"etc/sudoers": "User_Alias A = ann, !B\nUser_Alias B = %#27, !C\nUser_Alias C = cid\nA ALL = NOPASSWD: /bin/x\n",
			},
			id:   IDSudoNoPasswd,
			want: want{status: checks.Fail, bad: []string{"ann, !%#27 (members: ann, zed), cid@/etc/sudoers:4"}, severity: checks.Medium},
		},
		{
			name:  "an account without a login shell is not key-only",
			files: map[string]string{"etc/passwd": "svc:x:9:9::/srv:/usr/sbin/nologin\n", "etc/shadow": "svc:!:1::::::\n", "srv/.ssh/authorized_keys": "ssh-ed25519 AAAA k\n"},
			id:    IDKeyOnly,
			want:  want{status: checks.Pass, reason: []string{"no account"}, severity: checks.Info},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := hosttest.Tree(t, tt.files)
			got := checkstest.ByID(New(Options{}).Run(context.Background(), &host.Env{Root: root}))
			checkFinding(t, got[tt.id], tt.want)
		})
	}
}

// TestOptionsSudoers reads another main file when told to.
func TestOptionsSudoers(t *testing.T) {
	root := hosttest.Tree(t, map[string]string{"usr/local/etc/sudoers": "x ALL = NOPASSWD: ALL\n", "etc/passwd": ""})
	got := checkstest.ByID(New(Options{Sudoers: "/usr/local/etc/sudoers"}).Run(context.Background(), &host.Env{Root: root}))
	if got[IDSudoNoPasswd].Status != checks.Fail {
		t.Errorf("%+v", got[IDSudoNoPasswd])
	}
}

// TestLiveSystem reads this machine's own files: it must not panic and
// must return one finding per check with a status each.
func TestLiveSystem(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the live system")
	}
	fs := New(Options{}).Run(context.Background(), host.DefaultEnv())
	if len(fs) != len(rules) {
		t.Fatalf("%d findings", len(fs))
	}
	for _, f := range fs {
		if f.Status == "" {
			t.Errorf("%s: no status", f.ID)
		}
		t.Logf("%s: %s %s", f.ID, f.Status, f.Reason)
	}
	if _, err := os.ReadFile(filepath.Join("/etc", "shadow")); err == nil {
		for _, f := range fs {
			if f.ID == IDEmptyPasswords && f.Status == checks.Error {
				t.Errorf("shadow is readable, yet %s: %s", f.ID, f.Reason)
			}
		}
	}
}
