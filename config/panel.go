package config

import (
	"net/url"
	"strings"
	"time"
)

// PanelConfig is the agents' side panel (docs/panel.md): a room widget in
// every customer room that shows the customer's billing to agents.
type PanelConfig struct {
	Enabled bool `yaml:"enabled"`
	// PublicURL is the bridge's listener as agents' browsers reach it
	// (scheme://host[:port], behind the reverse proxy): the widget's URL in
	// each room starts with it.
	PublicURL string `yaml:"public_url"`
	// ResponseTarget is how soon a customer should hear from an agent: the
	// dashboard's inbox highlights the conversations waiting longer.
	ResponseTarget string `yaml:"response_target"`
}

// defaultResponseTarget applies when response_target is empty.
const defaultResponseTarget = 15 * time.Minute

// ResponseTargetDuration is ResponseTarget parsed (validated at load).
func (p *PanelConfig) ResponseTargetDuration() time.Duration {
	if d, err := time.ParseDuration(p.ResponseTarget); err == nil && d > 0 {
		return d
	}
	return defaultResponseTarget
}

// DashboardURL is the support dashboard's address.
func (p *PanelConfig) DashboardURL() string {
	return strings.TrimRight(p.PublicURL, "/") + "/dashboard/"
}

// WidgetURL is the panel's address for the widget state event.
func (p *PanelConfig) WidgetURL() string {
	return strings.TrimRight(p.PublicURL, "/") + "/panel/v1/"
}

func (c *Config) validatePanel() error {
	if !c.Panel.Enabled {
		return nil
	}
	u, err := url.Parse(c.Panel.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return invalid("agent_panel.public_url", "must be the bridge's public origin, like https://bridge.example.com")
	}
	if t := c.Panel.ResponseTarget; t != "" {
		if d, err := time.ParseDuration(t); err != nil || d <= 0 {
			return invalid("agent_panel.response_target", "must be a duration like 15m or 1h")
		}
	}
	return nil
}
