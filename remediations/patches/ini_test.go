package patches

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigie-agent/vigie/internal/fuzzseed"
)

func TestSetINI(t *testing.T) {
	rocky, err := os.ReadFile("testdata/automatic.conf.rocky9")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]string{"upgrade_type": "security", "apply_updates": "yes"}
	tests := []struct {
		name, in string
		want     []string // lines the result must hold, in this order
		not      []string
	}{
		{name: "rocky 9 default file", in: string(rocky),
			want: []string{"[commands]", "upgrade_type = security", "random_sleep = 0", "apply_updates = yes", "reboot = never", "[emitters]", "emit_via = stdio"},
			not:  []string{"upgrade_type = default", "apply_updates = no"}},
		{name: "no file", in: "", want: []string{"[commands]", "apply_updates = yes", "upgrade_type = security"}},
		{name: "section missing", in: "[base]\ndebuglevel = 1\n", want: []string{"[base]", "debuglevel = 1", "[commands]", "apply_updates = yes", "upgrade_type = security"}},
		{name: "commented keys are set in place", in: "[commands]\n# upgrade_type = default\nfoo = 1\n\n[x]\n",
			want: []string{"[commands]", "upgrade_type = security", "foo = 1", "apply_updates = yes", "", "[x]"}},
		{name: "same key in another section untouched", in: "[emitters]\napply_updates = no\n[commands]\n",
			want: []string{"[emitters]", "apply_updates = no", "[commands]", "apply_updates = yes"}},
		{name: "duplicate key commented", in: "[commands]\nupgrade_type = default\nupgrade_type = all\n",
			want: []string{"upgrade_type = security", "# upgrade_type = all (vigie: set above)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := string(SetINI([]byte(tt.in), "commands", set))
			lines := strings.Split(out, "\n")
			i := 0
			for _, l := range lines {
				if i < len(tt.want) && l == tt.want[i] {
					i++
				}
			}
			if i < len(tt.want) {
				t.Errorf("missing %q in order:\n%s", tt.want[i], out)
			}
			for _, n := range tt.not {
				if strings.Contains(out, "\n"+n+"\n") {
					t.Errorf("still holds %q:\n%s", n, out)
				}
			}
			if again := string(SetINI([]byte(out), "commands", set)); again != out {
				t.Errorf("not idempotent:\n%s\n---\n%s", out, again)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 11, 23, h, m, 0, 0, time.Local) }
	w, err := ParseWindow("02:00-04:30")
	if err != nil {
		t.Fatal(err)
	}
	night, _ := ParseWindow("23:00-01:00")
	tests := []struct {
		w    Window
		t    time.Time
		want string
	}{
		{w, at(1, 59), "02:00"}, {w, at(2, 0), "+1"}, {w, at(4, 29), "+1"}, {w, at(4, 30), "02:00"},
		{night, at(23, 30), "+1"}, {night, at(0, 30), "+1"}, {night, at(12, 0), "23:00"},
	}
	for _, tt := range tests {
		if got := tt.w.ShutdownTime(tt.t); got != tt.want {
			t.Errorf("%s at %s: %s, want %s", tt.w, tt.t.Format("15:04"), got, tt.want)
		}
	}
	for _, bad := range []string{"", "02:00", "2:00-04:00", "02:00-02:00", "25:00-01:00", "02:60-03:00", "aa:bb-cc:dd", "02:00-04:00-05:00"} {
		if _, err := ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) accepted", bad)
		}
	}
}

func FuzzSetINI(f *testing.F) {
	fuzzseed.Files(f, "testdata/automatic.conf.rocky9")
	f.Add([]byte("[commands\nupgrade_type=\n[]\n;apply_updates\n"))
	set := map[string]string{"upgrade_type": "security", "apply_updates": "yes"}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := SetINI(in, "commands", set)
		// Whatever the input, the result parses to the wanted values.
		section, got := "", map[string]string{}
		for _, l := range strings.Split(string(out), "\n") {
			l = strings.TrimSpace(l)
			switch {
			case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
				section = strings.TrimSpace(l[1 : len(l)-1])
			case section == "commands" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, ";"):
				if k, v, ok := strings.Cut(l, "="); ok {
					if _, seen := got[strings.TrimSpace(k)]; !seen {
						got[strings.TrimSpace(k)] = strings.TrimSpace(v)
					}
				}
			}
		}
		for k, v := range set {
			if got[k] != v {
				t.Fatalf("%s = %q, want %q in:\n%s", k, got[k], v, out)
			}
		}
	})
}

func FuzzParseWindow(f *testing.F) {
	f.Add("02:00-04:00")
	f.Add("23:59-00:00")
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWindow(s)
		if err != nil {
			return
		}
		if w.Start < 0 || w.Start >= 24*60 || w.End < 0 || w.End >= 24*60 || w.Start == w.End {
			t.Fatalf("%q parsed to %+v", s, w)
		}
		if back, err := ParseWindow(w.String()); err != nil || back != w {
			t.Fatalf("%q -> %s -> %+v %v", s, w, back, err)
		}
	})
}
