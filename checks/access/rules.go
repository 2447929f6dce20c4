package access

import (
	"fmt"
	"strings"

	"github.com/vigie-agent/vigie/host/accounts"

	"github.com/vigie-agent/vigie/checks"
)

// Check ids of the access area.
const (
	IDUID0           = "access.uid0-only-root"
	IDEmptyPasswords = "access.empty-passwords"
	IDSudoNoPasswd   = "access.sudo-nopasswd"
	IDKeyOnly        = "access.key-only-accounts"
)

func uid0Rule(f *Facts) checks.Result {
	if f.PasswdErr != "" {
		return checks.Errorf("%s", f.PasswdErr)
	}
	var ev []checks.Evidence
	var bad []string
	for _, a := range f.Accounts {
		if a.UID != 0 {
			continue
		}
		ok := a.Name == "root"
		ev = append(ev, checks.Evidence{Subject: a.Name, Key: "uid", Value: 0, Want: "only root has UID 0", Source: PasswdFile, File: PasswdFile, Line: a.Line, OK: ok})
		if !ok {
			bad = append(bad, fmt.Sprintf("%s (%s:%d)", a.Name, PasswdFile, a.Line))
		}
	}
	switch {
	case len(bad) > 0:
		return checks.Failf("%d account(s) besides root have UID 0 and so every privilege of root: %s", len(bad), checks.Abridge(bad, 5, ", ")).With(ev...).With(malformed(f.PasswdBad)...)
	case f.PasswdBad != "":
		return checks.Errorf("%s: an unreadable entry could hide a UID 0 account", f.PasswdBad).With(ev...).With(malformed(f.PasswdBad)...)
	}
	return checks.Passf("root is the only account with UID 0 (%d accounts in %s)", len(f.Accounts), PasswdFile).With(ev...)
}

func malformed(msg string) []checks.Evidence {
	if msg == "" {
		return nil
	}
	return []checks.Evidence{{Key: "malformed", Value: msg, Want: "every line a well-formed entry", OK: false}}
}

func emptyPasswordsRule(f *Facts) checks.Result {
	if f.PasswdErr != "" {
		return checks.Errorf("%s", f.PasswdErr)
	}
	var ev []checks.Evidence
	var empty, orphan []string
	for _, a := range f.Accounts {
		pw := f.PasswordOf(a)
		switch {
		case !pw.Known && f.ShadowErr != "":
			// Not knowable; the error below says why.
		case !pw.Known:
			orphan = append(orphan, a.Name)
			why := "/etc/shadow has no entry for it"
			if f.ShadowMissing {
				why = "/etc/shadow does not exist"
			}
			ev = append(ev, checks.Evidence{Subject: a.Name, Key: "password", Value: `"x" (the hash is in /etc/shadow) but ` + why, Want: "a shadow entry with a hash or a locked field", Source: PasswdFile, File: PasswdFile, Line: a.Line})
		case pw.Value == "":
			empty = append(empty, fmt.Sprintf("%s (%s:%d)", a.Name, pw.File, pw.Line))
			ev = append(ev, checks.Evidence{Subject: a.Name, Key: "password", Value: "empty", Want: "a hash or a locked field (!, *)", Source: pw.File, File: pw.File, Line: pw.Line})
		}
	}
	ev = append(ev, malformed(f.PasswdBad)...)
	ev = append(ev, malformed(f.ShadowBad)...)
	var parts []string
	if len(empty) > 0 {
		parts = append(parts, fmt.Sprintf("%d account(s) have an empty password field and may log in without any password: %s", len(empty), checks.Abridge(empty, 5, ", ")))
	}
	if len(orphan) > 0 {
		parts = append(parts, fmt.Sprintf("%d account(s) say their password is in /etc/shadow, which has no entry for them: %s", len(orphan), checks.Abridge(orphan, 5, ", ")))
	}
	switch {
	case f.ShadowErr != "":
		reason := f.ShadowErr + ": cannot tell which accounts have an empty password"
		if len(parts) > 0 {
			reason += "; already from " + PasswdFile + ": " + strings.Join(parts, "; ")
		}
		return checks.Errorf("%s", reason).With(ev...)
	case len(parts) > 0:
		return checks.Failf("%s", strings.Join(parts, "; ")).With(ev...)
	case f.PasswdBad != "" || f.ShadowBad != "":
		return checks.Errorf("malformed lines could hide an empty password: %s", strings.Trim(f.PasswdBad+"; "+f.ShadowBad, "; ")).With(ev...)
	}
	return checks.Passf("none of the %d accounts has an empty password field", len(f.Accounts)).With(
		checks.Evidence{Key: "accounts", Value: len(f.Accounts), Source: PasswdFile + ", " + ShadowFile, OK: true})
}

// lockMarker returns the locking prefix of a password field ("!", "*",
// "!*"), never the hash behind it.
func lockMarker(pw string) string {
	n := 0
	for n < len(pw) && (pw[n] == '!' || pw[n] == '*') {
		n++
	}
	return pw[:n]
}

func keyOnlyRule(f *Facts) checks.Result {
	switch {
	case f.PasswdErr != "":
		return checks.Errorf("%s", f.PasswdErr)
	case f.ShadowErr != "":
		return checks.Errorf("%s: cannot tell which passwords are locked", f.ShadowErr)
	}
	var ev []checks.Evidence
	var names []string
	for _, a := range f.Accounts {
		pw := f.PasswordOf(a)
		files := f.Keys[a.Name]
		if !a.CanLogin() || !pw.Known || !accounts.Locked(pw.Value) || len(files) == 0 {
			continue
		}
		var where []string
		for _, k := range files {
			if k.Err != "" {
				where = append(where, k.Path+" (unreadable: "+k.Err+")")
			} else {
				where = append(where, fmt.Sprintf("%s (%d key(s))", k.Path, k.Keys))
			}
		}
		names = append(names, a.Name)
		ev = append(ev, checks.Evidence{
			Subject: a.Name, Key: "password",
			Value:  fmt.Sprintf("locked (%s), shell %s, authorized keys in %s", lockMarker(pw.Value), a.Shell, strings.Join(where, ", ")),
			Source: pw.File, File: pw.File, Line: pw.Line, OK: true,
		})
	}
	if len(names) == 0 {
		return checks.Passf("no account with a login shell and a locked password has an authorized_keys file")
	}
	return checks.Passf("%d account(s) log in with SSH keys only (password locked): %s", len(names), checks.Abridge(names, 8, ", ")).With(ev...)
}
