package stripefake

import "testing"

func TestSearchQuery(t *testing.T) {
	ann := map[string]string{"email": "ann@example.com", "name": "Ann Lee", "metadata:matrix_user_id": "@ann:localhost", "created": "1700000000"}
	get := func(field, key string) (string, bool) {
		if field == "metadata" {
			field += ":" + key
		}
		v, ok := ann[field]
		return v, ok
	}
	fields := []string{"email", "name", "created"}
	tests := []struct {
		query string
		match bool
	}{
		{`email:'ann@example.com'`, true},
		{`email:"ANN@example.com"`, true},
		{`email:'bob@example.com'`, false},
		{`name~'lee'`, true},
		{`name~'bob'`, false},
		{`metadata['matrix_user_id']:'@ann:localhost'`, true},
		{`metadata["missing"]:null`, true},
		{`-name:'Ann Lee'`, false},
		{`email:'bob@example.com' OR name~'Ann'`, true},
		{`email:'ann@example.com' AND name~'Bob'`, false},
		{`email:'ann@example.com' AND name~'Ann'`, true},
		{`created>1600000000`, true},
		{`created<=1600000000`, false},
		{`name:'It\'s'`, false},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			q, e := parseSearch(tc.query, fields)
			if e != nil {
				t.Fatalf("parseSearch: %v", e)
			}
			if got := q.match(get); got != tc.match {
				t.Fatalf("match = %v, want %v", got, tc.match)
			}
		})
	}
}

func TestSearchQueryErrors(t *testing.T) {
	for _, q := range []string{
		``, `email`, `email:`, `email:'unterminated`, `phone:'x'`,
		`email:'a' AND name:'b' OR name:'c'`, `name~'ab'`, `email:'a' XOR name:'b'`, `metadata:'x'`,
	} {
		t.Run(q, func(t *testing.T) {
			if _, e := parseSearch(q, []string{"email", "name"}); e == nil || e.Status != 400 || e.Param != "query" {
				t.Fatalf("parseSearch(%q) = %v, want a 400 on query", q, e)
			}
		})
	}
}
