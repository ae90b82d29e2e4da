package config

import (
	"net"
	"strconv"
	"strings"
)

// MetricsConfig is the Prometheus endpoint (docs/metrics.md), served on a
// listener of its own so that it can stay on a private network while the
// appservice listener faces Stripe and browsers.
type MetricsConfig struct {
	Enabled bool `yaml:"enabled"`
	// Listen is host:port for /metrics.
	Listen string `yaml:"listen"`
}

func (c *Config) validateMetrics() error {
	if !c.Metrics.Enabled {
		return nil
	}
	host, port, err := net.SplitHostPort(c.Metrics.Listen)
	if err != nil {
		return invalid("metrics.listen", "%q is not host:port, like 127.0.0.1:8001", c.Metrics.Listen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return invalid("metrics.listen", "%q needs a port from 1 to 65535", c.Metrics.Listen)
	}
	if host != "" && strings.ContainsAny(host, "/ ") {
		return invalid("metrics.listen", "%q is not host:port, like 127.0.0.1:8001", c.Metrics.Listen)
	}
	// The same port as the appservice listener would fail at start; say so
	// now, naming the key. (A different host on the same port may be a
	// different interface, which is fine.)
	if !strings.HasPrefix(c.AppService.Hostname, "/") && port == strconv.Itoa(int(c.AppService.Port)) &&
		(host == c.AppService.Hostname || host == "" || isWildcard(host) || isWildcard(c.AppService.Hostname)) {
		return invalid("metrics.listen", "%q is the appservice listener's port; metrics need a listener of their own", c.Metrics.Listen)
	}
	return nil
}

func isWildcard(host string) bool {
	return host == "0.0.0.0" || host == "::" || host == "[::]"
}
