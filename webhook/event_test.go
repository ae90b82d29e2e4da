package webhook

import (
	"bytes"
	"testing"
	"time"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func TestInboxEventCustomer(t *testing.T) {
	cases := []struct{ name, object, want string }{
		{"string", `{"object":"invoice","id":"in_1","customer":"cus_a"}`, "cus_a"},
		{"expanded", `{"object":"subscription","id":"sub_1","customer":{"id":"cus_b","object":"customer"}}`, "cus_b"},
		{"deleted expanded", `{"object":"charge","id":"ch_1","customer":{"id":"cus_c","object":"customer","deleted":true}}`, "cus_c"},
		{"customer itself", `{"object":"customer","id":"cus_d"}`, "cus_d"},
		{"dispute", `{"object":"dispute","id":"dp_1","charge":"ch_1"}`, ""},
		{"payout", `{"object":"payout","id":"po_1"}`, ""},
		{"null customer", `{"object":"payment_method","id":"pm_1","customer":null}`, ""},
		{"odd customer", `{"object":"invoice","id":"in_2","customer":42}`, ""},
		{"object not an object", `"surprise"`, ""},
		{"null object", `null`, ""},
	}
	for _, tc := range cases {
		raw := eventJSON("evt_1", "x.y", tc.object)
		evt, err := InboxEvent("acct", raw, time.Time{})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if evt.CustomerID != tc.want {
			t.Errorf("%s: customer %q, want %q", tc.name, evt.CustomerID, tc.want)
		}
	}
}

func TestInboxEventFields(t *testing.T) {
	raw := eventJSONVersion("evt_fields", "invoice.paid", "2025-01-27.acacia", invoiceObject("cus_1"))
	received := time.Unix(1_750_000_000, 123_456_789)
	evt, err := InboxEvent("acct", raw, received)
	if err != nil {
		t.Fatal(err)
	}
	if evt.ID != "evt_fields" || evt.AccountID != "acct" || evt.Type != "invoice.paid" ||
		evt.APIVersion != "2025-01-27.acacia" || evt.Created.Unix() != eventCreated ||
		evt.State != database.EventPending || evt.CustomerID != "cus_1" {
		t.Errorf("got %+v", evt)
	}
	if want := time.UnixMilli(1_750_000_000_123); !evt.ReceivedAt.Equal(want) {
		t.Errorf("received_at %v, want it in whole milliseconds %v", evt.ReceivedAt, want)
	}
	if !bytes.Equal(evt.Payload, raw) {
		t.Error("payload differs from the raw event")
	}
	raw[0] = 'X'
	if evt.Payload[0] == 'X' {
		t.Error("payload shares the caller's buffer")
	}
	if evt, _ := InboxEvent("acct", eventJSON("evt_2", "x.y", "{}"), time.Time{}); !evt.ReceivedAt.IsZero() {
		t.Error("zero receivedAt should stay zero for the inbox to fill in")
	}
}

func TestInboxEventRejects(t *testing.T) {
	for _, body := range []string{
		``, `garbage`, `null`, `[]`, `{"id":"evt_1"`,
		`{"id":"","type":"a.b","created":1}`,
		`{"id":"evt_1","created":1}`,
		`{"id":"evt_1","type":"a.b"}`,
		`{"id":7,"type":"a.b","created":1}`,
	} {
		if evt, err := InboxEvent("acct", []byte(body), time.Now()); err == nil {
			t.Errorf("%q: accepted as %+v", body, evt)
		}
	}
}

func FuzzInboxEvent(f *testing.F) {
	f.Add(eventJSON("evt_1", "invoice.paid", invoiceObject("cus_1")))
	f.Add([]byte(`{"id":"evt_1","type":"a","created":1,"data":{"object":{"customer":{"id":1}}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		evt, err := InboxEvent("acct", raw, time.Now())
		if err == nil && (evt.ID == "" || evt.Type == "" || !bytes.Equal(evt.Payload, raw)) {
			t.Errorf("accepted an event the inbox cannot hold: %+v", evt)
		}
	})
}
