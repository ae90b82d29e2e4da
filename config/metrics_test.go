package config

import (
	"errors"
	"strings"
	"testing"

	up "go.mau.fi/util/configupgrade"

	matrixstripe "github.com/matrix-stripe/matrix-stripe"
)

func TestMetricsConfig(t *testing.T) {
	cfg := validConfig(t)
	if cfg.Metrics.Enabled || cfg.Metrics.Listen != "127.0.0.1:8001" {
		t.Fatalf("example metrics section: %+v, want off on 127.0.0.1:8001", cfg.Metrics)
	}
	// Off, the address is not looked at.
	cfg.Metrics.Listen = "nonsense"
	if err := cfg.Validate(); err != nil {
		t.Errorf("disabled metrics with a bad address rejected: %v", err)
	}
	for _, listen := range []string{"127.0.0.1:8001", ":9100", "0.0.0.0:9100", "[::1]:9100", "localhost:9100"} {
		cfg := validConfig(t)
		cfg.Metrics = MetricsConfig{Enabled: true, Listen: listen}
		if err := cfg.Validate(); err != nil {
			t.Errorf("metrics.listen %q rejected: %v", listen, err)
		}
	}
	for _, listen := range []string{"", "8001", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:http", "a b:80",
		// The appservice listener's own address and port (example: 127.0.0.1:29340).
		"127.0.0.1:29340", ":29340", "0.0.0.0:29340"} {
		cfg := validConfig(t)
		cfg.Metrics = MetricsConfig{Enabled: true, Listen: listen}
		err := cfg.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "metrics.listen:") {
			t.Errorf("metrics.listen %q: want an error naming metrics.listen, got %v", listen, err)
		}
	}
}

// TestUpgradeAddsMetrics: a config written before metrics existed gets the
// section, off, with its comments; one that has it keeps its values.
func TestUpgradeAddsMetrics(t *testing.T) {
	start := strings.Index(matrixstripe.ExampleConfig, "# Prometheus metrics")
	end := strings.Index(matrixstripe.ExampleConfig, "# Logging config.")
	if start < 0 || end < start {
		t.Fatal("example config has no metrics section before logging")
	}
	old := matrixstripe.ExampleConfig[:start] + matrixstripe.ExampleConfig[end:]
	upgraded, err := up.DoBytes([]byte(old), Upgrader)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(upgraded)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Metrics.Enabled || cfg.Metrics.Listen != "127.0.0.1:8001" {
		t.Errorf("upgraded metrics section %+v, want the default", cfg.Metrics)
	}
	if !strings.Contains(string(upgraded), "# Prometheus metrics") {
		t.Error("the upgrade lost the metrics section's comments")
	}

	mine := strings.Replace(matrixstripe.ExampleConfig, "    enabled: false\n    # host:port", "    enabled: true\n    # host:port", 1)
	mine = strings.Replace(mine, "listen: 127.0.0.1:8001", "listen: 10.0.0.5:9464", 1)
	upgraded, err = up.DoBytes([]byte(mine), Upgrader)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err = Parse(upgraded); err != nil {
		t.Fatal(err)
	}
	if !cfg.Metrics.Enabled || cfg.Metrics.Listen != "10.0.0.5:9464" {
		t.Errorf("upgrade changed the user's metrics section: %+v", cfg.Metrics)
	}
}
