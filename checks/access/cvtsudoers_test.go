package access

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/host"
	"github.com/vigie-agent/vigie/internal/testenv"
)

// cvtsudoers returns sudo's own sudoers-to-JSON converter: $VIGIE_CVTSUDOERS
// or cvtsudoers on PATH (scripts/setup-debian.sh installs sudo). Where sudo
// must not be installed, `apt-get download sudo && dpkg -x sudo_*.deb DIR`
// gives a copy that runs with LD_LIBRARY_PATH=DIR/usr/libexec/sudo.
func cvtsudoers(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("VIGIE_CVTSUDOERS"); p != "" {
		return p
	}
	p, err := exec.LookPath("cvtsudoers")
	if err != nil {
		testenv.Missing(t, "cvtsudoers not found (apt-get install sudo, or set VIGIE_CVTSUDOERS)")
	}
	return p
}

type cvtMember map[string]any

func (m cvtMember) String() string {
	prefix := ""
	if neg, _ := m["negated"].(bool); neg {
		prefix = "!"
	}
	for _, k := range []string{"username", "useralias", "hostname", "hostalias", "networkaddr", "runasalias", "cmndalias"} {
		if v, ok := m[k]; ok {
			return prefix + fmt.Sprint(v)
		}
	}
	if v, ok := m["command"]; ok {
		return prefix + normQuotes(fmt.Sprint(v))
	}
	for k, p := range map[string]string{"usergroup": "%", "userid": "#", "usergid": "%#", "nonunixgroup": "%:", "nonunixgid": "%:#", "netgroup": "+"} {
		if v, ok := m[k]; ok {
			return prefix + p + fmt.Sprint(v)
		}
	}
	return prefix + fmt.Sprint(map[string]any(m))
}

// normQuotes drops the double quotes cvtsudoers keeps in arguments and
// the tokenizer removes, except the empty argument list "".
func normQuotes(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(s, `""`, "\x00"), `"`, ""), "\x00", `""`)
}

func joinMembers(ms []cvtMember) string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return strings.Join(out, ",")
}

type cvtJSON struct {
	UserAliases map[string][]cvtMember `json:"User_Aliases"`
	CmndAliases map[string][]cvtMember `json:"Command_Aliases"`
	UserSpecs   []struct {
		Users []cvtMember `json:"User_List"`
		Hosts []cvtMember `json:"Host_List"`
		Cmnds []struct {
			Options  []map[string]any `json:"Options"`
			Commands []cvtMember      `json:"Commands"`
		} `json:"Cmnd_Specs"`
	} `json:"User_Specs"`
}

// grants flattens cvtsudoers' view to "users | hosts | command | nopasswd".
func (c cvtJSON) grants() []string {
	var out []string
	for _, us := range c.UserSpecs {
		for _, cs := range us.Cmnds {
			nopw := false
			for _, o := range cs.Options {
				if v, ok := o["authenticate"].(bool); ok {
					nopw = !v
				}
			}
			for _, cmd := range cs.Commands {
				out = append(out, fmt.Sprintf("%s | %s | %s | %v", joinMembers(us.Users), joinMembers(us.Hosts), cmd, nopw))
			}
		}
	}
	sort.Strings(out)
	return out
}

func ourGrants(f *ParsedFile) []string {
	var out []string
	for _, sp := range f.Specs {
		for _, c := range sp.Cmnds {
			out = append(out, fmt.Sprintf("%s | %s | %s | %v", strings.Join(sp.Users, ","), strings.Join(c.Hosts, ","), normQuotes(c.Command), c.NoPasswd))
		}
	}
	sort.Strings(out)
	return out
}

// TestAgainstCvtsudoers parses the syntax corpus with sudo's own parser
// and with ParseSudoers: both must see the same users, hosts, commands,
// NOPASSWD flags and aliases.
func TestAgainstCvtsudoers(t *testing.T) {
	bin := cvtsudoers(t)
	files, _ := filepath.Glob("testdata/syntax/*.sudoers")
	if len(files) == 0 {
		t.Fatal("no syntax corpus")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, "-f", "json", file).Output()
			if err != nil {
				t.Fatalf("cvtsudoers: %v", err)
			}
			var want cvtJSON
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := ParseSudoers(data)
			if len(got.Errors) > 0 {
				t.Fatalf("parse errors: %+v", got.Errors)
			}
			g, w := ourGrants(got), want.grants()
			if strings.Join(g, "\n") != strings.Join(w, "\n") {
				t.Errorf("grants differ\n got:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(w, "\n  "))
			}
			for _, a := range got.Aliases {
				var ms []cvtMember
				switch a.Kind {
				case "User_Alias":
					ms = want.UserAliases[a.Name]
				case "Cmnd_Alias":
					ms = want.CmndAliases[a.Name]
				default:
					continue
				}
				if g, w := strings.Join(a.Members, ","), joinMembers(ms); normQuotes(g) != w {
					t.Errorf("%s %s = %s, sudo says %s", a.Kind, a.Name, g, w)
				}
			}
		})
	}
}

// TestIncludesAgainstCvtsudoers reads a tree whose includes are all
// relative with sudo's parser and with ReadSudoers: the same users must
// come out in the same order (include directory order, skipped names,
// nested and quoted includes).
func TestIncludesAgainstCvtsudoers(t *testing.T) {
	bin := cvtsudoers(t)
	main, err := filepath.Abs("testdata/relative/etc/sudoers")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-f", "json", main).Output()
	if err != nil {
		t.Fatalf("cvtsudoers: %v", err)
	}
	var want cvtJSON
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	var w []string
	for _, us := range want.UserSpecs {
		w = append(w, joinMembers(us.Users))
	}
	s := ReadSudoers(context.Background(), &host.Env{Root: "/"}, main, "host")
	if s.Err != "" || len(s.Problems) > 0 {
		t.Fatalf("read: %s %+v", s.Err, s.Problems)
	}
	var g []string
	for _, sp := range s.Specs {
		g = append(g, strings.Join(sp.Users, ","))
	}
	if strings.Join(g, " ") != strings.Join(w, " ") {
		t.Errorf("users in order: got %v, sudo reads %v", g, w)
	}
}
