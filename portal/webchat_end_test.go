package portal

import (
	"encoding/json"
	"testing"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/config"
)

// Removing the customer's link metadata is an unlink (it ends their web
// chat sessions); other metadata changes and setting a link are not.
func TestUnlinked(t *testing.T) {
	m := &Manager{Config: &config.Config{Bridge: config.BridgeConfig{CustomerLinkKey: "matrix_user_id"}}}
	event := func(now, before string) *stripe.Event {
		raw := `{"id":"evt_1","type":"customer.updated","data":{"object":{"id":"cus_1","object":"customer","metadata":` + now +
			`},"previous_attributes":{"metadata":` + before + `}}}`
		var evt stripe.Event
		if err := json.Unmarshal([]byte(raw), &evt); err != nil {
			t.Fatal(err)
		}
		return &evt
	}
	cases := []struct {
		name        string
		now, before string
		want        bool
	}{
		{"link removed", `{}`, `{"matrix_user_id":"@a:b"}`, true},
		{"link emptied", `{"matrix_user_id":""}`, `{"matrix_user_id":"@a:b"}`, true},
		{"link set", `{"matrix_user_id":"@a:b"}`, `{"matrix_user_id":""}`, false},
		{"link changed", `{"matrix_user_id":"@c:d"}`, `{"matrix_user_id":"@a:b"}`, false},
		{"other metadata", `{"plan":"x"}`, `{"plan":"y"}`, false},
	}
	for _, c := range cases {
		if got := m.unlinked(event(c.now, c.before)); got != c.want {
			t.Errorf("%s: unlinked %v, want %v", c.name, got, c.want)
		}
	}
}
