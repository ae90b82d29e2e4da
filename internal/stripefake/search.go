package stripefake

import (
	"slices"
	"strconv"
	"strings"
)

// searchClause is one `field:value` term of Stripe's search language.
type searchClause struct {
	negate bool
	field  string
	key    string // metadata key for metadata['key']
	op     string // ":", "~", ">", "<", ">=", "<="
	value  string
	null   bool // the bare value null: field is unset
}

type searchQuery struct {
	clauses []searchClause
	or      bool
}

// parseSearch parses the subset of Stripe's search query language the
// bridge uses: `email:'x'`, `name~'x'`, `metadata['k']:'v'`, `-field:…`,
// numeric comparisons, joined by AND or by OR (Stripe forbids mixing).
func parseSearch(q string, fields []string) (*searchQuery, *Error) {
	bad := func(format string, args ...any) *Error {
		return errInvalidParam("query", "Invalid query: "+format, args...)
	}
	sc := &scanner{s: strings.TrimSpace(q)}
	out := &searchQuery{}
	joiner := ""
	for {
		sc.skipSpace()
		if sc.done() {
			return nil, bad("expected a clause at the end of %q", q)
		}
		cl := searchClause{}
		if sc.peek() == '-' {
			cl.negate = true
			sc.i++
		}
		cl.field = sc.ident()
		if cl.field == "" {
			return nil, bad("expected a field name at position %d", sc.i)
		}
		if cl.field == "metadata" {
			if sc.peek() != '[' {
				return nil, bad("metadata must be followed by ['key']")
			}
			sc.i++
			key, ok := sc.quoted()
			if !ok || sc.peek() != ']' {
				return nil, bad("metadata must be followed by ['key']")
			}
			sc.i++
			cl.key = key
		} else if !slices.Contains(fields, cl.field) {
			return nil, errInvalidParam("query", "Field '%s' is an unsupported search field for this resource.", cl.field)
		}
		cl.op = sc.op()
		if cl.op == "" {
			return nil, bad("expected an operator after %s", cl.field)
		}
		if v, ok := sc.quoted(); ok {
			cl.value = v
		} else {
			cl.value = sc.ident()
			if cl.value == "" {
				return nil, bad("expected a value after %s%s", cl.field, cl.op)
			}
			cl.null = cl.value == "null"
		}
		if cl.op == "~" && len([]rune(cl.value)) < 3 {
			return nil, errInvalidParam("query", "Substring search (~) requires at least 3 characters.")
		}
		out.clauses = append(out.clauses, cl)
		sc.skipSpace()
		if sc.done() {
			break
		}
		word := sc.ident()
		if word != "AND" && word != "OR" {
			return nil, bad("expected AND or OR, got %q", word)
		}
		if joiner != "" && joiner != word {
			return nil, errInvalidParam("query", "Invalid query: a query cannot mix AND and OR.")
		}
		joiner = word
	}
	if len(out.clauses) > 10 {
		return nil, errInvalidParam("query", "Invalid query: at most 10 clauses are allowed.")
	}
	out.or = joiner == "OR"
	return out, nil
}

// match asks get for each clause's field value; ok=false means unset.
func (q *searchQuery) match(get func(field, key string) (string, bool)) bool {
	for _, cl := range q.clauses {
		v, ok := get(cl.field, cl.key)
		hit := cl.matches(v, ok)
		if cl.negate {
			hit = !hit
		}
		if q.or && hit {
			return true
		}
		if !q.or && !hit {
			return false
		}
	}
	return !q.or
}

func (cl searchClause) matches(v string, ok bool) bool {
	if cl.null {
		return !ok || v == ""
	}
	if !ok {
		return false
	}
	switch cl.op {
	case ":":
		return strings.EqualFold(v, cl.value)
	case "~":
		return strings.Contains(strings.ToLower(v), strings.ToLower(cl.value))
	}
	a, err1 := strconv.ParseInt(v, 10, 64)
	b, err2 := strconv.ParseInt(cl.value, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	switch cl.op {
	case ">":
		return a > b
	case "<":
		return a < b
	case ">=":
		return a >= b
	case "<=":
		return a <= b
	}
	return false
}

type scanner struct {
	s string
	i int
}

func (sc *scanner) done() bool { return sc.i >= len(sc.s) }

func (sc *scanner) peek() byte {
	if sc.done() {
		return 0
	}
	return sc.s[sc.i]
}

func (sc *scanner) skipSpace() {
	for !sc.done() && sc.s[sc.i] == ' ' {
		sc.i++
	}
}

func (sc *scanner) ident() string {
	start := sc.i
	for !sc.done() {
		ch := sc.s[sc.i]
		if ch == '_' || ch == '.' || ch == '@' || ch == '+' || ch == '-' && sc.i > start ||
			'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' {
			sc.i++
			continue
		}
		break
	}
	return sc.s[start:sc.i]
}

func (sc *scanner) op() string {
	for _, op := range []string{">=", "<=", ":", "~", ">", "<"} {
		if strings.HasPrefix(sc.s[sc.i:], op) {
			sc.i += len(op)
			return op
		}
	}
	return ""
}

// quoted reads 'x' or "x"; a backslash escapes the quote character.
func (sc *scanner) quoted() (string, bool) {
	q := sc.peek()
	if q != '\'' && q != '"' {
		return "", false
	}
	var b strings.Builder
	for j := sc.i + 1; j < len(sc.s); j++ {
		ch := sc.s[j]
		if ch == '\\' && j+1 < len(sc.s) {
			b.WriteByte(sc.s[j+1])
			j++
			continue
		}
		if ch == q {
			sc.i = j + 1
			return b.String(), true
		}
		b.WriteByte(ch)
	}
	return "", false
}
