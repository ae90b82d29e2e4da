package stripefake

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// listOpts are the cursor parameters every list endpoint takes.
type listOpts struct {
	limit         int
	startingAfter string
	endingBefore  string
}

func readListOpts(p params) listOpts {
	o := listOpts{limit: 10, startingAfter: p.s("starting_after"), endingBefore: p.s("ending_before")}
	if n, ok := p.int("limit"); ok {
		if n < 1 || n > 100 {
			p.fail(invalidRequest(http.StatusBadRequest, "", "limit",
				"Invalid limit: must be between 1 and 100"))
		}
		o.limit = int(n)
	}
	if o.startingAfter != "" && o.endingBefore != "" {
		p.fail(invalidRequest(http.StatusBadRequest, "parameters_exclusive", "ending_before",
			"You may only specify one of these parameters: ending_before, starting_after."))
	}
	return o
}

// paginate cuts one page out of a newest-first list. With ending_before,
// Stripe returns the page just before the cursor, still newest first.
func paginate[T record](items []T, o listOpts, kind string) ([]T, bool, *Error) {
	find := func(id, param string) (int, *Error) {
		for i, it := range items {
			if it.base().ID == id {
				return i, nil
			}
		}
		return 0, errMissing(kind, id, param)
	}
	switch {
	case o.startingAfter != "":
		i, e := find(o.startingAfter, "starting_after")
		if e != nil {
			return nil, false, e
		}
		end := min(i+1+o.limit, len(items))
		return items[i+1 : end], end < len(items), nil
	case o.endingBefore != "":
		i, e := find(o.endingBefore, "ending_before")
		if e != nil {
			return nil, false, e
		}
		start := max(0, i-o.limit)
		return items[start:i], start > 0, nil
	}
	end := min(o.limit, len(items))
	return items[:end], end < len(items), nil
}

func listObj(url string, data []obj, hasMore bool) obj {
	if data == nil {
		data = []obj{}
	}
	return canon(obj{"object": "list", "data": data, "has_more": hasMore, "url": url})
}

// listResponse is the whole of a list endpoint once the items are filtered.
func listResponse[T record](c *call, url, kind string, items []T, render func(T) obj) (any, *Error) {
	o := readListOpts(c.p)
	if e := c.p.check(); e != nil {
		return nil, e
	}
	page, more, e := paginate(items, o, kind)
	if e != nil {
		return nil, e
	}
	data := make([]obj, 0, len(page))
	for _, it := range page {
		data = append(data, render(it))
	}
	return listObj(url, data, more), nil
}

// searchResponse pages search results with Stripe's opaque next_page token.
func searchResponse[T record](c *call, url string, items []T, render func(T) obj) (any, *Error) {
	limit := 10
	if n, ok := c.p.int("limit"); ok {
		if n < 1 || n > 100 {
			return nil, errInvalidParam("limit", "Invalid limit: must be between 1 and 100")
		}
		limit = int(n)
	}
	offset := 0
	if page := c.p.s("page"); page != "" {
		raw, err := base64.RawURLEncoding.DecodeString(page)
		n, convErr := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
		if err != nil || convErr != nil || n < 0 {
			return nil, errInvalidParam("page", "Invalid page: %s", page)
		}
		offset = n
	}
	if e := c.p.check(); e != nil {
		return nil, e
	}
	offset = min(offset, len(items))
	end := min(offset+limit, len(items))
	data := make([]obj, 0, end-offset)
	for _, it := range items[offset:end] {
		data = append(data, render(it))
	}
	var next any
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return canon(obj{
		"object": "search_result", "data": data, "has_more": end < len(items),
		"next_page": next, "url": url,
	}), nil
}

// createdFilter reads `created=N` or `created[gt|gte|lt|lte]=N`.
func createdFilter(p params, key string) func(int64) bool {
	if n := p.n.child(key); n != nil && len(n.kids) == 0 {
		if v, ok := p.int(key); ok {
			return func(t int64) bool { return t == v }
		}
	}
	sub := p.sub(key)
	type bound struct {
		op string
		v  int64
	}
	var bounds []bound
	for _, op := range []string{"gt", "gte", "lt", "lte"} {
		if v, ok := sub.int(op); ok {
			bounds = append(bounds, bound{op, v})
		}
	}
	return func(t int64) bool {
		for _, b := range bounds {
			switch {
			case b.op == "gt" && t <= b.v, b.op == "gte" && t < b.v,
				b.op == "lt" && t >= b.v, b.op == "lte" && t > b.v:
				return false
			}
		}
		return true
	}
}
