package checks

import "testing"

func TestAbridge(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		n    int
		want string
	}{
		{[]string{"a", "b"}, 3, "a; b"},
		{[]string{"a", "b", "c", "d", "e"}, 3, "a; b; c; and 2 more"},
		{nil, 3, ""},
	} {
		if got := Abridge(tt.in, tt.n, "; "); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.in, got, tt.want)
		}
	}
}
