package config

import (
	"errors"
	"strings"
	"testing"
)

func TestCatchupEvents(t *testing.T) {
	cases := []struct {
		name    string
		events  []string
		wantErr bool
	}{
		{"empty: the endpoints decide", nil, false},
		{"exact types", []string{"invoice.paid", "charge.refund.updated"}, false},
		{"prefix and all", []string{"invoice.*", "*"}, false},
		{"a type with spaces", []string{"invoice paid"}, true},
		{"upper case", []string{"Invoice.Paid"}, true},
		{"a wildcard inside", []string{"invoice.*.paid"}, true},
		{"empty entry", []string{""}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig(t)
			cfg.Stripe.Accounts[0].CatchupEvents = tc.events
			err := cfg.Validate()
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "stripe.accounts[0].catchup_events[0]:") {
				t.Errorf("want ErrInvalid naming stripe.accounts[0].catchup_events[0], got %v", err)
			}
		})
	}
	t.Run("read from YAML", func(t *testing.T) {
		cfg, err := Parse([]byte("stripe:\n  accounts:\n    - alias: main\n      catchup_events: [invoice.paid, \"charge.*\"]\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Stripe.Accounts[0].CatchupEvents; len(got) != 2 || got[1] != "charge.*" {
			t.Errorf("catchup_events %q", got)
		}
	})
}
