package config

import (
	"net/url"
	"strings"
)

// PanelConfig is the agents' side panel (docs/panel.md): a room widget in
// every customer room that shows the customer's billing to agents.
type PanelConfig struct {
	Enabled bool `yaml:"enabled"`
	// PublicURL is the bridge's listener as agents' browsers reach it
	// (scheme://host[:port], behind the reverse proxy): the widget's URL in
	// each room starts with it.
	PublicURL string `yaml:"public_url"`
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
	return nil
}
