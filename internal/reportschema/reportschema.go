// Package reportschema validates what vigie writes against the published
// schemas, for the tests that judge the real binary's output: a
// vigie.report/v1 document against docs/report.schema.json, a SARIF log
// against the OASIS SARIF 2.1.0 schema, a JUnit report against the schema
// Jenkins validates JUnit reports with (both kept in agent/report/testdata,
// whose README says where they come from).
package reportschema

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// tree is the root of the source tree, found from this file's place in it,
// whatever the package of the test that asks.
func tree(elem ...string) string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(self), "..", ".."}, elem...)...)
}

// File is docs/report.schema.json.
func File() string { return tree("docs", "report.schema.json") }

// Check validates data against the published schema.
func Check(data []byte) error { return Validate(File(), data) }

// SARIFFile is the OASIS SARIF 2.1.0 schema (JSON Schema draft-04).
func SARIFFile() string { return tree("agent", "report", "testdata", "sarif-schema-2.1.0.json") }

// CheckSARIF validates a SARIF log against the OASIS schema.
func CheckSARIF(data []byte) error { return Validate(SARIFFile(), data) }

// JUnitFile is the JUnit XML schema Jenkins validates reports with.
func JUnitFile() string { return tree("agent", "report", "testdata", "junit-jenkins.xsd") }

// CheckJUnit validates a JUnit XML report against JUnitFile with xmllint
// (libxml2-utils), which must be on PATH.
func CheckJUnit(data []byte) error {
	cmd := exec.Command("xmllint", "--noout", "--nonet", "--schema", JUnitFile(), "-")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("xmllint --schema %s: %w: %s", filepath.Base(JUnitFile()), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Validate checks data against the schema file at path (formats such as
// date-time asserted).
func Validate(path string, data []byte) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	url := "file://" + path
	if err := c.AddResource(url, doc); err != nil {
		return fmt.Errorf("load %s: %w", path, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return fmt.Errorf("compile %s: %w", path, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("document is not JSON: %w", err)
	}
	return sch.Validate(inst)
}
