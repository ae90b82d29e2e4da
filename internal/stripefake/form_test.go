package stripefake

import (
	"reflect"
	"sort"
	"testing"
)

// flatten lists a parsed form as "a.b.0=v" lines, sorted.
func flatten(n *formNode, prefix string, out *[]string) {
	if len(n.kids) == 0 {
		*out = append(*out, prefix+"="+n.value)
		return
	}
	for _, k := range n.order {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		flatten(n.kids[k], p, out)
	}
}

func TestParseForm(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string
	}{
		{"plain", "email=a%40b.c&name=Ann+Lee", []string{"email=a@b.c", "name=Ann Lee"}},
		{"nested", "invoice_settings[default_payment_method]=pm_1", []string{"invoice_settings.default_payment_method=pm_1"}},
		{"deep", "a[b][c]=1&a[b][d]=2", []string{"a.b.c=1", "a.b.d=2"}},
		{"indexed array as stripe-go sends it", "items[0][price]=p1&items[0][quantity]=2&items[1][price]=p2",
			[]string{"items.0.price=p1", "items.0.quantity=2", "items.1.price=p2"}},
		{"expand as stripe-go sends it", "expand[0]=customer&expand[1]=data.charge",
			[]string{"expand.0=customer", "expand.1=data.charge"}},
		{"appended array", "expand[]=customer&expand[]=latest_invoice",
			[]string{"expand.0=customer", "expand.1=latest_invoice"}},
		{"rack array of hashes", "items[][price]=p1&items[][quantity]=1&items[][price]=p2",
			[]string{"items.0.price=p1", "items.0.quantity=1", "items.1.price=p2"}},
		{"escaped brackets", "metadata%5Bmatrix_user_id%5D=%40alice%3Alocalhost",
			[]string{"metadata.matrix_user_id=@alice:localhost"}},
		{"empty value clears", "metadata=", []string{"metadata="}},
		{"metadata key removal", "metadata[a]=&metadata[b]=x", []string{"metadata.a=", "metadata.b=x"}},
		{"query and body merge", "limit=3&customer=cus_1", []string{"customer=cus_1", "limit=3"}},
		{"empty pairs skipped", "a=1&&b=2&", []string{"a=1", "b=2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, err := parseForm(tc.raw)
			if err != nil {
				t.Fatalf("parseForm(%q): %v", tc.raw, err)
			}
			var got []string
			flatten(root, "", &got)
			sort.Strings(got)
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("parseForm(%q) = %v, want %v", tc.raw, got, want)
			}
		})
	}
}

func TestParseFormErrors(t *testing.T) {
	for _, raw := range []string{"a]b=1", "a[b=1", "=x", "[a]=1", "a=1&a[b]=2", "a[b]=1&a=2", "a[b[c]]=1", "a%zz=1"} {
		t.Run(raw, func(t *testing.T) {
			if _, err := parseForm(raw); err == nil {
				t.Fatalf("parseForm(%q) succeeded, want an error", raw)
			}
		})
	}
}

func TestParamsAccessors(t *testing.T) {
	root, err := parseForm("limit=abc&ok=true&bad=maybe&n=-5&expand[]=a&expand[]=b&" +
		"items[10][price]=p10&items[2][price]=p2&items[9][price]=p9&metadata[keep]=1&metadata[drop]=")
	if err != nil {
		t.Fatal(err)
	}
	p := newParams(root)

	t.Run("integers", func(t *testing.T) {
		if n, ok := p.int("n"); !ok || n != -5 {
			t.Fatalf("int(n) = %d, %v", n, ok)
		}
		if _, ok := p.int("missing"); ok {
			t.Fatal("int(missing) reported present")
		}
	})
	t.Run("lists in numeric index order", func(t *testing.T) {
		items, _ := p.list("items")
		var prices []string
		for _, it := range items {
			prices = append(prices, it.s("price"))
		}
		if !reflect.DeepEqual(prices, []string{"p2", "p9", "p10"}) {
			t.Fatalf("items order = %v", prices)
		}
		if items[2].prefix != "items[10]" {
			t.Fatalf("nested param name = %q", items[2].prefix)
		}
		if got := p.strs("expand"); !reflect.DeepEqual(got, []string{"a", "b"}) {
			t.Fatalf("strs(expand) = %v", got)
		}
	})
	t.Run("metadata merge", func(t *testing.T) {
		md := map[string]string{"drop": "x", "other": "y"}
		if !p.applyMetadata(md) {
			t.Fatal("metadata not reported present")
		}
		if !reflect.DeepEqual(md, map[string]string{"keep": "1", "other": "y"}) {
			t.Fatalf("metadata = %v", md)
		}
	})
	t.Run("type errors are sticky and name the param", func(t *testing.T) {
		if b, ok := p.boolean("ok"); !ok || !b {
			t.Fatal("boolean(ok) failed")
		}
		if p.check() != nil {
			t.Fatal("error before any bad read")
		}
		p.int("limit")
		p.boolean("bad")
		e := p.check()
		if e == nil || e.Param != "limit" || e.Code != "parameter_invalid_integer" || e.Status != 400 {
			t.Fatalf("check() = %+v, want the limit error first", e)
		}
	})
}
