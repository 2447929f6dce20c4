package report_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigie-agent/vigie/agent/report"
	"github.com/vigie-agent/vigie/agent/report/reporttest"
	"github.com/vigie-agent/vigie/internal/reportschema"
	"github.com/vigie-agent/vigie/internal/testenv"
)

// junitDoc is what the tests read back of a JUnit report.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Time     string   `xml:"time,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Skipped    int    `xml:"skipped,attr"`
		Hostname   string `xml:"hostname,attr"`
		Timestamp  string `xml:"timestamp,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Skipped   *struct {
				Text string `xml:",chardata"`
			} `xml:"skipped"`
			Failure *junitProblem `xml:"failure"`
			Error   *junitProblem `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func formatJUnit(t testing.TB, r *report.Report) ([]byte, junitDoc) {
	t.Helper()
	var buf bytes.Buffer
	if err := (report.JUnit{}).Format(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not XML: %v\n%.2000s", err, buf.Bytes())
	}
	return buf.Bytes(), doc
}

// xmlForbidden: what XML 1.0 cannot hold, raw or as a character reference.
func xmlForbidden(r rune) bool {
	return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xfffe || r == 0xffff
}

// TestJUnitValidates: the sample, the mapping report, a real Debian 12
// report and every hostile one validate against Jenkins' JUnit schema.
func TestJUnitValidates(t *testing.T) {
	testenv.Commands(t, "apt-get install libxml2-utils", "xmllint")
	reports := map[string]*report.Report{"sample": reporttest.Sample(), "located": located(), "debian12": readReport(t, "testdata/report-debian12.json")}
	for _, tt := range reporttest.HostileText {
		reports["hostile "+tt.Name] = reporttest.Hostile(tt.In)
	}
	for name, r := range reports {
		data, doc := formatJUnit(t, r)
		if err := reportschema.CheckJUnit(data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if doc.Tests != r.Summary.Total || doc.Failures != r.Summary.Fail || doc.Errors != r.Summary.Error {
			t.Errorf("%s: %d tests, %d failures, %d errors for %+v", name, doc.Tests, doc.Failures, doc.Errors, r.Summary)
		}
	}
	// The schema means something.
	data, _ := formatJUnit(t, reporttest.Sample())
	for _, bad := range []struct{ old, new string }{
		{`<testsuite name="ssh"`, `<testsuite nom="ssh"`},
		{`<skipped>`, `<skipped message="x">`},
		{`</testcase>`, `<bogus/></testcase>`},
	} {
		if err := reportschema.CheckJUnit(bytes.Replace(data, []byte(bad.old), []byte(bad.new), 1)); err == nil {
			t.Errorf("%s accepted", bad.new)
		}
	}
}

func TestJUnitMapping(t *testing.T) {
	r := located()
	_, doc := formatJUnit(t, r)
	if doc.Tests != 6 || doc.Failures != 3 || doc.Errors != 1 || doc.Time != "1.500" || len(doc.Suites) != 4 {
		t.Fatalf("testsuites %+v", doc)
	}
	want := []struct {
		name                             string
		tests, failures, errors, skipped int
	}{{"ssh", 3, 2, 0, 0}, {"patches", 1, 0, 1, 0}, {"disks", 1, 0, 0, 1}, {"firewall", 1, 1, 0, 0}}
	for i, s := range doc.Suites {
		w := want[i]
		if s.Name != w.name || s.Tests != w.tests || s.Failures != w.failures || s.Errors != w.errors || s.Skipped != w.skipped ||
			s.Hostname != "web/1" || s.Timestamp != "2026-11-23T10:00:00" || len(s.Cases) != w.tests {
			t.Errorf("suite %d: %+v, want %+v", i, s, w)
		}
		props := map[string]string{}
		for _, p := range s.Properties {
			props[p.Name] = p.Value
		}
		if props["vigie.profile"] != "baseline" || props["vigie.report_id"] != r.ID || props["host.machine_id"] != r.Host.MachineID {
			t.Errorf("suite %s: properties %v", s.Name, props)
		}
		for _, c := range s.Cases {
			if c.Classname != "vigie."+s.Name || c.Time != "0.000" {
				t.Errorf("case %+v", c)
			}
		}
	}
	ssh := doc.Suites[0].Cases
	if f := ssh[0].Failure; ssh[0].Name != "ssh.password-auth" || f == nil || f.Message != "passwordauthentication is yes (global)" || f.Type != "high" ||
		f.Text != "ssh.password-auth\n  global: passwordauthentication = yes  (sshd -T)\nSee "+report.CheckURL("ssh.password-auth") {
		t.Errorf("failure %+v", f)
	}
	if c := ssh[1]; c.Failure != nil || c.Error != nil || c.Skipped != nil {
		t.Errorf("a pass: %+v", c)
	}
	if f := ssh[2].Failure; f == nil || f.Type != "critical" || strings.Contains(f.Text, "ok.conf") ||
		!strings.Contains(f.Text, "global: macs = umac-64  (/etc/ssh/sshd_config:12)") {
		t.Errorf("failure %+v", f)
	}
	if e := doc.Suites[1].Cases[0].Error; e == nil || e.Message != "apt: exit 100" || e.Type != "medium" {
		t.Errorf("error %+v", e)
	}
	if s := doc.Suites[2].Cases[0].Skipped; s == nil || s.Text != "no block storage in use" {
		t.Errorf("skipped %+v", s)
	}
}

// TestJUnitHostileText: whatever bytes the host's strings hold, the
// document is well-formed XML 1.0 with nothing XML forbids in it, and
// reads back to the same strings, each character XML cannot carry (a
// control character, a byte that is not UTF-8) as U+FFFD.
func TestJUnitHostileText(t *testing.T) {
	var every []byte
	for b := 0; b < 256; b++ {
		every = append(every, byte(b))
	}
	texts := []string{string(every), "]]><!-- <x/> &amp; \"'\u2028\ufffe"}
	for _, tt := range reporttest.HostileText {
		texts = append(texts, tt.In)
	}
	for _, h := range texts {
		r := reporttest.Hostile(h)
		r.Host.Hostname = h
		data, doc := formatJUnit(t, r)
		if !utf8.Valid(data) || bytes.ContainsFunc(data, xmlForbidden) {
			t.Fatalf("%.40q: invalid UTF-8, or a character XML forbids", h)
		}
		// Character references to forbidden characters are forbidden too.
		for _, ref := range []string{"&#x0;", "&#x1B;", "&#x1b;", "&#27;", "&#x7;"} {
			if bytes.Contains(data, []byte(ref)) {
				t.Fatalf("%.40q: %s in the document", h, ref)
			}
		}
		want := strings.Map(func(r rune) rune {
			if xmlForbidden(r) {
				return utf8.RuneError
			}
			return r
		}, string([]rune(h)))
		s := doc.Suites[0]
		c := s.Cases[0]
		if s.Name != "ssh" || c.Failure == nil || !kept(s.Hostname, want) || !kept(c.Name, "ssh."+want) || !kept(c.Failure.Message, want) {
			t.Fatalf("%.40q: read back as suite %.40q on %.40q, case %.40q", h, s.Name, s.Hostname, c.Name)
		}
		line := want + ": " + want + " = " + want
		if r := []rune(want); len(r) > report.LogLineMax {
			line = string(r[:report.LogLineMax]) + "…(+"
		}
		if !strings.Contains(c.Failure.Text, "\n  "+line) {
			t.Errorf("%.40q: failure text %.200q", h, c.Failure.Text)
		}
		if len(data) > 1<<20 {
			t.Errorf("%.40q: %d bytes", h, len(data))
		}
	}
}

// kept: got is want, or, for a string over the bound, its start and a
// marker saying how much was cut.
func kept(got, want string) bool {
	r := []rune(want)
	if len(r) <= report.LogLineMax {
		return got == want
	}
	return strings.HasPrefix(got, string(r[:report.LogLineMax])+"…(+") && strings.HasSuffix(got, " bytes)")
}
