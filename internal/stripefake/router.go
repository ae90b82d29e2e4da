package stripefake

import (
	"strings"
)

// call is one API request as a handler sees it.
type call struct {
	p      params
	vars   map[string]string
	path   string
	method string
	body   []byte
}

func (c *call) v(name string) string { return c.vars[name] }

// handler serves one route with the state lock held. It returns the
// response object (rendered, canonical) or an *Error.
type handler func(st *state, c *call) (any, *Error)

type route struct {
	method  string
	pattern string
	h       handler
}

type router struct {
	routes []compiledRoute
}

type compiledRoute struct {
	route
	segs     []string
	literals int
}

func newRouter(groups ...[]route) *router {
	r := &router{}
	for _, g := range groups {
		for _, rt := range g {
			segs := strings.Split(strings.Trim(rt.pattern, "/"), "/")
			lit := 0
			for _, s := range segs {
				if !strings.HasPrefix(s, "{") {
					lit++
				}
			}
			r.routes = append(r.routes, compiledRoute{route: rt, segs: segs, literals: lit})
		}
	}
	return r
}

// match finds the route for a request. Literal segments win over
// wildcards, so /v1/customers/search is not read as customer "search".
func (r *router) match(method, path string) (handler, map[string]string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var best *compiledRoute
	var bestVars map[string]string
	for i := range r.routes {
		rt := &r.routes[i]
		if rt.method != method || len(rt.segs) != len(segs) {
			continue
		}
		vars, ok := matchSegs(rt.segs, segs)
		if !ok {
			continue
		}
		if best == nil || rt.literals > best.literals {
			best, bestVars = rt, vars
		}
	}
	if best == nil {
		return nil, nil, false
	}
	return best.h, bestVars, true
}

func matchSegs(pattern, segs []string) (map[string]string, bool) {
	vars := map[string]string{}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			if segs[i] == "" {
				return nil, false
			}
			vars[strings.Trim(p, "{}")] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return vars, true
}
