package webhook

import (
	"bytes"
	"encoding/json"
	"reflect"
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

// decodeEvent reads a well-formed event in one pass; what it reads must be
// what the member-by-member decode (the one odd payloads take) reads.
func TestDecodeEventOnePassAgrees(t *testing.T) {
	payloads := [][]byte{
		eventJSON("evt_1", "invoice.paid", invoiceObject("cus_1")),
		eventFrom("evt_2", "true", `"acct_1"`),
		eventFrom("evt_3", "null", "null"),
		eventJSON("evt_4", "customer.updated", `{"id":"cus_4","object":"customer"}`),
		eventJSON("evt_5", "refund.created", `{"id":"re_1","object":"refund","charge":{"id":"ch_1","customer":"cus_5"},"payment_intent":"pi_1"}`),
		[]byte(`{"id":"evt_6","type":"customer.subscription.updated","created":1,"livemode":false,
			"data":{"object":{"id":"sub_1","object":"subscription","customer":{"id":"cus_6"},"latest_invoice":"in_6"},
			"previous_attributes":{"status":"trialing","customer":"cus_old"}}}`),
		[]byte(`{"id":"evt_7","type":"a.b","created":1,"data":{"object":null}}`),
		[]byte(`{"id":"evt_8","type":"a.b","created":1}`),
	}
	for _, raw := range payloads {
		row, env, err := decodeEvent("acct", raw, time.Time{})
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var members rawEvent
		if err := json.Unmarshal(raw, &members); err != nil {
			t.Fatal(err)
		}
		origin, originErr := decodeOrigin(&members)
		if !reflect.DeepEqual(env.origin, origin) || env.originErr != originErr {
			t.Errorf("%s: origin %+v %v, member by member %+v %v", row.ID, env.origin, env.originErr, origin, originErr)
		}
		if want := database.ReadPayloadFacts(raw); !reflect.DeepEqual(row.Facts, want) {
			t.Errorf("%s: facts %+v, member by member %+v", row.ID, row.Facts, want)
		}
		if want := customerOf(database.ReadPayloadFacts(raw)); row.CustomerID != want {
			t.Errorf("%s: customer %q, member by member %q", row.ID, row.CustomerID, want)
		}
	}
}
