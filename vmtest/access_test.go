//go:build vmtest

package vmtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// loginKeys are the keys of the test's accounts, generated for one test.
type loginKeys struct {
	OpsED25519, OpsRSA, AliceED25519 ssh.Signer
}

func newLoginKeys(t *testing.T) loginKeys {
	t.Helper()
	edSigner := func() ssh.Signer {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	rsaSigner, err := ssh.NewSignerFromKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	return loginKeys{OpsED25519: edSigner(), OpsRSA: rsaSigner, AliceED25519: edSigner()}
}

// authorizedLine is a public key as an authorized_keys line.
func authorizedLine(s ssh.Signer, comment string) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey()))) + " " + comment
}

// answerAll answers every keyboard-interactive question with secret:
// PAM's password prompt.
func answerAll(secret string) ssh.AuthMethod {
	return ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
		answers := make([]string, len(questions))
		for i := range answers {
			answers[i] = secret
		}
		return answers, nil
	})
}

// loginCase is one way in, tried from outside: who, how, and whether it
// must work.
type loginCase struct {
	User string
	How  string // password, rsa, ed25519, ed25519+password (publickey then keyboard-interactive)
	Want bool
}

// outside logs in to the guest's sshd through the forwarded port with
// golang.org/x/crypto/ssh.
type outside struct {
	t         *testing.T
	port      int
	keys      loginKeys
	passwords map[string]string
}

// methods are the client's authentication methods for one case. A
// password is offered both ways sshd may take it: the password method
// and keyboard-interactive (PAM asks for it).
func (o *outside) methods(c loginCase) ([]ssh.AuthMethod, error) {
	pw := o.passwords[c.User]
	ed := map[string]ssh.Signer{"ops": o.keys.OpsED25519, "alice": o.keys.AliceED25519}[c.User]
	switch c.How {
	case "password":
		return []ssh.AuthMethod{ssh.Password(pw), answerAll(pw)}, nil
	case "rsa":
		if c.User != "ops" {
			break
		}
		return []ssh.AuthMethod{ssh.PublicKeys(o.keys.OpsRSA)}, nil
	case "ed25519":
		if ed == nil {
			break
		}
		return []ssh.AuthMethod{ssh.PublicKeys(ed)}, nil
	case "ed25519+password":
		if ed == nil {
			break
		}
		return []ssh.AuthMethod{ssh.PublicKeys(ed), answerAll(pw)}, nil
	}
	return nil, fmt.Errorf("no %s credential for %s", c.How, c.User)
}

// login tries one case and returns who the guest says we are (`id -un`),
// or why it failed. refused tells an authentication refusal from a
// server that could not be reached or talked to.
func (o *outside) login(c loginCase) (who string, refused bool, err error) {
	methods, err := o.methods(c)
	if err != nil {
		return "", false, err
	}
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(o.port), 10*time.Second)
	if err != nil {
		return "", false, err
	}
	defer conn.Close()
	// Under TCG a loaded guest is slow; PAM adds its delay after a wrong
	// answer. The deadline covers handshake, authentication and command.
	_ = conn.SetDeadline(time.Now().Add(90 * time.Second))
	cfg := &ssh.ClientConfig{User: c.User, Auth: methods, HostKeyCallback: ssh.InsecureIgnoreHostKey()}
	sc, chans, reqs, err := ssh.NewClientConn(conn, "127.0.0.1", cfg)
	if err != nil {
		return "", strings.Contains(err.Error(), "unable to authenticate"), err
	}
	client := ssh.NewClient(sc, chans, reqs)
	defer client.Close()
	s, err := client.NewSession()
	if err != nil {
		return "", false, fmt.Errorf("logged in, but no session: %w", err)
	}
	defer s.Close()
	out, err := s.CombinedOutput("id -un")
	if err != nil {
		return "", false, fmt.Errorf("logged in, but id -un: %w (%q)", err, out)
	}
	return strings.TrimSpace(string(out)), false, nil
}

// expect tries every case and reports each one that does not go as
// wanted, saying what was seen. It returns whether all went as wanted.
func (o *outside) expect(when string, cases []loginCase) bool {
	o.t.Helper()
	ok := true
	var seen []string
	for _, c := range cases {
		who, refused, err := o.login(c)
		switch {
		case c.Want && (err != nil || who != c.User):
			o.t.Errorf("%s: %s with %s from outside on port %d: %v (id -un: %q), want logged in", when, c.User, c.How, socketPort, err, who)
			ok = false
		case !c.Want && err == nil:
			o.t.Errorf("%s: %s with %s from outside: logged in as %q, want refused", when, c.User, c.How, who)
			ok = false
		case !c.Want && !refused:
			o.t.Errorf("%s: %s with %s from outside: %v, want an authentication refusal from sshd", when, c.User, c.How, err)
			ok = false
		}
		got := "in"
		if err != nil {
			got = "refused"
			if !refused {
				got = "error"
			}
		}
		seen = append(seen, c.User+"/"+c.How+"="+got)
	}
	o.t.Logf("%s, from outside: %s", when, strings.Join(seen, " "))
	return ok
}

// sshdOptions parses `sshd -T` output: keyword (lower case) to value.
func sshdOptions(out string) map[string]string {
	opts := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		if k != "" {
			opts[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
	return opts
}

// strictOrders rank the values of the yes/no-like keywords, weakest first.
var strictOrders = map[string][]string{
	"passwordauthentication":       {"yes", "no"},
	"kbdinteractiveauthentication": {"yes", "no"},
	"permitrootlogin":              {"yes", "prohibit-password", "forced-commands-only", "no"},
}

// strictKeywords are the settings the fix must never weaken.
var strictKeywords = []string{"passwordauthentication", "kbdinteractiveauthentication", "permitrootlogin", "authenticationmethods", "ciphers"}

// weakened lists the keywords of strictKeywords whose value after is
// weaker than before, each with both values.
func weakened(before, after map[string]string) []string {
	var out []string
	for _, k := range strictKeywords {
		b, a := before[k], after[k]
		if !atLeastAsStrict(k, b, a) {
			out = append(out, fmt.Sprintf("%s %q -> %q", k, b, a))
		}
	}
	return out
}

func atLeastAsStrict(keyword, before, after string) bool {
	if before == after {
		return true
	}
	switch keyword {
	case "ciphers":
		return orderedSubset(strings.Split(before, ","), strings.Split(after, ","))
	case "authenticationmethods":
		return methodsAtLeast(before, after)
	}
	order := strictOrders[keyword]
	norm := func(v string) string {
		if v == "without-password" {
			return "prohibit-password"
		}
		return v
	}
	b, a := slices.Index(order, norm(before)), slices.Index(order, norm(after))
	return b >= 0 && a >= b
}

// orderedSubset: after is a non-empty list of entries of before, in
// before's order.
func orderedSubset(before, after []string) bool {
	if len(after) == 0 || after[0] == "" {
		return false
	}
	i := 0
	for _, a := range after {
		j := slices.Index(before[i:], a)
		if j < 0 {
			return false
		}
		i += j + 1
	}
	return true
}

// methodsAtLeast: every list of after demands at least the methods of some
// list of before ("any" demands nothing).
func methodsAtLeast(before, after string) bool {
	if before == "any" {
		return true
	}
	if after == "any" {
		return false
	}
	for _, al := range strings.Fields(after) {
		need := strings.Split(al, ",")
		found := false
		for _, bl := range strings.Fields(before) {
			if isSubset(strings.Split(bl, ","), need) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func isSubset(small, big []string) bool {
	for _, s := range small {
		if !slices.Contains(big, s) {
			return false
		}
	}
	return true
}

// TestWeakened checks the comparison the no-lockout scenarios rely on; it
// boots nothing.
func TestWeakened(t *testing.T) {
	base := map[string]string{"passwordauthentication": "yes", "kbdinteractiveauthentication": "yes", "permitrootlogin": "without-password",
		"authenticationmethods": "any", "ciphers": "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		m[k] = v
		return m
	}
	for _, tc := range []struct {
		before, after map[string]string
		weaker        bool
	}{
		{base, base, false},
		{base, with("passwordauthentication", "no"), false},
		{with("passwordauthentication", "no"), base, true},
		{base, with("permitrootlogin", "prohibit-password"), false},
		{with("permitrootlogin", "no"), with("permitrootlogin", "prohibit-password"), true},
		{base, with("ciphers", "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com"), false},
		{base, with("ciphers", "aes128-gcm@openssh.com,chacha20-poly1305@openssh.com"), true},
		{base, with("ciphers", "chacha20-poly1305@openssh.com,aes128-ctr"), true},
		{base, with("authenticationmethods", "publickey"), false},
		{with("authenticationmethods", "publickey,keyboard-interactive"), with("authenticationmethods", "publickey"), true},
		{with("authenticationmethods", "publickey,keyboard-interactive"), with("authenticationmethods", "any"), true},
		{with("authenticationmethods", "publickey"), with("authenticationmethods", "publickey,keyboard-interactive"), false},
	} {
		if got := weakened(tc.before, tc.after); (len(got) > 0) != tc.weaker {
			t.Errorf("weakened(%v, %v) = %v, want weaker %v", tc.before, tc.after, got, tc.weaker)
		}
	}
}
