package hostiletest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// NewMarker returns prefix followed by 32 random hex digits: a secret no
// output can hold by chance.
func NewMarker(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// leakWindow is the shortest piece of a marker that counts as a leak: a
// reason cut to a fixed width still leaks what it keeps, and 12 characters
// with at least 4 random hex digits never occur by chance.
const leakWindow = 12

// Leaks says where data holds any piece of a marker, for a message naming
// what was searched (the table, the journal...).
func Leaks(what string, data []byte, markers ...string) []string {
	var out []string
	for _, m := range markers {
		for i := 0; i == 0 || i+leakWindow <= len(m); i++ {
			piece := m[i:min(i+leakWindow, len(m))]
			if at := bytes.Index(data, []byte(piece)); at >= 0 {
				out = append(out, fmt.Sprintf("%s holds %q of the secret %q at byte %d: %s", what, piece, m, at, around(data, at)))
				break
			}
		}
	}
	return out
}

// around is the text near offset at, on one line and made safe to print.
func around(data []byte, at int) string {
	lo, hi := max(at-60, 0), min(at+100, len(data))
	return strings.ReplaceAll(CatV(data[lo:hi]), "\n", `\n`)
}

// ControlBytes lists the lines of a text meant for a terminal that hold
// control bytes: C0 controls but the newline (TAB included: the table
// aligns with spaces), DEL, and C1 controls (U+0080 to U+009F, or a lone
// byte 0x80-0x9f, which 8-bit terminals read as CSI and friends). Each
// entry names the line, the bytes, and shows the line as cat -v does.
func ControlBytes(data []byte) []string {
	var out []string
	for n, line := range bytes.Split(data, []byte{'\n'}) {
		var found []string
		for i := 0; i < len(line); {
			r, size := utf8.DecodeRune(line[i:])
			if isControl(r, size, line[i]) && len(found) < 8 {
				found = append(found, fmt.Sprintf("0x%02x", line[i]))
			}
			i += size
		}
		if len(found) == 0 {
			continue
		}
		if len(out) == 8 {
			return append(out, "(more lines)")
		}
		out = append(out, fmt.Sprintf("line %d (%s): %s", n+1, strings.Join(found, " "), CatV(clipBytes(line, 240))))
	}
	return out
}

func isControl(r rune, size int, b byte) bool {
	if r == utf8.RuneError && size == 1 {
		return b >= 0x80 && b <= 0x9f
	}
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f)
}

func clipBytes(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append(b[:n:n], "..."...)
}

// CatV shows bytes the way cat -v does (^[ for ESC, M-^[ for 0x9b, M-x for
// other high bytes), so a test log never carries an escape to a terminal.
func CatV(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		if c >= 0x80 {
			s.WriteString("M-")
			c -= 0x80
		}
		switch {
		case c == 0x7f:
			s.WriteString("^?")
		case c < 0x20 && c != '\n':
			s.WriteByte('^')
			s.WriteByte(c + 0x40)
		default:
			s.WriteByte(c)
		}
	}
	return s.String()
}

// Report is the part of a vigie.report/v1 document the expectations read.
type Report struct {
	Findings []Finding `json:"findings"`
}

// Finding is one check's verdict.
type Finding struct {
	ID       string     `json:"id"`
	Status   string     `json:"status"`
	Reason   string     `json:"reason"`
	Evidence []Evidence `json:"evidence"`
}

// Evidence is one fact behind a verdict.
type Evidence struct {
	Subject string          `json:"subject"`
	Key     string          `json:"key"`
	Value   json.RawMessage `json:"value"`
	File    string          `json:"file"`
	Line    int             `json:"line"`
	OK      bool            `json:"ok"`
}

// Text is the value as text: a JSON string unquoted, anything else as is.
func (e Evidence) Text() string {
	var s string
	if json.Unmarshal(e.Value, &s) == nil {
		return s
	}
	return string(e.Value)
}

// ParseReport reads a report.
func ParseReport(data []byte) (Report, error) {
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("report is not JSON: %w", err)
	}
	return r, nil
}

// IDs lists the report's check ids.
func (r Report) IDs() []string {
	ids := make([]string, 0, len(r.Findings))
	for _, f := range r.Findings {
		ids = append(ids, f.ID)
	}
	return ids
}

// Finding returns the finding of a check.
func (r Report) Finding(id string) (Finding, bool) {
	for _, f := range r.Findings {
		if f.ID == id {
			return f, true
		}
	}
	return Finding{}, false
}

// Check ids the expectations name.
const (
	AuthorizedKeys = "ssh.authorized-keys"
	InputDeny      = "firewall.input-default-deny"
	Exposed        = "firewall.exposed-services"
)

// cutShort are what the runner says of an area it had to give up on.
var cutShort = []string{"did not finish", "crashed"}

// Expect is what must still hold once the homes are hostile.
type Expect struct {
	// Checks are the ids of a report made before the tricks were planted:
	// every one must still be there.
	Checks []string
	// KeyFile is the authorized_keys of the account whose file holds an
	// ED25519 key with a hostile comment and an RSA key.
	KeyFile string
	// Port is the hostile listener's port on 0.0.0.0; 0 when none runs.
	Port int
}

// Problems lists what a report made with the tricks in place gets wrong.
func (e Expect) Problems(r Report) []string {
	var out []string
	have := map[string]bool{}
	for _, f := range r.Findings {
		have[f.ID] = true
		for _, s := range cutShort {
			if strings.Contains(f.Reason, s) {
				out = append(out, fmt.Sprintf("%s (%s) %s: %s", f.ID, f.Status, s, CatV([]byte(firstLine(f.Reason)))))
				break
			}
		}
	}
	for _, id := range e.Checks {
		if !have[id] {
			out = append(out, "check "+id+" is missing from the report")
		}
	}
	if e.KeyFile != "" {
		out = append(out, e.keyProblems(r)...)
	}
	if e.Port != 0 {
		out = append(out, e.portProblems(r)...)
	}
	return out
}

func (e Expect) keyProblems(r Report) []string {
	f, ok := r.Finding(AuthorizedKeys)
	if !ok {
		return nil // reported as missing
	}
	var out []string
	if f.Status != "fail" || !strings.Contains(f.Reason, e.KeyFile) {
		out = append(out, fmt.Sprintf("%s is %s and does not name %s (the RSA key there): %s", AuthorizedKeys, f.Status, e.KeyFile, CatV([]byte(clip(f.Reason, 300)))))
	}
	var ed, rsa bool
	for _, ev := range f.Evidence {
		if ev.File != e.KeyFile {
			continue
		}
		v := ev.Text()
		ed = ed || (strings.HasPrefix(v, "ssh-ed25519") && ev.OK)
		rsa = rsa || (strings.HasPrefix(v, "ssh-rsa") && !ev.OK)
	}
	if !ed {
		out = append(out, fmt.Sprintf("%s: no passing ssh-ed25519 evidence for %s (the key whose comment holds escapes)", AuthorizedKeys, e.KeyFile))
	}
	if !rsa {
		out = append(out, fmt.Sprintf("%s: no failing ssh-rsa evidence for %s", AuthorizedKeys, e.KeyFile))
	}
	return out
}

// portProblems: where nothing denies input by default, the listener is
// reachable and must be among the exposed services.
func (e Expect) portProblems(r Report) []string {
	deny, ok := r.Finding(InputDeny)
	if !ok || deny.Status != "fail" {
		return nil
	}
	f, ok := r.Finding(Exposed)
	if !ok {
		return nil
	}
	re := regexp.MustCompile(`:` + strconv.Itoa(e.Port) + `\b`)
	if re.MatchString(f.Reason) {
		return nil
	}
	for _, ev := range f.Evidence {
		if re.MatchString(ev.Subject) {
			return nil
		}
	}
	return []string{fmt.Sprintf("%s (%s) does not list the listener on 0.0.0.0:%d, while %s fails: %s", Exposed, f.Status, e.Port, InputDeny, CatV([]byte(clip(f.Reason, 300))))}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return clip(s, 300)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
