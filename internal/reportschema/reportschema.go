// Package reportschema validates a vigie.report/v1 document against the
// published JSON Schema, docs/report.schema.json, for the tests that judge
// the real binary's output.
package reportschema

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// File is docs/report.schema.json, found from this file's place in the
// tree, whatever the package of the test that asks.
func File() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..", "docs", "report.schema.json")
}

// Check validates data against the published schema.
func Check(data []byte) error { return Validate(File(), data) }

// Validate checks data against the schema file at path (formats such as
// date-time asserted).
func Validate(path string, data []byte) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("report schema: %w", err)
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
		return fmt.Errorf("report is not JSON: %w", err)
	}
	return sch.Validate(inst)
}
