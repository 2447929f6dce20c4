package access

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/checks"
	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/host/hosttest"
)

// grantLines summarises a parsed file as "line users hosts runas command
// nopasswd".
func grantLines(f *ParsedFile) []string {
	var out []string
	for _, sp := range f.Specs {
		for _, c := range sp.Cmnds {
			np := ""
			if c.NoPasswd {
				np = " NOPASSWD"
			}
			out = append(out, fmt.Sprintf("%d %s %s %s %s%s", sp.Line, strings.Join(sp.Users, ","), strings.Join(c.Hosts, ","), c.RunAs, c.Command, np))
		}
	}
	return out
}

func TestParseSudoers(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		grants   []string
		includes []string // "dir PATH@LINE" or "file PATH@LINE"
		aliases  []string // "Kind NAME=members@LINE"
		errLines []int
	}{
		{
			name:   "tags carry to the next commands until the opposite tag",
			in:     "ray rushmore = NOPASSWD: /bin/kill, PASSWD: /bin/ls, /usr/bin/lprm, NOPASSWD: /bin/df\n",
			grants: []string{"1 ray rushmore  /bin/kill NOPASSWD", "1 ray rushmore  /bin/ls", "1 ray rushmore  /usr/bin/lprm", "1 ray rushmore  /bin/df NOPASSWD"},
		},
		{
			name:   "a new host section starts without tags or runas",
			in:     "alice ALL = (root) NOPASSWD: /bin/a : db1, db2 = /bin/b\n",
			grants: []string{"1 alice ALL (root) /bin/a NOPASSWD", "1 alice db1,db2  /bin/b"},
		},
		{
			name:   "runas carries, a new runas keeps the tags",
			in:     "dgb boulder = (operator) NOPASSWD: /bin/ls, (root) /bin/kill, /usr/bin/lprm\n",
			grants: []string{"1 dgb boulder (operator) /bin/ls NOPASSWD", "1 dgb boulder (root) /bin/kill NOPASSWD", "1 dgb boulder (root) /usr/bin/lprm NOPASSWD"},
		},
		{
			name:   "groups, non-Unix groups, ids and negation",
			in:     "%sudo, %:domain\\ admins, #1000, %#27, !mallory ALL=(ALL:ALL) ALL\n",
			grants: []string{"1 %sudo,%:domain admins,#1000,%#27,!mallory ALL (ALL:ALL) ALL"},
		},
		{
			name:   "continuation lines count from the first line",
			in:     "# header\nbob ALL = NOPASSWD: /bin/a, \\\n\t/bin/b, \\\n\t/bin/c\ncarol ALL = ALL\n",
			grants: []string{"2 bob ALL  /bin/a NOPASSWD", "2 bob ALL  /bin/b NOPASSWD", "2 bob ALL  /bin/c NOPASSWD", "5 carol ALL  ALL"},
		},
		{
			name:   "comments, Defaults and blank lines",
			in:     "Defaults env_reset\nDefaults:%sudo !lecture\nDefaults!/bin/ls noexec\n\n   # indented comment\nroot ALL=(ALL:ALL) ALL # trailing\n",
			grants: []string{"6 root ALL (ALL:ALL) ALL"},
		},
		{
			name:   "a backslash in a comment does not continue the line",
			in:     "root ALL = ALL # see \\\nbob ALL = NOPASSWD: ALL\n",
			grants: []string{"1 root ALL  ALL", "2 bob ALL  ALL NOPASSWD"},
		},
		{
			name:     "include directives, old and new spellings",
			in:       "@includedir /etc/sudoers.d\n#includedir /etc/sudoers.d\n@include sudoers.local\n#include /etc/sudoers.%h\n#include\"x\"\n#includes are comments\n",
			includes: []string{"dir /etc/sudoers.d@1", "dir /etc/sudoers.d@2", "file sudoers.local@3", "file /etc/sudoers.%h@4"},
		},
		{
			name:     "quoted and escaped include paths",
			in:       "@include \"/etc/sudo rules/a\"\n@include /etc/sudo\\ rules/b # comment\n",
			includes: []string{"file /etc/sudo rules/a@1", "file /etc/sudo rules/b@2"},
		},
		{
			name:    "alias definitions, several on one line, Cmd_Alias spelling",
			in:      "User_Alias ADMINS = alice, %wheel : OPS = !bob, ADMINS\nCmd_Alias SVC = /bin/systemctl restart a, \\\n  /bin/systemctl restart b\nHost_Alias WEB = web1, 192.0.2.0/24\n",
			aliases: []string{"User_Alias ADMINS=alice,%wheel@1", "User_Alias OPS=!bob,ADMINS@1", "Cmnd_Alias SVC=/bin/systemctl restart a,/bin/systemctl restart b@2", "Host_Alias WEB=web1,192.0.2.0/24@4"},
		},
		{
			name:     "syntax errors are reported by line, other lines still read",
			in:       "alice ALL\nUser_Alias lower = x\nbob ALL = (root /bin/a\ncarol ALL = NOPASSWD: ALL\nUser_Alias ALL = x\ndave ALL = \"unterminated\n",
			grants:   []string{"4 carol ALL  ALL NOPASSWD"},
			errLines: []int{1, 2, 3, 5, 6},
		},
		{
			name:   "digests and options before the command",
			in:     "erin ALL = TIMEOUT=5m NOPASSWD: sha256:Jr2tBKyMpXsq8sNrRGBvcyaN2qJH/MHq4SDYnWptbKs= /usr/local/bin/backup\n",
			grants: []string{"1 erin ALL  /usr/local/bin/backup NOPASSWD"},
		},
		{
			name:   "CRLF line endings",
			in:     "root ALL = ALL\r\nbob ALL = NOPASSWD: ALL\r\n",
			grants: []string{"1 root ALL  ALL", "2 bob ALL  ALL NOPASSWD"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := ParseSudoers([]byte(tt.in))
			if got := grantLines(f); strings.Join(got, "|") != strings.Join(tt.grants, "|") {
				t.Errorf("grants\n got %q\nwant %q", got, tt.grants)
			}
			var incs []string
			for _, in := range f.Includes {
				kind := "file"
				if in.Dir {
					kind = "dir"
				}
				incs = append(incs, fmt.Sprintf("%s %s@%d", kind, in.Path, in.Line))
			}
			if strings.Join(incs, "|") != strings.Join(tt.includes, "|") {
				t.Errorf("includes\n got %q\nwant %q", incs, tt.includes)
			}
			var as []string
			for _, a := range f.Aliases {
				as = append(as, fmt.Sprintf("%s %s=%s@%d", a.Kind, a.Name, strings.Join(a.Members, ","), a.Line))
			}
			if strings.Join(as, "|") != strings.Join(tt.aliases, "|") {
				t.Errorf("aliases\n got %q\nwant %q", as, tt.aliases)
			}
			var lines []int
			for _, e := range f.Errors {
				lines = append(lines, e.Line)
			}
			if fmt.Sprint(lines) != fmt.Sprint(tt.errLines) {
				t.Errorf("error lines %v, want %v (%+v)", lines, tt.errLines, f.Errors)
			}
		})
	}
}

// TestReadSudoersIncludes follows the mixed tree: a relative @include, an
// old-style #includedir read in lexical order, names with "~" or "."
// skipped, aliases shared across files.
func TestReadSudoersIncludes(t *testing.T) {
	s := ReadSudoers(context.Background(), hosttest.Fixture(t, "mixed"), "/etc/sudoers", "app-1")
	want := []string{"/etc/sudoers", "/etc/sudoers.local", "/etc/sudoers.d/10-admins", "/etc/sudoers.d/20-deploy", "/etc/sudoers.d/40-auditors"}
	if strings.Join(s.Files, " ") != strings.Join(want, " ") {
		t.Errorf("files %v, want %v", s.Files, want)
	}
	if s.Err != "" || s.Missing || len(s.Problems) > 0 {
		t.Errorf("err %q missing %v problems %+v", s.Err, s.Missing, s.Problems)
	}
	var where []string
	for _, sp := range s.Specs {
		where = append(where, fmt.Sprintf("%s:%d", sp.File, sp.Line))
	}
	wantWhere := []string{"/etc/sudoers:12", "/etc/sudoers:14", "/etc/sudoers.local:2", "/etc/sudoers.d/10-admins:2", "/etc/sudoers.d/20-deploy:1", "/etc/sudoers.d/40-auditors:2"}
	if strings.Join(where, " ") != strings.Join(wantWhere, " ") {
		t.Errorf("specs at %v, want %v", where, wantWhere)
	}
	if len(s.Aliases) != 2 || s.Aliases[0].File != "/etc/sudoers" {
		t.Errorf("aliases %+v", s.Aliases)
	}
}

func TestReadSudoersEdges(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		files2   []string // files read
		problems []string // substrings, one per problem
		notes    int
		missing  bool
		err      bool
	}{
		{
			name:    "no sudoers: sudo not installed",
			files:   map[string]string{"etc/passwd": ""},
			missing: true,
		},
		{
			name:  "sudoers is a directory: unreadable",
			files: map[string]string{"etc/sudoers/x": ""},
			err:   true,
		},
		{
			name:     "an include loop is cut",
			files:    map[string]string{"etc/sudoers": "@include /etc/a\n", "etc/a": "@include /etc/sudoers\n"},
			files2:   []string{"/etc/sudoers", "/etc/a"},
			problems: []string{"include loop: /etc/sudoers"},
		},
		{
			name:   "%h is the short host name",
			files:  map[string]string{"etc/sudoers": "@include /etc/sudoers.%h\n", "etc/sudoers.web": "x ALL=ALL\n"},
			files2: []string{"/etc/sudoers", "/etc/sudoers.web"},
		},
		{
			name:   "missing include and include directory are notes, not problems",
			files:  map[string]string{"etc/sudoers": "@include /etc/nope\n@includedir /etc/sudoers.d\n"},
			files2: []string{"/etc/sudoers"},
			notes:  2,
		},
		{
			name:     "a syntax error in an included file names that file",
			files:    map[string]string{"etc/sudoers": "@includedir /etc/sudoers.d\n", "etc/sudoers.d/bad": "\nalice ALL\n"},
			files2:   []string{"/etc/sudoers", "/etc/sudoers.d/bad"},
			problems: []string{"syntax error"},
		},
		{
			name:   "directories inside an include directory are not read",
			files:  map[string]string{"etc/sudoers": "@includedir /etc/sudoers.d\n", "etc/sudoers.d/sub/x": "x ALL=ALL\n", "etc/sudoers.d/y": "y ALL=ALL\n"},
			files2: []string{"/etc/sudoers", "/etc/sudoers.d/y"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := hosttest.Tree(t, tt.files)
			s := ReadSudoers(context.Background(), &host.Env{Root: root}, "/etc/sudoers", "web")
			if s.Missing != tt.missing || (s.Err != "") != tt.err {
				t.Fatalf("missing %v err %q", s.Missing, s.Err)
			}
			if strings.Join(s.Files, " ") != strings.Join(tt.files2, " ") {
				t.Errorf("files %v, want %v", s.Files, tt.files2)
			}
			if len(s.Problems) != len(tt.problems) {
				t.Fatalf("problems %+v, want %d", s.Problems, len(tt.problems))
			}
			for i, p := range tt.problems {
				if !strings.Contains(s.Problems[i].Msg, p) {
					t.Errorf("problem %q lacks %q", s.Problems[i].Msg, p)
				}
			}
			if len(s.Notes) != tt.notes {
				t.Errorf("notes %q, want %d", s.Notes, tt.notes)
			}
		})
	}
}

func TestIncludeDepthLimit(t *testing.T) {
	files := map[string]string{"etc/sudoers": "@include /etc/s0\n"}
	for i := 0; i < 140; i++ {
		files[fmt.Sprintf("etc/s%d", i)] = fmt.Sprintf("@include /etc/s%d\n", i+1)
	}
	s := ReadSudoers(context.Background(), &host.Env{Root: hosttest.Tree(t, files)}, "/etc/sudoers", "h")
	if len(s.Files) != maxIncludeDepth || len(s.Problems) != 1 || !strings.Contains(s.Problems[0].Msg, "deeper than 128") {
		t.Errorf("%d files, problems %+v", len(s.Files), s.Problems)
	}
}

// TestNoAuthenticate: "Defaults !authenticate" is NOPASSWD for everyone it
// reaches; an even number of "!" or "authenticate" alone turns it back on.
func TestNoAuthenticate(t *testing.T) {
	tests := []struct {
		line  string
		scope string
		off   bool
	}{
		{"Defaults !authenticate", "", true},
		{"Defaults\tenv_reset, !authenticate, mail_badpass", "", true},
		{"Defaults:deploy !authenticate", ":deploy", true},
		{"Defaults>root !!!authenticate", ">root", true},
		{"Defaults!/usr/bin/uptime !authenticate", "!/usr/bin/uptime", true},
		{"Defaults authenticate", "", false},
		{"Defaults !!authenticate", "", false},
		{"Defaults !lecture, !authenticate_timestamp", "", false},
		{"Defaults:deploy", "", false},
	}
	for _, tt := range tests {
		f := ParseSudoers([]byte(tt.line + "\n"))
		if len(f.Errors) > 0 {
			t.Errorf("%q: errors %v", tt.line, f.Errors)
		}
		if got := len(f.NoAuth) == 1; got != tt.off || got && (f.NoAuth[0].Scope != tt.scope || f.NoAuth[0].Line != 1) {
			t.Errorf("%q: %+v, want off=%v scope %q", tt.line, f.NoAuth, tt.off, tt.scope)
		}
	}

	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc/sudoers.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"etc/sudoers":          "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n",
		"etc/sudoers.d/50-ops": "# batch jobs\nDefaults:batch !authenticate\nbatch ALL=(root) /usr/local/bin/rotate\n",
		"etc/passwd":           "root:x:0:0:root:/root:/bin/bash\nbatch:x:1001:1001::/home/batch:/bin/bash\n",
		"etc/shadow":           "root:!:19000::::::\nbatch:!:19000::::::\n",
		"etc/group":            "root:x:0:\n",
	}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := sudoNoPasswdRule(Gather(context.Background(), &host.Env{Root: root, Proc: "/proc", Sys: "/sys"}, Options{}))
	if r.Status != checks.Fail || !strings.Contains(r.Reason, "50-ops:2 Defaults:batch !authenticate") {
		t.Errorf("sudo-nopasswd: %s %q", r.Status, r.Reason)
	}
}
