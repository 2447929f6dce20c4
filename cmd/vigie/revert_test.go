package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestRevertCommand: the armed revert reads the configuration the fix
// read, from wherever systemd starts it: the file as an absolute path,
// the VIGIE_ variables (not the fault hook of the tests).
func TestRevertCommand(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		configSet bool
		config    string
		environ   []string
		want      []string
	}{
		{"default", false, "/etc/vigie/vigie.yaml", []string{"PATH=/usr/bin", "HOME=/root"},
			[]string{"/usr/bin/vigie", "undo", "--unconfirmed"}},
		{"a relative --config", true, "vigie.yaml", nil,
			[]string{"/usr/bin/vigie", "--config", filepath.Join(wd, "vigie.yaml"), "undo", "--unconfirmed"}},
		{"VIGIE_ variables", true, "/srv/v.yaml", []string{"VIGIE_STATE_DIR=/srv/vigie", "PATH=/usr/bin", "VIGIE_FAULT_KILL_AT=write ", "VIGIE_FAULT_HOW=reset", "VIGIE_FIX_CONFIRM_WINDOW=2m"},
			[]string{"/usr/bin/env", "VIGIE_FIX_CONFIRM_WINDOW=2m", "VIGIE_STATE_DIR=/srv/vigie", "/usr/bin/vigie", "--config", "/srv/v.yaml", "undo", "--unconfirmed"}},
	} {
		if got := revertCommand("/usr/bin/vigie", tt.configSet, tt.config, tt.environ); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
