package accounts

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestParsePasswd(t *testing.T) {
	tests := []struct {
		in      string
		want    []string // "name uid pw line"
		badLine []int
	}{
		{
			in:   "root:x:0:0:root:/root:/bin/bash\ndaemon:*:1:1::/usr/sbin:/usr/sbin/nologin\n",
			want: []string{"root 0 x 1", "daemon 1 * 2"},
		},
		{
			in:   "# comment\n+@netadmins::::::\n-bob::::::\n\nlegacy::1003:1003:GECOS, with: colon?:/home/l:/bin/sh\n",
			want: nil, badLine: []int{5}, // 8 fields: a colon in GECOS is not allowed
		},
		{
			in:      "a:x:1:1::/:/bin/sh\nb:x:-1:1::/:/bin/sh\nc:x:one:1::/:/bin/sh\n:x:2:2::/:/bin/sh\nd:x:3:3::/\ne:x:4:4::/:\n",
			want:    []string{"a 1 x 1", "e 4 x 6"},
			badLine: []int{2, 3, 4, 5},
		},
	}
	for _, tt := range tests {
		accts, err := ParsePasswd([]byte(tt.in))
		var got []string
		for _, a := range accts {
			got = append(got, fmt.Sprintf("%s %d %s %d", a.Name, a.UID, a.Password, a.Line))
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
		var le *LineError
		switch {
		case tt.badLine == nil && err != nil:
			t.Errorf("%q: unexpected error %v", tt.in, err)
		case tt.badLine != nil && (!errors.As(err, &le) || fmt.Sprint(le.Lines) != fmt.Sprint(tt.badLine)):
			t.Errorf("%q: error %v, want bad lines %v", tt.in, err, tt.badLine)
		}
	}
}

func TestParseShadow(t *testing.T) {
	entries, err := ParseShadow([]byte("root:*:20339:0:99999:7:::\nalice::20339::::::\nbob:!$y$j9T$x$y:1\nshort\n:x:1\nold:!!\n"))
	var got []string
	for _, e := range entries {
		got = append(got, fmt.Sprintf("%s=%q@%d", e.Name, e.Password, e.Line))
	}
	want := []string{`root="*"@1`, `alice=""@2`, `bob="!$y$j9T$x$y"@3`, `old="!!"@6`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
	var le *LineError
	if !errors.As(err, &le) || fmt.Sprint(le.Lines) != "[4 5]" {
		t.Errorf("err %v", err)
	}
}

func TestLockedAndLogin(t *testing.T) {
	for pw, want := range map[string]bool{"!": true, "*": true, "!*": true, "!!": true, "!$6$abc": true, "*LK*": true, "": false, "$y$j9T$a$b": false, "x": false} {
		if Locked(pw) != want {
			t.Errorf("Locked(%q) = %v", pw, !want)
		}
	}
	for shell, want := range map[string]bool{"/bin/bash": true, "": true, "/usr/sbin/nologin": false, "/sbin/nologin": false, "/bin/false": false, "/bin/sync": false, "/usr/bin/zsh": true, "/bin/true": false} {
		if (Account{Shell: shell}).CanLogin() != want {
			t.Errorf("CanLogin(%q) = %v", shell, !want)
		}
	}
}

func TestParseGroup(t *testing.T) {
	gs := ParseGroup([]byte("sudo:x:27:debian, alice\nbad\nwheel:x:ten:\nadm:x:4:\n"))
	if len(gs) != 2 || gs[0].Name != "sudo" || gs[0].GID != 27 || strings.Join(gs[0].Members, ",") != "debian,alice" || gs[1].Name != "adm" || len(gs[1].Members) != 0 {
		t.Errorf("%+v", gs)
	}
}

// TestParsePasswdDebian12: the passwd of a Debian 12 cloud image.
func TestParsePasswdDebian12(t *testing.T) {
	b, err := os.ReadFile("testdata/passwd/debian12")
	if err != nil {
		t.Fatal(err)
	}
	accts, err := ParsePasswd(b)
	if err != nil {
		t.Fatal(err)
	}
	if accts[0].Name != "root" || accts[0].UID != 0 || accts[0].Home != "/root" || !accts[0].CanLogin() {
		t.Errorf("root: %+v", accts[0])
	}
	for _, a := range accts {
		if a.Name == "sshd" && a.CanLogin() {
			t.Errorf("sshd can log in: %+v", a)
		}
	}
	accts, err = ParsePasswd([]byte("root:x:0:0:root:/root:/bin/bash\nbroken\nbob:x:abc:0::/:/bin/sh\n+nis\n"))
	if len(accts) != 1 || err == nil || !strings.Contains(err.Error(), "2, 3") {
		t.Errorf("got %v, %v", accts, err)
	}
}
