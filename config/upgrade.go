package config

import (
	up "go.mau.fi/util/configupgrade"

	matrixstripe "github.com/matrix-stripe/matrix-stripe"
)

func doUpgrade(helper up.Helper) {
	helper.Copy(up.Str, "homeserver", "address")
	helper.Copy(up.Str, "homeserver", "domain")

	helper.Copy(up.Str, "appservice", "address")
	helper.Copy(up.Str, "appservice", "public_address")
	helper.Copy(up.Str, "appservice", "hostname")
	helper.Copy(up.Int, "appservice", "port")
	helper.Copy(up.Str, "appservice", "id")
	helper.Copy(up.Str, "appservice", "bot", "username")
	helper.Copy(up.Str, "appservice", "bot", "displayname")
	helper.Copy(up.Str, "appservice", "bot", "avatar")
	helper.Copy(up.Str, "appservice", "username_template")
	helper.Copy(up.Str, "appservice", "as_token")
	helper.Copy(up.Str, "appservice", "hs_token")
	helper.Copy(up.Int, "appservice", "limits", "max_connections")
	helper.Copy(up.Str, "appservice", "limits", "header_timeout")
	helper.Copy(up.Str, "appservice", "limits", "read_timeout")
	helper.Copy(up.Str, "appservice", "limits", "write_timeout")
	helper.Copy(up.Str, "appservice", "limits", "idle_timeout")
	helper.Copy(up.Int, "appservice", "limits", "max_header_bytes")
	helper.Copy(up.Int, "appservice", "limits", "max_transaction_bytes")

	helper.Copy(up.Str, "database", "type")
	helper.Copy(up.Str, "database", "uri")
	helper.Copy(up.Int, "database", "max_open_conns")
	helper.Copy(up.Int, "database", "max_idle_conns")
	helper.Copy(up.Str|up.Null, "database", "max_conn_idle_time")
	helper.Copy(up.Str|up.Null, "database", "max_conn_lifetime")

	helper.Copy(up.List, "stripe", "accounts")

	helper.Copy(up.Str, "bridge", "command_prefix")
	helper.Copy(up.Map, "bridge", "permissions")
	helper.Copy(up.Map, "bridge", "invite_agents")
	helper.Copy(up.Str, "bridge", "customer_link_key")
	helper.Copy(up.Str, "bridge", "unknown_events")
	helper.Copy(up.Int, "bridge", "delivery_workers")
	helper.Copy(up.Str, "bridge", "hold_window")
	helper.Copy(up.Str, "bridge", "catchup_interval")
	helper.Copy(up.Bool, "bridge", "self_service", "portal")
	helper.Copy(up.Bool, "bridge", "self_service", "pay")
	helper.Copy(up.Bool, "bridge", "self_service", "request_refund")
	helper.Copy(up.Bool, "bridge", "self_service", "cancel")
	helper.Copy(up.Bool, "bridge", "self_service", "change_plan")
	helper.Copy(up.List, "bridge", "plans")
	helper.Copy(up.Str, "bridge", "portal_link_ttl")
	helper.Copy(up.Str, "bridge", "portal_return_url")
	helper.Copy(up.Map, "bridge", "max_write_amount")

	helper.Copy(up.Bool, "assistant", "enabled")
	helper.Copy(up.Float|up.Int, "assistant", "confidence_threshold")
	helper.Copy(up.Str, "assistant", "agent_quiet_window")
	helper.Copy(up.Map, "assistant", "agents_on_duty")
	helper.Copy(up.Str, "assistant", "knowledge")
	helper.Copy(up.Str, "assistant", "llm", "base_url")
	helper.Copy(up.Str, "assistant", "llm", "model")
	helper.Copy(up.Str, "assistant", "llm", "api_key")
	helper.Copy(up.Str, "assistant", "llm", "timeout")

	helper.Copy(up.Bool, "web_chat", "enabled")
	helper.Copy(up.Str, "web_chat", "session_lifetime")
	helper.Copy(up.Map, "web_chat", "accounts")

	helper.Copy(up.Bool, "agent_panel", "enabled")
	helper.Copy(up.Str, "agent_panel", "public_url")
	helper.Copy(up.Str, "agent_panel", "response_target")

	helper.Copy(up.Bool, "metrics", "enabled")
	helper.Copy(up.Str, "metrics", "listen")
	helper.Copy(up.Bool, "encryption", "allow")
	helper.Copy(up.Bool, "encryption", "default")
	helper.Copy(up.Bool, "encryption", "require")
	helper.Copy(up.Bool, "encryption", "appservice")
	helper.Copy(up.Str, "encryption", "pickle_key")
	helper.Copy(up.Bool, "encryption", "self_sign")
	helper.Copy(up.Str, "encryption", "bot_password")

	helper.Copy(up.Str, "logging", "min_level")
	helper.Copy(up.Str, "logging", "format")
}

// Upgrader carries a user's values into the current example layout, keeping
// the example's comments, like mautrix bridges do.
var Upgrader = &up.StructUpgrader{
	SimpleUpgrader: doUpgrade,
	Blocks: [][]string{
		{"appservice"},
		{"database"},
		{"stripe"},
		{"bridge"},
		{"assistant"},
		{"web_chat"},
		{"agent_panel"},
		{"metrics"},
		{"logging"},
	},
	Base: matrixstripe.ExampleConfig,
}

// Upgrade runs the upgrader over the file at path and returns the result.
func Upgrade(path string, save bool, extra ...up.Upgrader) ([]byte, bool, error) {
	return up.Do(path, save, Upgrader, extra...)
}

// SaveTokens writes generated appservice tokens into the config file in place,
// keeping comments.
func SaveTokens(path, asToken, hsToken string) error {
	_, _, err := Upgrade(path, true, up.SimpleUpgrader(func(helper up.Helper) {
		helper.Set(up.Str, asToken, "appservice", "as_token")
		helper.Set(up.Str, hsToken, "appservice", "hs_token")
	}))
	return err
}

// SavePickleKey writes the encryption device's pickle key into the config
// at path, unless it has one: a new key would make the stored device keys
// unreadable.
func SavePickleKey(path, key string) error {
	_, _, err := Upgrade(path, true, up.SimpleUpgrader(func(helper up.Helper) {
		if cur, ok := helper.Get(up.Str, "encryption", "pickle_key"); !ok || cur == "" || cur == generatePickleKey {
			helper.Set(up.Str, key, "encryption", "pickle_key")
		}
	}))
	return err
}
