package access

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/vigie-agent/vigie/host/hosttest"
)

// TestAdministrators: who can administer the captured hosts, and through
// what. The cloud image's default user is one by cloud-init's sudoers rule
// and by the sudo group; on the hand-kept host, a User_Alias over a group,
// a rule granting ALL minus two shells (still ALL), wheel by membership and
// as primary group; a rule for two systemctl commands and files sudo
// skips make nobody an administrator.
func TestAdministrators(t *testing.T) {
	for _, tt := range []struct {
		tree string
		want map[string][]string // account -> Via entries it must have
	}{
		{"debian12-cloud", map[string][]string{
			"root":   {"uid 0"},
			"debian": {"group sudo", "sudoers /etc/sudoers.d/90-cloud-init-users:4 (cloud-init)"},
		}},
		{"mixed", map[string][]string{
			"root":  {"uid 0", "sudoers /etc/sudoers:12"},
			"toor":  {"uid 0"},
			"alice": {"group wheel", "sudoers /etc/sudoers:14", "sudoers /etc/sudoers.d/10-admins:2"},
			"bob":   {"sudoers /etc/sudoers.d/10-admins:2"},
			"ops":   {"sudoers /etc/sudoers.d/10-admins:2"},
			"carol": {"group wheel", "sudoers /etc/sudoers:14"},
		}},
	} {
		t.Run(tt.tree, func(t *testing.T) {
			f := Gather(context.Background(), hosttest.Fixture(t, tt.tree), Options{})
			got := map[string][]string{}
			for _, a := range f.Administrators() {
				got[a.Account.Name] = a.Via
			}
			for name, via := range tt.want {
				for _, v := range via {
					if !slices.Contains(got[name], v) {
						t.Errorf("%s: via %q, want %q among them", name, got[name], v)
					}
				}
			}
			for name, via := range got {
				if _, ok := tt.want[name]; !ok {
					t.Errorf("%s is an administrator (%s), want not", name, strings.Join(via, ", "))
				}
			}
		})
	}
}

// TestRunsAsRoot: the Runas_Spec forms sudoers(5) allows.
func TestRunsAsRoot(t *testing.T) {
	for in, want := range map[string]bool{
		"": true, "()": true, "(ALL)": true, "(ALL:ALL)": true, "(ALL : ALL)": true, "(root)": true,
		"(#0)": true, "(OPERATORS)": true, "(:adm)": false, "(www-data)": false, "(www-data, postgres)": false,
		"(postgres:ALL)": false, "(!bob, root)": true,
	} {
		if got := runsAsRoot(in); got != want {
			t.Errorf("runsAsRoot(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestSudoUsers: a negation after a group removes its member, as sudo
// reads a User_List left to right.
func TestSudoUsers(t *testing.T) {
	f := Gather(context.Background(), hosttest.Fixture(t, "mixed"), Options{})
	idx := newAliasIndex(f.Sudo.Aliases)
	for _, tt := range []struct {
		users []string
		want  []string
	}{
		{[]string{"%wheel", "!alice"}, []string{"carol"}},
		{[]string{"ADMINS"}, []string{"alice", "bob", "ops"}},
		{[]string{"#1002", "%#10"}, []string{"alice", "bob", "carol"}},
		{[]string{"%:auditors", "+netadmins"}, nil},
	} {
		if got := f.sudoUsers(tt.users, idx); !slices.Equal(got, tt.want) {
			t.Errorf("sudoUsers(%q) = %q, want %q", tt.users, got, tt.want)
		}
	}
}
