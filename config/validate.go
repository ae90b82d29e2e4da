package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// ErrInvalid marks every validation failure, so callers can tell a config
// problem (exit code, hint to edit the file) from an I/O error.
var ErrInvalid = errors.New("invalid config")

var aliasPattern = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

func invalid(key, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, key, fmt.Sprintf(format, args...))
}

func placeholder(val string) bool {
	return val == "" || val == PlaceholderToken || strings.Contains(val, "replace_me")
}

// Validate checks everything the bridge needs before it touches the network.
// The error names the first offending key.
func (c *Config) Validate() error {
	if err := checkURL("homeserver.address", c.Homeserver.Address); err != nil {
		return err
	}
	if c.Homeserver.Domain == "" {
		return invalid("homeserver.domain", "must be set to your server name")
	}
	if err := checkURL("appservice.address", c.AppService.Address); err != nil {
		return err
	}
	if c.AppService.PublicAddress != "" {
		if err := checkURL("appservice.public_address", c.AppService.PublicAddress); err != nil {
			return err
		}
	}
	if c.AppService.Hostname == "" {
		return invalid("appservice.hostname", "must name where to listen (an IP address or a unix socket path)")
	}
	if c.AppService.Port == 0 && !strings.HasPrefix(c.AppService.Hostname, "/") {
		return invalid("appservice.port", "must be set when listening on an IP address")
	}
	if c.AppService.ID == "" {
		return invalid("appservice.id", "must be set")
	}
	if _, _, err := id.NewUserID(c.AppService.Bot.Username, c.Homeserver.Domain).ParseAndValidateStrict(); err != nil {
		return invalid("appservice.bot.username", "%q does not make a valid user ID", c.AppService.Bot.Username)
	}
	if strings.Count(c.AppService.UsernameTemplate, "{{.}}") != 1 {
		return invalid("appservice.username_template", "must contain {{.}} exactly once")
	}
	if placeholder(c.AppService.ASToken) {
		return invalid("appservice.as_token", "still a placeholder; run matrix-stripe -g to generate the registration")
	}
	if placeholder(c.AppService.HSToken) {
		return invalid("appservice.hs_token", "still a placeholder; run matrix-stripe -g to generate the registration")
	}
	if err := c.AppService.Limits.validate(); err != nil {
		return err
	}
	if err := c.Database.validate(); err != nil {
		return err
	}
	if err := c.validateAccounts(); err != nil {
		return err
	}
	if strings.TrimSpace(c.Bridge.CommandPrefix) == "" || strings.ContainsAny(c.Bridge.CommandPrefix, " \t\n") {
		return invalid("bridge.command_prefix", "must be one word, like !stripe")
	}
	if err := c.Bridge.Permissions.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	for alias, users := range c.Bridge.InviteAgents {
		if c.Account(alias) == nil {
			return invalid("bridge.invite_agents", "%q is not a configured account alias", alias)
		}
		for _, user := range users {
			if _, _, err := user.ParseAndValidateRelaxed(); err != nil {
				return invalid("bridge.invite_agents."+alias, "%q is not a valid user ID", user)
			}
		}
	}
	if c.Bridge.CustomerLinkKey == "" {
		return invalid("bridge.customer_link_key", "must be set (default matrix_user_id)")
	}
	switch c.Bridge.UnknownEvents {
	case "feed", "skip", "generic": // "generic" is the older name of "feed"
	default:
		return invalid("bridge.unknown_events", "%q is not feed or skip", c.Bridge.UnknownEvents)
	}
	if c.Bridge.DeliveryWorkers < 1 || c.Bridge.DeliveryWorkers > 64 {
		return invalid("bridge.delivery_workers", "must be between 1 and 64")
	}
	if d, err := time.ParseDuration(c.Bridge.HoldWindow); c.Bridge.HoldWindow != "" && (err != nil || d < 0 || d > 30*time.Second) {
		return invalid("bridge.hold_window", "%q must be a duration from 0 to 30s", c.Bridge.HoldWindow)
	}
	if d, err := time.ParseDuration(c.Bridge.CatchupInterval); err != nil || d < 0 || (d > 0 && d < time.Minute) {
		return invalid("bridge.catchup_interval", "%q must be a duration of at least 1m, or 0 to catch up only at start", c.Bridge.CatchupInterval)
	}
	if err := c.Bridge.validateSelfService(); err != nil {
		return err
	}
	if err := c.Bridge.validateWriteCeilings(); err != nil {
		return err
	}
	if t := c.Assistant.ConfidenceThreshold; t <= 0 || t >= 1 {
		return invalid("assistant.confidence_threshold", "must be between 0 and 1 (exclusive)")
	}
	if d, err := time.ParseDuration(c.Assistant.AgentQuietWindow); err != nil || d < 0 {
		return invalid("assistant.agent_quiet_window", "%q is not a duration like 30m", c.Assistant.AgentQuietWindow)
	}
	if llm := &c.Assistant.LLM; llm.Enabled() {
		if err := checkURL("assistant.llm.base_url", llm.BaseURL); err != nil {
			return err
		}
		if llm.Model == "" {
			return invalid("assistant.llm.model", "must be set when base_url is")
		}
		if d, err := time.ParseDuration(llm.Timeout); err != nil || d <= 0 {
			return invalid("assistant.llm.timeout", "%q is not a positive duration like 20s", llm.Timeout)
		}
	}
	for alias, users := range c.Assistant.AgentsOnDuty {
		if c.Account(alias) == nil {
			return invalid("assistant.agents_on_duty", "%q is not a configured account alias", alias)
		}
		for _, user := range users {
			if _, _, err := user.ParseAndValidateRelaxed(); err != nil {
				return invalid("assistant.agents_on_duty."+alias, "%q is not a valid user ID", user)
			}
		}
	}
	if err := c.validateWebChat(); err != nil {
		return err
	}
	if err := c.validatePanel(); err != nil {
		return err
	}
	if err := c.validateMetrics(); err != nil {
		return err
	}
	if err := c.validateEncryption(); err != nil {
		return err
	}
	switch c.Logging.Format {
	case "auto", "pretty", "json":
	default:
		return invalid("logging.format", "%q is not auto, pretty or json", c.Logging.Format)
	}
	if _, err := parseLevel(c.Logging.MinLevel); err != nil {
		return invalid("logging.min_level", "%v", err)
	}
	return nil
}

func checkURL(key, val string) error {
	u, err := url.Parse(val)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "unix") || (u.Host == "" && u.Scheme != "unix") {
		return invalid(key, "%q is not an http(s) URL", val)
	}
	return nil
}

func (d *DatabaseConfig) validate() error {
	switch d.Type {
	case "postgres", "sqlite3-fk-wal":
	default:
		return invalid("database.type", "%q is not supported (use postgres or sqlite3-fk-wal)", d.Type)
	}
	if d.URI == "" {
		return invalid("database.uri", "must be set")
	}
	if err := parseDuration(d.MaxConnIdleTime); err != nil {
		return invalid("database.max_conn_idle_time", "%v", err)
	}
	if err := parseDuration(d.MaxConnLifetime); err != nil {
		return invalid("database.max_conn_lifetime", "%v", err)
	}
	return nil
}

func (c *Config) validateAccounts() error {
	if len(c.Stripe.Accounts) == 0 {
		return invalid("stripe.accounts", "configure at least one account")
	}
	// What Stripe's enabled_events accepts, and prefixes.
	eventTypePattern := regexp.MustCompile(`^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$`)
	seen := make(map[string]bool)
	for i, acct := range c.Stripe.Accounts {
		key := fmt.Sprintf("stripe.accounts[%d]", i)
		if !aliasPattern.MatchString(acct.Alias) {
			return invalid(key+".alias", "%q must be 1-32 lowercase letters, digits, '-' or '_'", acct.Alias)
		}
		if seen[acct.Alias] {
			return invalid(key+".alias", "%q is used twice", acct.Alias)
		}
		seen[acct.Alias] = true
		if placeholder(acct.APIKey) {
			return invalid(key+".api_key", "set a Stripe secret or restricted key (or %s)", acct.EnvPrefix()+"API_KEY")
		}
		if !strings.HasPrefix(acct.APIKey, "sk_") && !strings.HasPrefix(acct.APIKey, "rk_") {
			return invalid(key+".api_key", "must be a secret (sk_) or restricted (rk_) key")
		}
		if keyLive := strings.Contains(acct.APIKey, "_live_"); keyLive != acct.Livemode {
			return invalid(key+".livemode", "is %t but the API key is a %s key", acct.Livemode, modeName(keyLive))
		}
		if len(acct.WebhookSecrets) == 0 {
			return invalid(key+".webhook_secrets", "add the endpoint's signing secret (whsec_...)")
		}
		for j, secret := range acct.WebhookSecrets {
			if placeholder(secret) || !strings.HasPrefix(secret, "whsec_") {
				return invalid(fmt.Sprintf("%s.webhook_secrets[%d]", key, j), "must be a signing secret starting with whsec_")
			}
		}
		if err := checkURL(key+".dashboard_url", acct.DashboardURL); err != nil {
			return err
		}
		if acct.APIURL != "" {
			if err := checkURL(key+".api_url", acct.APIURL); err != nil {
				return err
			}
		}
		for j, pattern := range acct.CatchupEvents {
			if !eventTypePattern.MatchString(pattern) {
				return invalid(fmt.Sprintf("%s.catchup_events[%d]", key, j),
					"%q must be an event type (invoice.paid), a prefix (invoice.*) or *", pattern)
			}
		}
	}
	return nil
}

func modeName(live bool) string {
	if live {
		return "live"
	}
	return "test"
}

// validateSelfService checks the customer self-service policy options.
func (b *BridgeConfig) validateSelfService() error {
	// Links live a while so the customer can open them, but not for ever: a
	// room's history is readable by everyone who joins it later.
	if d, err := time.ParseDuration(b.PortalLinkTTL); err != nil || d < 10*time.Second || d > 24*time.Hour {
		return invalid("bridge.portal_link_ttl", "%q must be a duration between 10s and 24h", b.PortalLinkTTL)
	}
	if b.PortalReturnURL != "" {
		if err := checkURL("bridge.portal_return_url", b.PortalReturnURL); err != nil {
			return err
		}
	}
	seen := make(map[string]bool, len(b.Plans))
	for _, price := range b.Plans {
		if !strings.HasPrefix(price, "price_") || len(price) == len("price_") || strings.ContainsAny(price, " \t/?#") {
			return invalid("bridge.plans", "%q is not a price ID (price_...)", price)
		}
		if seen[price] {
			return invalid("bridge.plans", "%q is listed twice", price)
		}
		seen[price] = true
	}
	if b.SelfService.ChangePlan && len(b.Plans) == 0 {
		return invalid("bridge.self_service.change_plan", "is on but bridge.plans lists no prices to switch to")
	}
	return nil
}

// currencyCode is the shape of an ISO 4217 code as Stripe writes it.
var currencyCode = regexp.MustCompile(`^[a-zA-Z]{3}$`)

// validateWriteCeilings checks bridge.max_write_amount: three-letter codes,
// each once, each with a positive amount in that currency's major unit.
func (b *BridgeConfig) validateWriteCeilings() error {
	codes := slices.Sorted(maps.Keys(b.MaxWriteAmount))
	seen := make(map[string]bool, len(codes))
	for _, code := range codes {
		key := "bridge.max_write_amount." + code
		if !currencyCode.MatchString(code) {
			return invalid(key, "%q is not a three-letter currency code like usd", code)
		}
		lower := strings.ToLower(code)
		if seen[lower] {
			return invalid(key, "%s is listed twice", lower)
		}
		seen[lower] = true
		if _, err := stripeapi.ParseAmount(b.MaxWriteAmount[code], code); err != nil {
			return invalid(key, "%v It is in major units (dollars, not cents); remove the currency to have no ceiling.", err)
		}
	}
	return nil
}
