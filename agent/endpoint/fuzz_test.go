package endpoint

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzRetryAfter feeds arbitrary header values to parseRetryAfter: it must
// not panic, must stay within [0, MaxRetryAfter], must accept exactly the
// digit strings among non-dates, and must read digits as seconds.
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	for _, s := range []string{
		"0", "2", "120", "600", "601", "18446744073709551616", "-1", "1.5", " 7 ", "",
		now.Add(time.Minute).Format(http.TimeFormat),
		now.Add(-time.Minute).Format(http.TimeFormat),
		"Sunday, 01-Jun-25 10:00:30 GMT", "Sun Jun  1 10:00:45 2025",
		"Mon, 01 Jan 0001 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if d < 0 || d > MaxRetryAfter {
			t.Fatalf("parseRetryAfter(%q) = %s, outside [0, %s]", v, d, MaxRetryAfter)
		}
		if !ok && d != 0 {
			t.Fatalf("parseRetryAfter(%q) = %s without ok", v, d)
		}
		trimmed := strings.TrimSpace(v)
		if trimmed != "" && strings.Trim(trimmed, "0123456789") == "" {
			if !ok {
				t.Fatalf("parseRetryAfter(%q): digits refused", v)
			}
			n, err := strconv.ParseUint(trimmed, 10, 64)
			if err == nil && n <= 600 && d != time.Duration(n)*time.Second {
				t.Fatalf("parseRetryAfter(%q) = %s, want %ds", v, d, n)
			}
			if (err != nil || n > 600) && d != MaxRetryAfter {
				t.Fatalf("parseRetryAfter(%q) = %s, want the cap", v, d)
			}
			return
		}
		if _, err := http.ParseTime(trimmed); (err == nil) != ok {
			t.Fatalf("parseRetryAfter(%q): ok=%v, but http.ParseTime says %v", v, ok, err)
		}
	})
}

// FuzzPrintable: whatever a receiver answers, the text quoted in an error
// is short, valid UTF-8, printable, and free of the token.
func FuzzPrintable(f *testing.F) {
	f.Add([]byte("field summary missing\n"), "tok")
	f.Add([]byte("echo: Bearer tok3n"), "tok3n")
	f.Add([]byte("\xff\xfe\x1b[31m\u202e"), "")
	f.Add([]byte(strings.Repeat("é", 300)), "x")
	f.Add([]byte("aaaa"), "aa")
	f.Fuzz(func(t *testing.T, body []byte, token string) {
		if token != "" && !isB64Token(token) {
			// A bearer token is a b64token (RFC 6750). Others could be
			// re-formed from the '?' and "[redacted]" put in their place.
			return
		}
		got := printable(body, token)
		if len(got) > maxErrorBody || !utf8.ValidString(got) {
			t.Fatalf("printable(%q) = %q: too long or not UTF-8", body, got)
		}
		for _, r := range got {
			if !unicode.IsPrint(r) {
				t.Fatalf("printable(%q) = %q holds %U", body, got, r)
			}
		}
		if token != "" && strings.Contains(got, token) && !strings.Contains("[redacted]", token) {
			t.Fatalf("printable(%q) = %q shows the token %q", body, got, token)
		}
	})
}

func isB64Token(s string) bool {
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/=") == ""
}
