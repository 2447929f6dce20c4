package access

import (
	"fmt"
	"strings"
)

// parseDirective recognises "@include PATH", "@includedir DIR" and their
// older "#" spellings, which must be followed by white space.
func parseDirective(line string) (Include, bool) {
	s := strings.TrimLeft(line, " \t")
	if len(s) == 0 || (s[0] != '@' && s[0] != '#') {
		return Include{}, false
	}
	for _, d := range []struct {
		word string
		dir  bool
	}{{"includedir", true}, {"include", false}} {
		rest, ok := strings.CutPrefix(s[1:], d.word)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		return Include{Dir: d.dir, Path: includePath(strings.TrimSpace(rest))}, true
	}
	return Include{}, false
}

// includePath reads the path of an include directive: double quoted, or
// with white space escaped by backslashes.
func includePath(s string) string {
	if len(s) >= 2 && s[0] == '"' {
		if end := strings.IndexByte(s[1:], '"'); end >= 0 {
			return s[1 : 1+end]
		}
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == ' ' || c == '\t' || c == '#':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// stripComment cuts a line at a "#" that is not a numeric user or group
// id (#1000, %#100, %:#5): sudo's lexer ends a word at "#" and starts a
// comment there ("/usr/bin/echo a#b" is "/usr/bin/echo a"). Quoted and
// escaped "#" stay.
func stripComment(line string) string {
	inQuote := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote:
			inQuote = c != '"'
		case c == '\\':
			i++
		case c == '"':
			inQuote = true
		case c == '#' && !(i+1 < len(line) && (isDigit(line[i+1]) || line[i+1] == '-' && i+2 < len(line) && isDigit(line[i+2]))):
			return line[:i]
		}
	}
	return line
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// continued reports whether a line ends with an unescaped backslash (white
// space after it allowed), and returns the line without it.
func continued(line string) (string, bool) {
	t := strings.TrimRight(line, " \t")
	n := 0
	for n < len(t) && t[len(t)-1-n] == '\\' {
		n++
	}
	if n%2 == 1 {
		return t[:len(t)-1], true
	}
	return line, false
}

type token struct {
	punct byte // one of , = : ( ) ! or 0 for a word
	text  string
}

// tokenize splits a logical line into words and the special characters of
// the grammar. A backslash escapes the next character; double quotes keep
// white space inside a word; "%:" opens a non-Unix group name.
func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
			continue
		case strings.IndexByte(",=:()!", c) >= 0:
			out = append(out, token{punct: c})
			i++
			continue
		}
		var w strings.Builder
		for i < len(s) {
			c = s[i]
			if c == ' ' || c == '\t' || strings.IndexByte(",=:()", c) >= 0 {
				if !(c == ':' && w.String() == "%") {
					break
				}
			}
			switch {
			case c == '\\' && i+1 < len(s):
				w.WriteByte(s[i+1])
				i += 2
				continue
			case c == '"':
				end := strings.IndexByte(s[i+1:], '"')
				if end < 0 {
					return nil, fmt.Errorf("unterminated quote")
				}
				if end == 0 && w.Len() == 0 {
					w.WriteString(`""`) // an empty argument list
				}
				w.WriteString(s[i+1 : i+1+end])
				i += end + 2
				continue
			}
			w.WriteByte(c)
			i++
		}
		out = append(out, token{text: w.String()})
	}
	return out, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) end() bool { return p.pos >= len(p.toks) }

func (p *parser) is(punct byte) bool { return !p.end() && p.toks[p.pos].punct == punct }

func (p *parser) isAt(k int, punct byte) bool {
	return p.pos+k < len(p.toks) && p.toks[p.pos+k].punct == punct
}

// word returns the current token's text if it is a word.
func (p *parser) word() (string, bool) {
	if p.end() || p.toks[p.pos].punct != 0 {
		return "", false
	}
	return p.toks[p.pos].text, true
}

func (p *parser) expect(punct byte) error {
	if !p.is(punct) {
		return fmt.Errorf("expected %q %s", punct, p.where())
	}
	p.pos++
	return nil
}

func (p *parser) where() string {
	if p.end() {
		return "at end of line"
	}
	t := p.toks[p.pos]
	if t.punct != 0 {
		return fmt.Sprintf("before %q", t.punct)
	}
	return fmt.Sprintf("before %q", t.text)
}

// negations consumes "!" operators and returns the prefix they amount to.
func (p *parser) negations() string {
	n := 0
	for p.is('!') {
		p.pos++
		n++
	}
	if n%2 == 1 {
		return "!"
	}
	return "" // "!!x" is x
}

// list reads "item, item, ..." where an item is "!"* word.
func (p *parser) list() ([]string, error) {
	var out []string
	for {
		neg := p.negations()
		w, ok := p.word()
		if !ok {
			return nil, fmt.Errorf("expected a name %s", p.where())
		}
		p.pos++
		out = append(out, neg+w)
		if !p.is(',') {
			return out, nil
		}
		p.pos++
	}
}

// digests skips a Digest_List ("sha256:HASH, sha512:HASH").
func (p *parser) digests() error {
	for {
		w, ok := p.word()
		if !ok || !digestNames[w] || !p.isAt(1, ':') {
			return nil
		}
		p.pos += 2
		if _, ok := p.word(); !ok {
			return fmt.Errorf("expected a digest after %s: %s", w, p.where())
		}
		p.pos++
		for p.is('=') { // base64 padding
			p.pos++
		}
		if !p.is(',') {
			return nil
		}
		if next := p.pos + 1; next < len(p.toks) && p.toks[next].punct == 0 && digestNames[p.toks[next].text] && p.isAt(2, ':') {
			p.pos++
			continue
		}
		return fmt.Errorf("expected a command after a digest %s", p.where())
	}
}

// command reads "!"* then the command name and its arguments, up to "," or
// ":" or the end of the line.
func (p *parser) command() (string, error) {
	neg := p.negations()
	var words []string
	for {
		w, ok := p.word()
		if !ok {
			break
		}
		words = append(words, w)
		p.pos++
	}
	if len(words) == 0 {
		return "", fmt.Errorf("expected a command %s", p.where())
	}
	// The negations are consumed above: a "!" left in front came from an
	// escape ("\!"), and no command is named "!" (sudo's grammar wants a
	// path, ALL, sudoedit, list or an alias).
	if strings.HasPrefix(words[0], "!") {
		return "", fmt.Errorf("expected a command, not an escaped \"!\" %s", p.where())
	}
	return neg + strings.Join(words, " "), nil
}
