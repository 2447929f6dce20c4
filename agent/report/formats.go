package report

import (
	"fmt"
	"strings"
)

// Options are what a format may take from the command line.
type Options struct {
	Color   bool // table: ANSI colours (a terminal, NO_COLOR unset)
	Verbose bool // table: the evidence of passing checks too
}

// FormatNames are the formats NewOutput knows, in the order help lists
// them; the first is the default.
var FormatNames = []string{"table", "json", "sarif", "junit"}

var formats = map[string]func(Options) Output{
	"table": func(o Options) Output { return Table(o) }, // the table takes every option there is
	"json":  func(Options) Output { return JSON{Indent: true} },
	"sarif": func(Options) Output { return SARIF{} },
	"junit": func(Options) Output { return JUnit{} },
}

// NewOutput returns the format called name, set up with o.
func NewOutput(name string, o Options) (Output, error) {
	mk, ok := formats[name]
	if !ok {
		return nil, fmt.Errorf("unknown format %q (want one of %s)", name, strings.Join(FormatNames, ", "))
	}
	return mk(o), nil
}
