package ssh

import (
	"context"
	"fmt"
	"slices"
	"strings"

	sshcheck "github.com/vigie-agent/vigie/checks/ssh"
	"github.com/vigie-agent/vigie/host"
)

// directive is one line the drop-in may write, with how its value is
// derived from what sshd does without the drop-in. The drop-in never
// replaces an operator's setting with a weaker one: each value is the
// stricter of the operator's and the baseline, an algorithm list is the
// operator's list filtered to what the checks accept, in the operator's
// order, and a directive already compliant is not written at all.
type directive struct {
	keyword string // as sshd -T prints it
	name    string // as written
	lockin  bool   // could lock someone out: needs an administrator with an ED25519 key
	// merge returns the value to write, "" when the operator's value
	// already complies, or a refusal.
	merge func(operator []string) (value, refusal string)
}

var directives = []directive{
	{"passwordauthentication", "PasswordAuthentication", true, atLeast("no", []string{"yes", "no"})},
	{"kbdinteractiveauthentication", "KbdInteractiveAuthentication", true, atLeast("no", []string{"yes", "no"})},
	// From the weakest to the strictest; without-password is the old
	// name of prohibit-password.
	{"permitrootlogin", "PermitRootLogin", true, atLeast("prohibit-password", []string{"yes", "prohibit-password", "forced-commands-only", "no"})},
	{"pubkeyacceptedalgorithms", "PubkeyAcceptedAlgorithms", true, filtered("accepts no ED25519 key algorithm", sshcheck.IsED25519)},
	{"hostkeyalgorithms", "HostKeyAlgorithms", false, filtered("offers no ED25519 host key algorithm", sshcheck.IsED25519)},
	{"ciphers", "Ciphers", false, filtered("accepts no strong cipher", strong("ciphers"))},
	{"macs", "MACs", false, filtered("accepts no strong MAC", strong("macs"))},
	{"kexalgorithms", "KexAlgorithms", false, filtered("accepts no strong key exchange", strong("kexalgorithms"))},
}

// atLeast keeps the operator's value when it is at least as strict as want
// in order (weakest first); an unknown value is replaced.
func atLeast(want string, order []string) func([]string) (string, string) {
	return func(op []string) (string, string) {
		v := ""
		if len(op) > 0 {
			v = strings.ToLower(op[0])
		}
		if v == "without-password" {
			v = "prohibit-password"
		}
		if i := slices.Index(order, v); i >= 0 && i >= slices.Index(order, want) {
			return "", ""
		}
		return want, ""
	}
}

// filtered keeps the operator's algorithms that keep accepts, in order. It
// never adds one: when none is left, the operator removed every acceptable
// algorithm, and that is theirs to change.
func filtered(none string, keep func(string) bool) func([]string) (string, string) {
	return func(op []string) (string, string) {
		var out []string
		for _, a := range op {
			if keep(a) {
				out = append(out, a)
			}
		}
		switch {
		case len(out) == len(op):
			return "", ""
		case len(out) == 0:
			return "", fmt.Sprintf("sshd %s (%s): vigie adds no algorithm the configuration leaves out", none, strings.Join(op, ","))
		}
		return strings.Join(out, ","), ""
	}
}

func strong(key string) func(string) bool {
	return func(a string) bool { return sshcheck.WeakAlgorithm(key, a) == "" }
}

// mergedLines are the drop-in's directives for the operator's settings:
// only those that make something stricter, and the refusals of those it
// cannot make compliant without adding what the operator removed.
func mergedLines(op sshcheck.Settings, allowLockin bool) (lines, refusals []string) {
	for _, d := range directives {
		if d.lockin && !allowLockin {
			continue
		}
		value, refusal := d.merge(op.List(d.keyword))
		if refusal != "" {
			refusals = append(refusals, d.name+" left as it is: "+refusal)
			continue
		}
		if value != "" {
			lines = append(lines, d.name+" "+value)
		}
	}
	return lines, refusals
}

// operatorSettings is what sshd does without vigie's drop-in: the
// effective configuration when there is no drop-in yet, else the real
// sshd -T of a scratch copy of the configuration in which vigie's drop-in
// is left out. The merge is computed from these, so a second fix writes the
// same drop-in, and a setting the operator tightened since wins again.
func operatorSettings(ctx context.Context, env *host.Env, f *sshcheck.Facts, opt Options) (sshcheck.Settings, error) {
	if !slices.Contains(f.Files.Files, opt.DropIn) {
		return f.Global, nil
	}
	if f.Source != "sshd -T" {
		// No sshd to ask: the files alone, the drop-in's lines left out.
		rest := *f.Files
		rest.Global = slices.DeleteFunc(slices.Clone(f.Files.Global), func(d sshcheck.Directive) bool { return d.File == opt.DropIn })
		return sshcheck.FromFiles(&rest), nil
	}
	sc, err := newScratch(ctx, env, opt, map[string][]byte{opt.DropIn: nil})
	if err != nil {
		return nil, err
	}
	defer sc.close()
	main, err := sc.main()
	if err != nil {
		return nil, err
	}
	b, err := env.Cmd.Run(ctx, opt.Check.SshdPath, "-T", "-f", main)
	if err != nil {
		return nil, fmt.Errorf("sshd -T without vigie's drop-in: %w", err)
	}
	return sshcheck.ParseSshdT(b)
}
