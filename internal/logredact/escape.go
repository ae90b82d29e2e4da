package logredact

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
)

// literalForms lists each secret as it can appear in a log line: raw (the
// pretty console output), JSON-escaped the way zerolog and encoding/json
// escape it (the latter also turns <>& into \u003c…), escaped twice (a JSON
// body logged as a string field, such as a request body), and Go-quoted
// (ConsoleWriter quotes values with spaces or quotes). Longest first, so a
// longer form is replaced before a shorter one could cut into it.
func literalForms(secrets []string) [][]byte {
	seen := map[string]bool{}
	var out [][]byte
	add := func(s string) {
		if len(s) >= MinSecretLen && !seen[s] {
			seen[s] = true
			out = append(out, []byte(s))
		}
	}
	for _, s := range secrets {
		if len(s) < MinSecretLen {
			continue
		}
		html, plain := jsonEscape(s, true), jsonEscape(s, false)
		for _, form := range []string{s, html, plain, jsonEscape(html, false), jsonEscape(plain, false), goQuote(s)} {
			add(form)
		}
	}
	slices.SortStableFunc(out, func(a, b []byte) int { return len(b) - len(a) })
	return out
}

// jsonEscape returns s as it appears between the quotes of a JSON string.
func jsonEscape(s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s) // a string always encodes
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return string(b[1 : len(b)-1])
}

func goQuote(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// replaceLiteral replaces every occurrence of lit in line with Mask.
func replaceLiteral(line, lit []byte) []byte {
	var spans [][2]int
	for from := 0; ; {
		i := bytes.Index(line[from:], lit)
		if i < 0 {
			break
		}
		spans = append(spans, [2]int{from + i, from + i + len(lit)})
		from += i + len(lit)
	}
	return mask(line, spans)
}

// mask replaces the given spans of line (in order, not overlapping) with
// Mask, each widened to whole escape sequences. It returns line itself when
// there are none.
func mask(line []byte, spans [][2]int) []byte {
	if len(spans) == 0 {
		return line
	}
	out := make([]byte, 0, len(line))
	last := 0
	for _, sp := range spans {
		s, e := widen(line, sp[0], sp[1])
		if s < last {
			// Widening reached into the previous replacement: continue it.
			s = last
		}
		if e <= s {
			continue
		}
		out = append(out, line[last:s]...)
		out = append(out, Mask...)
		last = e
	}
	return append(out, line[last:]...)
}

// widen grows the span [s, e) of line so that it neither starts nor ends in
// the middle of a JSON escape sequence (\" or \u0026): replacing half an
// escape would leave a stray backslash or quote and break the JSON line.
func widen(line []byte, s, e int) (int, int) {
	for p := max(0, s-5); p < s; p++ {
		if n := escapeLen(line, p); n > 0 && p+n > s {
			s = p
			e = max(e, p+n)
			break
		}
	}
	for p := max(s, e-5); p < e; p++ {
		if n := escapeLen(line, p); n > 0 && p+n > e {
			e = min(len(line), p+n)
			break
		}
	}
	return s, e
}

// escapeLen is the length of the escape sequence starting at line[p], or 0
// if none starts there. A backslash starts one only when an even number of
// backslashes precedes it; otherwise it is itself escaped.
func escapeLen(line []byte, p int) int {
	if line[p] != '\\' {
		return 0
	}
	n := 0
	for j := p - 1; j >= 0 && line[j] == '\\'; j-- {
		n++
	}
	if n%2 == 1 {
		return 0
	}
	if p+1 < len(line) && line[p+1] == 'u' {
		return 6
	}
	return 2
}
