package host

import (
	"bufio"
	"bytes"
	"context"
	"strconv"
	"strings"

	"github.com/vigie-agent/vigie/host/hostfs"
)

// ReadOSRelease reads the inspected system's os-release(5): /etc first,
// then /usr/lib, as the specification says. A system with neither gives
// an empty map.
func ReadOSRelease(ctx context.Context, env *Env) map[string]string {
	data, err := env.ReadFile(ctx, "/etc/os-release", hostfs.Small)
	if err != nil {
		data, _ = env.ReadFile(ctx, "/usr/lib/os-release", hostfs.Small)
	}
	return ParseOSRelease(data)
}

// ParseOSRelease reads os-release(5): KEY=value lines, values optionally
// quoted with shell quoting rules.
func ParseOSRelease(data []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			if v[0] == '"' {
				if u, err := strconv.Unquote(v); err == nil {
					v = u
				} else {
					v = v[1 : len(v)-1]
				}
			} else {
				v = v[1 : len(v)-1]
			}
		}
		out[k] = v
	}
	return out
}
