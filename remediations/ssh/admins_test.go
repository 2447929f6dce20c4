package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/vigie-agent/vigie/checks/access"
	sshcheck "github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/host/accounts"
	"github.com/vigie-agent/vigie/internal/testenv"
	"github.com/vigie-agent/vigie/remediations"
)

// admin is a real account of a test, with its keys.
type admin struct {
	testenv.Account
	password string
	ed, rsa  xssh.Signer
}

// newAdmin makes a real account with a password, an ED25519 and an RSA
// key, the groups given, and its authorized_keys under the test server's
// keys directory, owned by the account (or by root, 0600, when rootOwned:
// a file the account cannot read, which sshd reading it as the account
// refuses).
func (s *server) newAdmin(t *testing.T, withRSA, rootOwned bool, groups ...string) admin {
	t.Helper()
	a := admin{password: "Vt-" + rand.Text()}
	a.Account = testenv.User(t, filepath.Join(s.dir, "home"), a.password, groups...)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	a.ed, _ = xssh.NewSignerFromKey(priv)
	keys := xssh.MarshalAuthorizedKey(a.ed.PublicKey())
	if withRSA {
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		a.rsa, _ = xssh.NewSignerFromKey(rk)
		keys = append(keys, xssh.MarshalAuthorizedKey(a.rsa.PublicKey())...)
	}
	p := filepath.Join(s.dir, "keys", a.Name)
	if err := os.WriteFile(p, keys, 0o600); err != nil {
		t.Fatal(err)
	}
	if !rootOwned {
		if err := os.Chown(p, a.UID, -1); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// login tries one way in from the loopback, as a client would.
func (s *server) login(user string, auth xssh.AuthMethod) error {
	conn, err := net.DialTimeout("tcp", s.addr, 3*time.Second)
	if err != nil {
		return err
	}
	c, _, _, err := xssh.NewClientConn(conn, s.addr, &xssh.ClientConfig{User: user, Auth: []xssh.AuthMethod{auth},
		HostKeyCallback: xssh.InsecureIgnoreHostKey(), Timeout: 3 * time.Second})
	if err != nil {
		conn.Close()
		return err
	}
	return c.Close()
}

// sudoers writes the test's sudo policy and points the plan at it.
func (s *server) sudoers(t *testing.T, opt *Options, rules string) {
	t.Helper()
	p := filepath.Join(s.dir, "sudoers")
	if err := os.WriteFile(p, []byte(rules), 0o440); err != nil {
		t.Fatal(err)
	}
	opt.Access = access.Options{Sudoers: p}
}

// passwordOnlyOperator sets up root with an ED25519 key and an operator
// who is no administrator by any rule and logs in with a password only
// (its key file is one the account cannot read).
func passwordOnlyOperator(t *testing.T, s *server, opt *Options) (string, admin, admin) {
	s.rootKey(t)
	s.sudoers(t, opt, "root ALL=(ALL:ALL) ALL\n")
	return "", admin{}, s.newAdmin(t, false, true)
}

// TestFixJudgesEveryAdmin runs real sshd servers with real accounts and
// asks the fix's plan who can still log in. Each case says what the plan
// must refuse (and name) or note, and, once applied, which ways in the
// running server still takes.
func TestFixJudgesEveryAdmin(t *testing.T) {
	type login struct {
		who    string // "admin" or "other"
		method string // password, rsa, ed25519
		ok     bool
	}
	for _, tt := range []struct {
		name string
		// setup makes the accounts and returns the extra configuration;
		// admin and other are the accounts the case names.
		setup    func(t *testing.T, s *server, opt *Options) (extra string, adm, other admin)
		force    bool
		refusal  []string // substrings of the lock-in refusal; none: no refusal
		notes    []string
		logins   []login
		operator string // "admin" or "other": who runs the fix
	}{{
		name: "cloud-init sudo rule with an ED25519 and an RSA key",
		setup: func(t *testing.T, s *server, opt *Options) (string, admin, admin) {
			a := s.newAdmin(t, true, false)
			s.sudoers(t, opt, "root ALL=(ALL:ALL) ALL\n"+a.Name+" ALL=(ALL) NOPASSWD:ALL\n")
			return "", a, admin{}
		},
		notes:  []string{"loses password login and its ssh-rsa key(s); keeps its ED25519 key"},
		logins: []login{{"admin", "password", false}, {"admin", "rsa", false}, {"admin", "ed25519", true}},
	}, {
		name: "a sudo member whose key file sshd would refuse",
		setup: func(t *testing.T, s *server, opt *Options) (string, admin, admin) {
			s.rootKey(t)
			a := s.newAdmin(t, false, true, "sudo")
			s.sudoers(t, opt, "%sudo ALL=(ALL:ALL) ALL\n")
			return "", a, admin{}
		},
		refusal: []string{"(group sudo, sudoers ", "logs in today by password and would have no way in", "the account cannot read"},
		logins:  []login{{"admin", "password", true}},
	}, {
		name: "Match Group sudo wants a password after the key",
		setup: func(t *testing.T, s *server, opt *Options) (string, admin, admin) {
			s.rootKey(t)
			a := s.newAdmin(t, false, false, "sudo")
			s.sudoers(t, opt, "%sudo ALL=(ALL:ALL) ALL\n")
			return "Match Group sudo\n\tAuthenticationMethods publickey,password\n", a, admin{}
		},
		refusal: []string{"logs in today by password and ssh-ed25519 key and would have no way in", "AuthenticationMethods publickey,password: a key alone does not let in, and publickey,password lacks password (PasswordAuthentication no)"},
	}, {
		name: "DenyUsers: the only key is of an account sshd refuses",
		setup: func(t *testing.T, s *server, opt *Options) (string, admin, admin) {
			a := s.newAdmin(t, false, false, "sudo")
			s.sudoers(t, opt, "%sudo ALL=(ALL:ALL) ALL\n")
			return "DenyUsers " + a.Name + "\n", a, admin{}
		},
		refusal: []string{"no account that can administer the host", "would keep an ED25519 key sshd accepts"},
	}, {
		name: "PermitRootLogin no, and only root has a key",
		setup: func(t *testing.T, s *server, opt *Options) (string, admin, admin) {
			s.rootKey(t)
			s.sudoers(t, opt, "root ALL=(ALL:ALL) ALL\n")
			return "PermitRootLogin no\n", admin{}, admin{}
		},
		refusal: []string{"no account that can administer the host"},
	}, {
		name:     "the operator has only a password",
		setup:    passwordOnlyOperator,
		operator: "other",
		refusal:  []string{"(runs this fix), who runs this fix, logs in today by password and would have no way in"},
		logins:   []login{{"other", "password", true}},
	}, {
		name:     "the operator has only a password, with --force",
		setup:    passwordOnlyOperator,
		operator: "other",
		force:    true,
		notes:    []string{"loses password login and with it every way in through SSH (--force)"},
		logins:   []login{{"other", "password", false}},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			testenv.Sshd(t)
			var opt Options
			var adm, other admin
			s := startWithSetup(t, func(s *server) string {
				opt = s.options()
				var extra string
				extra, adm, other = tt.setup(t, s, &opt)
				return extra
			})
			opt.Force = tt.force
			switch tt.operator {
			case "admin":
				opt.Operator = adm.Name
			case "other":
				opt.Operator = other.Name
			}
			p := s.plan(t, opt)
			lockin := slices.ContainsFunc(p.Refusals, func(r string) bool { return strings.HasPrefix(r, "password login, root password login") })
			switch {
			case len(tt.refusal) == 0 && lockin:
				t.Fatalf("the plan refuses: %q", p.Refusals)
			case len(tt.refusal) > 0 && !lockin:
				t.Fatalf("the plan does not refuse the lock-in changes; refusals %q, notes %q", p.Refusals, p.Notes)
			}
			all := strings.Join(p.Refusals, "\n")
			for _, want := range tt.refusal {
				if !strings.Contains(all, want) {
					t.Errorf("refusals do not say %q:\n%s", want, all)
				}
			}
			for _, who := range []admin{adm, other} {
				if who.Name != "" && lockin && !strings.Contains(all, who.Name) && len(tt.refusal) > 0 && !strings.Contains(tt.refusal[0], "no account") {
					t.Errorf("the refusal does not name %s:\n%s", who.Name, all)
				}
			}
			notes := strings.Join(p.Notes, "\n")
			for _, want := range tt.notes {
				if !strings.Contains(notes, want) {
					t.Errorf("notes do not say %q:\n%s", want, notes)
				}
			}
			for _, fc := range p.Files {
				if lockin && bytes.Contains(fc.Content, []byte("PasswordAuthentication no")) {
					t.Fatalf("the refusing plan still turns passwords off in %s", fc.Path)
				}
			}
			e := &remediations.Engine{Dir: filepath.Join(s.dir, "state")}
			if _, err := e.Apply(context.Background(), p); err != nil {
				t.Fatalf("%v\n%s", err, s.log)
			}
			for _, l := range tt.logins {
				a := adm
				if l.who == "other" {
					a = other
				}
				var auth xssh.AuthMethod
				switch l.method {
				case "password":
					auth = xssh.Password(a.password)
				case "rsa":
					auth = xssh.PublicKeys(a.rsa)
				default:
					auth = xssh.PublicKeys(a.ed)
				}
				if err := s.login(a.Name, auth); (err == nil) != l.ok {
					t.Errorf("after the fix, %s (%s) by %s: err %v, want ok=%v", a.Name, l.who, l.method, err, l.ok)
				}
			}
		})
	}
}

// TestJudge: how one account logs in under one effective configuration,
// for the settings sshd -T prints; the real sshd cases are above.
func TestJudge(t *testing.T) {
	user := accounts.Account{Name: "ops", UID: 1000, GID: 1000, Home: "/home/ops", Shell: "/bin/bash"}
	root := accounts.Account{Name: "root", Home: "/root", Shell: "/bin/bash"}
	base := func(more ...string) sshcheck.Settings {
		s := sshcheck.Settings{
			"passwordauthentication": {"yes"}, "kbdinteractiveauthentication": {"no"}, "usepam": {"yes"},
			"pubkeyauthentication": {"yes"}, "authenticationmethods": {"any"}, "permitrootlogin": {"prohibit-password"},
			"strictmodes": {"yes"}, "authorizedkeysfile": {".ssh/authorized_keys .ssh/authorized_keys2"},
			"pubkeyacceptedalgorithms": {"ssh-ed25519,rsa-sha2-512,rsa-sha2-256"},
		}
		for i := 0; i+1 < len(more); i += 2 {
			s[more[i]] = []string{more[i+1]}
		}
		return s
	}
	keys := func(acct string, lines ...sshcheck.KeyLine) []sshcheck.KeyFile {
		home := "/home/" + acct
		if acct == "root" {
			home = "/root"
		}
		return []sshcheck.KeyFile{{Account: acct, Path: home + "/.ssh/authorized_keys", Keys: sshcheck.KeyList{Entries: lines}}}
	}
	ed := sshcheck.KeyLine{Type: "ssh-ed25519"}
	rsaKey := sshcheck.KeyLine{Type: "ssh-rsa"}
	pw := access.Password{Value: "$y$j9T$abc", Known: true}
	locked := access.Password{Value: "!$y$j9T$abc", Known: true}
	for _, tt := range []struct {
		name     string
		s        sshcheck.Settings
		a        accounts.Account
		groups   []string
		keys     []sshcheck.KeyFile
		pw       access.Password
		password bool
		keyTypes []string
		blocked  string
	}{
		{"defaults", base(), user, nil, keys("ops", ed, rsaKey), pw, true, []string{"ssh-ed25519", "ssh-rsa"}, ""},
		{"rsa not accepted", base("pubkeyacceptedalgorithms", "ssh-ed25519"), user, nil, keys("ops", ed, rsaKey), pw, true, []string{"ssh-ed25519"}, ""},
		{"kbd-interactive through PAM is a password", base("passwordauthentication", "no", "kbdinteractiveauthentication", "yes"), user, nil, nil, pw, true, nil, "no authorized_keys file"},
		{"kbd-interactive without PAM is nothing", base("passwordauthentication", "no", "kbdinteractiveauthentication", "yes", "usepam", "no"), user, nil, nil, pw, false, nil, "no authorized_keys file"},
		{"key and password both", base("authenticationmethods", "publickey,password"), user, nil, keys("ops", ed), pw, true, []string{"ssh-ed25519"}, "a key alone does not let in"},
		{"key and password, passwords off", base("authenticationmethods", "publickey,password", "passwordauthentication", "no"), user, nil, keys("ops", ed), pw, false, nil, "a key alone does not let in"},
		{"one of two lists is the key", base("authenticationmethods", "publickey,password publickey"), user, nil, keys("ops", ed), pw, true, []string{"ssh-ed25519"}, ""},
		{"forced-command key", base(), user, nil, keys("ops", sshcheck.KeyLine{Type: "ssh-ed25519", Options: []string{`command="echo no"`}}), locked, false, nil, "no usable ED25519 key"},
		{"locked, without PAM", base("usepam", "no"), user, nil, keys("ops", ed), locked, false, nil, "the account is locked and UsePAM is off"},
		{"locked, with PAM: keys still work", base(), user, nil, keys("ops", ed), locked, false, []string{"ssh-ed25519"}, ""},
		{"root, prohibit-password", base(), root, nil, keys("root", ed), pw, false, []string{"ssh-ed25519"}, ""},
		{"root, no", base("permitrootlogin", "no"), root, nil, keys("root", ed), pw, false, nil, "PermitRootLogin no"},
		{"root, yes", base("permitrootlogin", "yes"), root, nil, keys("root", ed), pw, true, []string{"ssh-ed25519"}, ""},
		{"ForceCommand", base("forcecommand", "internal-sftp"), user, nil, keys("ops", ed), pw, false, nil, "ForceCommand"},
		{"AllowGroups", base("allowgroups", "wheel"), user, []string{"ops", "sudo"}, keys("ops", ed), pw, false, nil, "in none of AllowGroups wheel"},
		{"AllowGroups, a pattern list", base("allowgroups", "wh*,!sudo"), user, []string{"wheel"}, keys("ops", ed), pw, true, []string{"ssh-ed25519"}, ""},
		{"DenyGroups negated in a list", base("denygroups", "s*,!sudo"), user, []string{"sudo"}, keys("ops", ed), pw, true, []string{"ssh-ed25519"}, ""},
		{"AllowUsers from elsewhere", base("allowusers", "ops@10.0.0.0/8"), user, nil, keys("ops", ed), pw, false, nil, "not in AllowUsers"},
		{"AllowUsers from anywhere but", base("allowusers", "o?s@*,!10.*"), user, nil, keys("ops", ed), pw, true, []string{"ssh-ed25519"}, ""},
		{"StrictModes refuses the file", base(), user, nil, []sshcheck.KeyFile{{Account: "ops", Path: "/home/ops/.ssh/authorized_keys", Problems: []string{"/home/ops is writable by group or others (mode 0775)"}, Keys: sshcheck.KeyList{Entries: []sshcheck.KeyLine{ed}}}}, pw, true, nil, "StrictModes refuses it"},
		{"StrictModes off", base("strictmodes", "no"), user, nil, []sshcheck.KeyFile{{Account: "ops", Path: "/home/ops/.ssh/authorized_keys", Problems: []string{"x"}, Keys: sshcheck.KeyList{Entries: []sshcheck.KeyLine{ed}}}}, pw, true, []string{"ssh-ed25519"}, ""},
		{"another account's file", base(), user, nil, keys("root", ed), pw, true, nil, "no authorized_keys file"},
		{"empty password, PermitEmptyPasswords", base("permitemptypasswords", "yes"), user, nil, nil, access.Password{Known: true}, true, nil, ""},
		{"shadow unread: a password may be set", base(), user, nil, nil, access.Password{}, true, nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := judge(tt.s, tt.a, tt.groups, tt.keys, tt.pw)
			if tt.name == "key and password both" && w.ed25519() {
				t.Error("a key alone lets in where AuthenticationMethods wants a password too")
			}
			if w.Password != tt.password || !slices.Equal(w.Keys, tt.keyTypes) {
				t.Errorf("password %v keys %q, want %v %q (blocked %q)", w.Password, w.Keys, tt.password, tt.keyTypes, w.Blocked)
			}
			if b := strings.Join(w.Blocked, "; "); tt.blocked != "" && !strings.Contains(b, tt.blocked) {
				t.Errorf("blocked %q, want %q", b, tt.blocked)
			}
		})
	}
}

// TestWildcard: OpenSSH's patterns, and a pattern of many stars against a
// long name answers at once.
func TestWildcard(t *testing.T) {
	for _, tt := range []struct {
		s, p string
		want bool
	}{
		{"ops", "ops", true}, {"ops", "o?s", true}, {"ops", "*", true}, {"", "*", true}, {"ops", "o*", true},
		{"ops", "*s", true}, {"ops", "op", false}, {"ops", "?", false}, {"a*b", "a*b", true}, {"abxbyd", "a*b?d", true},
		{"abcbx", "a*b?d", false}, {"192.0.2.1", "192.0.2.*", true},
	} {
		if got := wildcard(tt.s, tt.p); got != tt.want {
			t.Errorf("wildcard(%q, %q) = %v", tt.s, tt.p, got)
		}
	}
	start := time.Now()
	if wildcard(strings.Repeat("a", 4096), strings.Repeat("*a", 2048)+"b") {
		t.Error("matched")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a pattern of 2048 stars took %s", d)
	}
}

func FuzzAccessPatterns(f *testing.F) {
	f.Add("ops", "o*@192.0.2.0/24,!10.*", "192.0.2.1")
	f.Add("root", "*,!root", "::1")
	f.Add("", "@", "")
	f.Fuzz(func(t *testing.T, user, pattern, addr string) {
		if len(user) > 256 || len(pattern) > 1024 {
			return
		}
		_ = matchUser(user, addr, pattern)
		if r := matchList(user, pattern); r < -1 || r > 1 {
			t.Fatalf("matchList = %d", r)
		}
		if wildcard(user, user) == false && !strings.ContainsAny(user, "*?") {
			t.Fatalf("%q does not match itself", user)
		}
		s := sshcheck.Settings{"denyusers": {pattern}, "allowgroups": {pattern}}
		_ = denied(s, user, []string{user}, addr)
	})
}
