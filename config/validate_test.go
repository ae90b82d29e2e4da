package config

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	matrixstripe "github.com/matrix-stripe/matrix-stripe"
)

func validConfig(t *testing.T) *Config {
	t.Helper()
	cfg, err := Parse([]byte(matrixstripe.ExampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.AppService.ASToken = "as"
	cfg.AppService.HSToken = "hs"
	cfg.Stripe.Accounts[0].APIKey = "rk_test_abc"
	cfg.Stripe.Accounts[0].WebhookSecrets = []string{"whsec_abc"}
	return cfg
}

func TestValidate(t *testing.T) {
	if err := validConfig(t).Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	tests := []struct {
		name    string
		mutate  func(c *Config)
		wantKey string
	}{
		{"placeholder tokens", func(c *Config) { c.AppService.ASToken = PlaceholderToken }, "appservice.as_token"},
		{"bad homeserver url", func(c *Config) { c.Homeserver.Address = "localhost:8008" }, "homeserver.address"},
		{"no domain", func(c *Config) { c.Homeserver.Domain = "" }, "homeserver.domain"},
		{"bad db type", func(c *Config) { c.Database.Type = "mysql" }, "database.type"},
		{"bad duration", func(c *Config) { d := "soon"; c.Database.MaxConnLifetime = &d }, "database.max_conn_lifetime"},
		{"no accounts", func(c *Config) { c.Stripe.Accounts = nil }, "stripe.accounts"},
		{"placeholder key", func(c *Config) { c.Stripe.Accounts[0].APIKey = "rk_test_replace_me" }, "stripe.accounts[0].api_key"},
		{"publishable key", func(c *Config) { c.Stripe.Accounts[0].APIKey = "pk_test_abc" }, "stripe.accounts[0].api_key"},
		{"live key in test mode", func(c *Config) { c.Stripe.Accounts[0].APIKey = "rk_live_abc" }, "stripe.accounts[0].livemode"},
		{"bad alias", func(c *Config) { c.Stripe.Accounts[0].Alias = "Main Account" }, "stripe.accounts[0].alias"},
		{"duplicate alias", func(c *Config) { c.Stripe.Accounts = append(c.Stripe.Accounts, c.Stripe.Accounts[0]) }, "stripe.accounts[1].alias"},
		{"no webhook secret", func(c *Config) { c.Stripe.Accounts[0].WebhookSecrets = nil }, "stripe.accounts[0].webhook_secrets"},
		{"bad webhook secret", func(c *Config) { c.Stripe.Accounts[0].WebhookSecrets = []string{"secret"} }, "stripe.accounts[0].webhook_secrets[0]"},
		{"bad role", func(c *Config) { c.Bridge.Permissions["*"] = "user" }, `bridge.permissions["*"]`},
		{"invite for unknown account", func(c *Config) { c.Bridge.InviteAgents["other"] = nil }, "bridge.invite_agents"},
		{"bad invite mxid", func(c *Config) { c.Bridge.InviteAgents["main"] = append(c.Bridge.InviteAgents["main"], "agent") }, "bridge.invite_agents.main"},
		{"empty prefix", func(c *Config) { c.Bridge.CommandPrefix = " " }, "bridge.command_prefix"},
		{"template without placeholder", func(c *Config) { c.AppService.UsernameTemplate = "stripe" }, "appservice.username_template"},
		{"bad unknown_events", func(c *Config) { c.Bridge.UnknownEvents = "drop" }, "bridge.unknown_events"},
		{"zero workers", func(c *Config) { c.Bridge.DeliveryWorkers = 0 }, "bridge.delivery_workers"},
		{"catch-up too often", func(c *Config) { c.Bridge.CatchupInterval = "5s" }, "bridge.catchup_interval"},
		{"hold window too long", func(c *Config) { c.Bridge.HoldWindow = "1m" }, "bridge.hold_window"},
		{"hold window not a duration", func(c *Config) { c.Bridge.HoldWindow = "soon" }, "bridge.hold_window"},
		{"portal link ttl not a duration", func(c *Config) { c.Bridge.PortalLinkTTL = "ten minutes" }, "bridge.portal_link_ttl"},
		{"portal link ttl too long", func(c *Config) { c.Bridge.PortalLinkTTL = "48h" }, "bridge.portal_link_ttl"},
		{"portal link ttl too short", func(c *Config) { c.Bridge.PortalLinkTTL = "1s" }, "bridge.portal_link_ttl"},
		{"bad portal return url", func(c *Config) { c.Bridge.PortalReturnURL = "example.com/billing" }, "bridge.portal_return_url"},
		{"plan is not a price", func(c *Config) { c.Bridge.Plans = []string{"prod_abc"} }, "bridge.plans"},
		{"duplicate plan", func(c *Config) { c.Bridge.Plans = []string{"price_a", "price_a"} }, "bridge.plans"},
		{"change plan without plans", func(c *Config) { c.Bridge.SelfService.ChangePlan = true }, "bridge.self_service.change_plan"},
		{"write ceiling not an amount", func(c *Config) { c.Bridge.MaxWriteAmount["usd"] = "lots" }, "bridge.max_write_amount.usd"},
		{"write ceiling in cents", func(c *Config) { c.Bridge.MaxWriteAmount["jpy"] = "1500.50" }, "bridge.max_write_amount.jpy"},
		{"write ceiling zero", func(c *Config) { c.Bridge.MaxWriteAmount["eur"] = "0" }, "bridge.max_write_amount.eur"},
		{"write ceiling negative", func(c *Config) { c.Bridge.MaxWriteAmount["gbp"] = "-5" }, "bridge.max_write_amount.gbp"},
		{"write ceiling empty", func(c *Config) { c.Bridge.MaxWriteAmount["cad"] = "" }, "bridge.max_write_amount.cad"},
		{"write ceiling in another currency", func(c *Config) { c.Bridge.MaxWriteAmount["usd"] = "€100" }, "bridge.max_write_amount.usd"},
		{"write ceiling for no currency", func(c *Config) { c.Bridge.MaxWriteAmount["dollars"] = "100" }, "bridge.max_write_amount.dollars"},
		{"write ceiling listed twice", func(c *Config) { c.Bridge.MaxWriteAmount["USD"] = "5" }, "bridge.max_write_amount.usd"},
		{"threshold out of range", func(c *Config) { c.Assistant.ConfidenceThreshold = 1.5 }, "assistant.confidence_threshold"},
		{"bad quiet window", func(c *Config) { c.Assistant.AgentQuietWindow = "soon" }, "assistant.agent_quiet_window"},
		{"on-duty agents of unknown account", func(c *Config) { c.Assistant.AgentsOnDuty = map[string][]id.UserID{"x": nil} }, "assistant.agents_on_duty"},
		{"llm without model", func(c *Config) { c.Assistant.LLM.BaseURL = "http://127.0.0.1:1/v1" }, "assistant.llm.model"},
		{"web chat for unknown account", func(c *Config) { webChat(c)["other"] = webChat(c)["main"] }, "web_chat.accounts"},
		{"web chat secret too short", func(c *Config) { webChat(c)["main"].IdentitySecret = "short" }, "web_chat.accounts.main.identity_secret"},
		{"web chat without origins", func(c *Config) { webChat(c)["main"].AllowedOrigins = nil }, "web_chat.accounts.main.allowed_origins"},
		{"web chat origin with path", func(c *Config) { webChat(c)["main"].AllowedOrigins = []string{"https://shop.example/billing"} }, "web_chat.accounts.main.allowed_origins"},
		{"web chat wildcard origin", func(c *Config) { webChat(c)["main"].AllowedOrigins = []string{"https://*.example.com"} }, "web_chat.accounts.main.allowed_origins"},
		{"web chat bad colour", func(c *Config) { webChat(c)["main"].AccentColor = "red" }, "web_chat.accounts.main.accent_color"},
		{"web chat session forever", func(c *Config) { webChat(c); c.WebChat.SessionLifetime = "9000h" }, "web_chat.session_lifetime"},
		{"bad log format", func(c *Config) { c.Logging.Format = "xml" }, "logging.format"},
		{"bad log level", func(c *Config) { c.Logging.MinLevel = "loud" }, "logging.min_level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig(t)
			tt.mutate(cfg)
			err := cfg.Validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
			if !strings.Contains(err.Error(), tt.wantKey+":") {
				t.Errorf("error %q does not name key %s", err, tt.wantKey)
			}
		})
	}
}

// webChat turns the web chat on with a valid account "main" and returns
// the accounts for a test to break.
func webChat(c *Config) map[string]*WebChatAccount {
	if !c.WebChat.Enabled {
		c.WebChat.Enabled = true
		c.WebChat.Accounts = map[string]*WebChatAccount{"main": {
			IdentitySecret: strings.Repeat("s", 32), AllowedOrigins: []string{"https://billing.example.com"}, AccentColor: "#635bff",
		}}
	}
	return c.WebChat.Accounts
}

func TestValidWebChat(t *testing.T) {
	cfg := validConfig(t)
	webChat(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid web chat rejected: %v", err)
	}
	cfg.ApplyEnv(func(name string) string {
		if name == "MATRIX_STRIPE_MAIN_WEB_CHAT_SECRET" {
			return "from-the-environment-0123456789abcdef"
		}
		return ""
	})
	if got := cfg.WebChatAccount("main").IdentitySecret; got != "from-the-environment-0123456789abcdef" {
		t.Errorf("secret %q, want the environment's", got)
	}
	if !slices.Contains(cfg.Secrets(), "from-the-environment-0123456789abcdef") {
		t.Error("the web chat secret is not redacted from logs")
	}
}

func TestPermissions(t *testing.T) {
	perms := Permissions{"*": RoleAgent, "example.com": RoleAdmin, "@bob:example.com": RoleAgent}
	cases := map[string]Role{
		"@alice:example.com": RoleAdmin,
		"@bob:example.com":   RoleAgent,
		"@eve:other.example": RoleAgent,
	}
	for user, want := range cases {
		if got := perms.Get(id.UserID(user)); got != want {
			t.Errorf("%s: got %q want %q", user, got, want)
		}
	}
	if (Permissions{"example.com": RoleAgent}).Get("@eve:other.example") != RoleNone {
		t.Error("unlisted user got a role")
	}
	if !RoleAdmin.AtLeast(RoleAgent) || RoleCustomer.AtLeast(RoleAgent) || !RoleAgent.AtLeast(RoleCustomer) {
		t.Error("role ordering wrong")
	}
}
