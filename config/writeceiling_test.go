package config

import (
	"testing"
)

func TestWriteCeiling(t *testing.T) {
	cfg, err := Parse([]byte(`
bridge:
    max_write_amount:
        usd: 1000
        JPY: 150000
        cad: "1,500.00"
        kwd: 12.5
`))
	if err != nil {
		t.Fatal(err)
	}
	if err = cfg.Bridge.validateWriteCeilings(); err != nil {
		t.Fatalf("valid ceilings refused: %v", err)
	}
	cases := []struct {
		currency string
		want     int64
		limited  bool
	}{
		{"usd", 100000, true},
		{"USD", 100000, true},
		{"jpy", 150000, true}, // zero-decimal: major and minor unit are one
		{"cad", 150000, true},
		{"kwd", 12500, true}, // three decimals
		{"sek", 0, false},    // not listed: no ceiling
		{"", 0, false},
	}
	for _, c := range cases {
		t.Run(c.currency, func(t *testing.T) {
			got, limited := cfg.Bridge.WriteCeiling(c.currency)
			if got != c.want || limited != c.limited {
				t.Errorf("WriteCeiling(%q) = %d, %t; want %d, %t", c.currency, got, limited, c.want, c.limited)
			}
		})
	}
}

func TestWriteCeilingDefaults(t *testing.T) {
	cfg := validConfig(t)
	for currency, want := range map[string]int64{"usd": 100000, "eur": 100000, "gbp": 100000, "cad": 150000, "aud": 150000, "jpy": 150000} {
		if got, limited := cfg.Bridge.WriteCeiling(currency); !limited || got != want {
			t.Errorf("example ceiling for %s = %d, %t; want %d", currency, got, limited, want)
		}
	}
}

func TestWriteCeilingFailsClosed(t *testing.T) {
	// Validate refuses this at start; a config built without it must still
	// not turn a broken entry into "no ceiling".
	b := BridgeConfig{MaxWriteAmount: map[string]string{"usd": "a lot"}}
	if got, limited := b.WriteCeiling("usd"); !limited || got != 0 {
		t.Errorf("broken ceiling = %d, %t; want 0, true", got, limited)
	}
}
