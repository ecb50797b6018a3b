package accuracy

import (
	"fmt"
	"strconv"
	"strings"
)

// parsePyLiteral parses the subset of Python literals that DyNAS-T writes:
// dicts with string keys, lists and tuples, numbers, quoted strings, None,
// True and False. Numbers become float64, lists []any, dicts
// map[string]any, None nil.
func parsePyLiteral(s string) (any, error) {
	p := &pyParser{s: s}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, p.errf("unexpected %q after the literal", p.rest())
	}
	return v, nil
}

type pyParser struct {
	s string
	i int
}

const maxPyDepth = 32

func (p *pyParser) errf(format string, args ...any) error {
	return fmt.Errorf("python literal at offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *pyParser) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20] + "..."
	}
	return r
}

func (p *pyParser) space() {
	for p.i < len(p.s) && strings.ContainsRune(" \t\r\n", rune(p.s[p.i])) {
		p.i++
	}
}

func (p *pyParser) value(depth int) (any, error) {
	if depth > maxPyDepth {
		return nil, p.errf("nested deeper than %d", maxPyDepth)
	}
	p.space()
	if p.i >= len(p.s) {
		return nil, p.errf("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.dict(depth)
	case c == '[' || c == '(':
		return p.list(depth)
	case c == '\'' || c == '"':
		return p.str()
	case strings.HasPrefix(p.s[p.i:], "None"):
		p.i += 4
		return nil, nil
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	default:
		return p.number()
	}
}

func (p *pyParser) dict(depth int) (any, error) {
	p.i++ // {
	out := map[string]any{}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return out, nil
		}
		k, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		key, ok := k.(string)
		if !ok {
			return nil, p.errf("dict key %v is not a string", k)
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errf("want ':' after key %q", key)
		}
		p.i++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[key] = v
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return out, nil
		}
		return nil, p.errf("want ',' or '}' in dict")
	}
}

func (p *pyParser) list(depth int) (any, error) {
	closer := byte(']')
	if p.s[p.i] == '(' {
		closer = ')'
	}
	p.i++
	out := []any{}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == closer {
			p.i++
			return out, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == closer {
			p.i++
			return out, nil
		}
		return nil, p.errf("want ',' or %q in list", closer)
	}
}

func (p *pyParser) str() (any, error) {
	q := p.s[p.i]
	p.i++
	var sb strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return sb.String(), nil
		case c == '\\' && p.i+1 < len(p.s):
			sb.WriteByte(p.s[p.i+1])
			p.i += 2
		default:
			sb.WriteByte(c)
			p.i++
		}
	}
	return nil, p.errf("unterminated string")
}

func (p *pyParser) number() (any, error) {
	j := p.i
	for j < len(p.s) && strings.IndexByte("+-0123456789.eE_", p.s[j]) >= 0 {
		j++
	}
	if j == p.i {
		return nil, p.errf("unexpected %q", p.rest())
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(p.s[p.i:j], "_", ""), 64)
	if err != nil {
		return nil, p.errf("bad number %q", p.s[p.i:j])
	}
	p.i = j
	return f, nil
}
