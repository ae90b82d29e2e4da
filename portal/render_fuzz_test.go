package portal

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stripe/stripe-go/v76"
)

// FuzzRender feeds arbitrary event JSON to the renderer. It calls render,
// not Render, so that a panic is a failure here instead of being turned into
// an error by Render's safety net; and whatever renders must still be a
// well-formed notice whose two bodies agree.
func FuzzRender(f *testing.F) {
	for _, name := range fixtureNames(f) {
		raw, err := os.ReadFile(filepath.Join(fixtureDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{"type":"invoice.paid","data":{"object":{"object":"invoice","lines":{"data":[null]}}}}`))
	f.Add([]byte(`{"type":"customer.subscription.updated","data":{"object":{"items":{"data":[{}]}},"previous_attributes":{"items":{"data":[null,{"price":{}}]},"quantity":"x"}}}`))
	f.Add([]byte(`{"type":"charge.failed","data":{"object":{"amount":-9223372036854775808,"currency":"kwd","outcome":{}}}}`))

	options := []RenderOptions{
		{DashboardLink: testDashboard},
		{SkipUnknown: true},
		{DashboardLink: testDashboard, NoCustomerRoom: true},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var evt stripe.Event
		if json.Unmarshal(data, &evt) != nil {
			t.Skip()
		}
		for _, opts := range options {
			got, err := render(&evt, opts)
			if err != nil {
				continue
			}
			checkRendering(t, got)
		}
	})
}

// FuzzEventField is the structured companion of FuzzRender: byte-level
// mutation of whole events rarely produces a valid event, so this one takes
// a real fixture and replaces one field of its object (or of its previous
// attributes) with arbitrary JSON or text. It finds what a strange name, a
// wrong-typed amount or a missing sub-object does to a renderer.
func FuzzEventField(f *testing.F) {
	names := fixtureNames(f)
	objects := make([]map[string]any, len(names))
	types := make([]stripe.EventType, len(names))
	for i, name := range names {
		evt := loadEvent(f, name)
		types[i] = evt.Type
		if err := json.Unmarshal(evt.Data.Raw, &objects[i]); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(uint(0), false, "amount", []byte(`-1`))
	f.Add(uint(3), false, "currency", []byte(`"jpy"`))
	f.Add(uint(7), true, "items", []byte(`{"data":[{"price":null,"quantity":-3}]}`))
	f.Add(uint(9), false, "name", []byte(`<a href="javascript:x">`))
	f.Add(uint(12), false, "hosted_invoice_url", []byte(`"https://x.example/\"onload=\"x"`))
	f.Add(uint(20), true, "status", []byte(`{"nested":[1,2,3]}`))
	f.Fuzz(func(t *testing.T, which uint, previousAttr bool, key string, value []byte) {
		i := int(which % uint(len(names)))
		obj := make(map[string]any, len(objects[i]))
		for k, v := range objects[i] {
			obj[k] = v
		}
		var v any
		if json.Unmarshal(value, &v) != nil {
			v = string(value)
		}
		data := map[string]any{"object": obj}
		if previousAttr {
			data["previous_attributes"] = map[string]any{key: v}
		} else {
			obj[key] = v
		}
		raw, err := json.Marshal(map[string]any{"id": "evt_fuzz", "type": types[i], "data": data})
		if err != nil {
			t.Skip()
		}
		var evt stripe.Event
		if json.Unmarshal(raw, &evt) != nil {
			t.Skip()
		}
		got, err := render(&evt, RenderOptions{DashboardLink: testDashboard})
		if err != nil {
			return
		}
		checkRendering(t, got)
	})
}

func BenchmarkRender(b *testing.B) {
	names := fixtureNames(b)
	events := make([]*stripe.Event, len(names))
	for i, name := range names {
		events[i] = loadEvent(b, name)
	}
	opts := RenderOptions{DashboardLink: testDashboard}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Render(events[i%len(events)], opts); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
