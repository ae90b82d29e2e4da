package stripefake

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// formNode is one level of a Rack-style form: `a[b][0][c]=v` becomes
// a → b → 0 → c with value v. Arrays are nodes whose keys are indexes.
type formNode struct {
	value    string
	hasValue bool
	kids     map[string]*formNode
	order    []string
}

func (n *formNode) child(key string) *formNode {
	if n == nil || n.kids == nil {
		return nil
	}
	return n.kids[key]
}

func (n *formNode) ensure(key string) *formNode {
	if n.kids == nil {
		n.kids = map[string]*formNode{}
	}
	c, ok := n.kids[key]
	if !ok {
		c = &formNode{}
		n.kids[key] = c
		n.order = append(n.order, key)
	}
	return c
}

// parseForm parses url-encoded pairs the way Stripe does: stripe-go sends
// `items[0][price]=…` and `expand[0]=…`; curl users send `expand[]=…`, which
// appends. `metadata=` (an empty value on a hash) is kept as a value so
// handlers can tell "clear it" from "not given".
func parseForm(raw ...string) (*formNode, error) {
	root := &formNode{}
	for _, chunk := range raw {
		if chunk == "" {
			continue
		}
		for _, pair := range strings.Split(chunk, "&") {
			if pair == "" {
				continue
			}
			k, v, _ := strings.Cut(pair, "=")
			key, err := url.QueryUnescape(k)
			if err != nil {
				return nil, fmt.Errorf("invalid parameter name %q", k)
			}
			val, err := url.QueryUnescape(v)
			if err != nil {
				return nil, fmt.Errorf("invalid value for %s", key)
			}
			segs, err := splitKey(key)
			if err != nil {
				return nil, err
			}
			if err := root.insert(segs, val, key); err != nil {
				return nil, err
			}
		}
	}
	return root, nil
}

// splitKey turns `a[b][]` into ["a", "b", ""].
func splitKey(key string) ([]string, error) {
	name, rest, _ := strings.Cut(key, "[")
	if name == "" {
		return nil, fmt.Errorf("invalid parameter name %q", key)
	}
	segs := []string{name}
	if rest == "" {
		if strings.ContainsAny(name, "]") {
			return nil, fmt.Errorf("invalid parameter name %q", key)
		}
		return segs, nil
	}
	rest = "[" + rest
	for rest != "" {
		if rest[0] != '[' {
			return nil, fmt.Errorf("invalid parameter name %q", key)
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return nil, fmt.Errorf("invalid parameter name %q", key)
		}
		seg := rest[1:end]
		if strings.ContainsAny(seg, "[") {
			return nil, fmt.Errorf("invalid parameter name %q", key)
		}
		segs = append(segs, seg)
		rest = rest[end+1:]
	}
	return segs, nil
}

func (n *formNode) insert(segs []string, val, fullKey string) error {
	node := n
	for i, seg := range segs {
		if node.hasValue && node.value != "" {
			return fmt.Errorf("invalid hash: %s is both a value and a hash", fullKey)
		}
		if seg == "" {
			seg = node.appendIndex(segs[i+1:])
		}
		node = node.ensure(seg)
	}
	if len(node.kids) > 0 {
		if val == "" {
			return nil
		}
		return fmt.Errorf("invalid hash: %s is both a value and a hash", fullKey)
	}
	node.value, node.hasValue = val, true
	return nil
}

// appendIndex picks the array slot for a `[]` segment. Rack's rule: with
// more segments to come (`items[][price]`), keep filling the last element
// until a key repeats.
func (n *formNode) appendIndex(rest []string) string {
	count := len(n.kids)
	if len(rest) > 0 && count > 0 {
		last := n.kids[strconv.Itoa(count-1)]
		if last != nil && rest[0] != "" && last.child(rest[0]) == nil {
			return strconv.Itoa(count - 1)
		}
	}
	return strconv.Itoa(count)
}

// params reads a parsed form. Type errors are sticky: handlers read every
// parameter first, then call check() once before changing any state.
type params struct {
	n      *formNode
	prefix string
	err    *paramErr
}

type paramErr struct{ e *Error }

func newParams(root *formNode) params { return params{n: root, err: &paramErr{}} }

func (p params) name(key string) string {
	if p.prefix == "" {
		return key
	}
	return p.prefix + "[" + key + "]"
}

func (p params) fail(e *Error) {
	if p.err.e == nil {
		p.err.e = e
	}
}

// check returns the first parameter error met so far.
func (p params) check() *Error { return p.err.e }

// sub is the params under one key, e.g. p.sub("invoice_settings").
func (p params) sub(key string) params {
	return params{n: p.n.child(key), prefix: p.name(key), err: p.err}
}

func (p params) has(key string) bool { return p.n.child(key) != nil }

// str returns a plain value; ok is false when the key is absent.
func (p params) str(key string) (string, bool) {
	c := p.n.child(key)
	if c == nil {
		return "", false
	}
	if len(c.kids) > 0 {
		p.fail(errInvalidParam(p.name(key), "Invalid string: %s", p.name(key)))
		return "", false
	}
	return c.value, true
}

func (p params) s(key string) string {
	v, _ := p.str(key)
	return v
}

func (p params) int(key string) (int64, bool) {
	v, ok := p.str(key)
	if !ok || v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.fail(invalidRequest(http.StatusBadRequest, "parameter_invalid_integer", p.name(key), "Invalid integer: %s", v))
		return 0, false
	}
	return n, true
}

func (p params) boolean(key string) (bool, bool) {
	v, ok := p.str(key)
	if !ok || v == "" {
		return false, false
	}
	switch v {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	p.fail(errInvalidParam(p.name(key), "Invalid boolean: %s", v))
	return false, false
}

// list returns an array's elements in index order. An explicit empty value
// (`items=`) is an empty list with cleared=true.
func (p params) list(key string) (items []params, cleared bool) {
	c := p.n.child(key)
	if c == nil {
		return nil, false
	}
	if len(c.kids) == 0 {
		return nil, c.hasValue && c.value == ""
	}
	idx := make([]int, 0, len(c.kids))
	for k := range c.kids {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 {
			p.fail(errInvalidParam(p.name(key), "Invalid array: %s", p.name(key)))
			return nil, false
		}
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		k := strconv.Itoa(i)
		items = append(items, params{n: c.kids[k], prefix: p.name(key) + "[" + k + "]", err: p.err})
	}
	return items, false
}

// strs returns an array of plain values, such as expand[] or types[].
func (p params) strs(key string) []string {
	items, _ := p.list(key)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if len(it.n.kids) > 0 {
			p.fail(errInvalidParam(p.name(key), "Invalid array: %s", p.name(key)))
			return nil
		}
		out = append(out, it.n.value)
	}
	if len(out) == 0 {
		if v, ok := p.str(key); ok && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// applyMetadata merges `metadata[k]=v` into m the way Stripe does: an empty
// value deletes the key, `metadata=` clears everything. It reports whether
// metadata was given at all.
func (p params) applyMetadata(m map[string]string) bool {
	c := p.n.child("metadata")
	if c == nil {
		return false
	}
	if len(c.kids) == 0 {
		if c.value != "" {
			p.fail(errInvalidParam("metadata", "Invalid hash"))
			return false
		}
		for k := range m {
			delete(m, k)
		}
		return true
	}
	for _, k := range c.order {
		kid := c.kids[k]
		if len(kid.kids) > 0 {
			p.fail(errInvalidParam("metadata["+k+"]", "Invalid string: metadata[%s]", k))
			return false
		}
		if kid.value == "" {
			delete(m, k)
		} else {
			m[k] = kid.value
		}
	}
	return true
}
