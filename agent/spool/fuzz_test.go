package spool

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzParseName: a name that parses is exactly the one nextName would
// write for its fields, and its id is a valid, path-free id.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{
		"1748772000000000000-0000000000-0a1b2c.json.gz",
		"0000000000000000000-9999999999-a-b-c.json.gz",
		".1748772000000000000-0000000000-a.json.gz.vigie-123",
		"1748772000000000000-0000000000-../x.json.gz",
		"9999999999999999999-0000000000-a.json.gz",
		"dropped", "spool.lock", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		nanos, seq, id, ok := parseName(name)
		if !ok {
			return
		}
		if err := CheckID(id); err != nil {
			t.Fatalf("%q parsed to a bad id: %v", name, err)
		}
		if strings.ContainsAny(name, "/\x00") || strings.HasPrefix(name, ".") {
			t.Fatalf("%q accepted as a report", name)
		}
		if back := fmt.Sprintf("%019d-%010d-%s.json.gz", nanos, seq, id); back != name {
			t.Fatalf("%q parsed to fields that print as %q", name, back)
		}
	})
}

// FuzzCheckGzipJSON: arbitrary file content never panics the check, and
// what passes it inflates to a JSON object.
func FuzzCheckGzipJSON(f *testing.F) {
	for _, s := range []string{`{"id":"a"}`, `[1]`, `{`, ``, `null`} {
		gz, err := compress([]byte(s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(gz)
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkGzipJSON(b) != "" {
			return
		}
		if body := inflate(t, b); !isJSONObject(body) {
			t.Fatalf("accepted %q, which inflates to %q", b, body)
		}
	})
}
