// Package config defines matrix-stripe's configuration: the structs the YAML
// file decodes into, the upgrader that carries a user's values into the
// current layout, environment overrides for secrets, and validation that names
// the offending key.
//
// Besides the leaf packages it imports stripeapi, for its money parser only:
// amounts in the config (bridge.max_write_amount) are read by the same code
// that knows each currency's decimals everywhere else.
package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"go.mau.fi/util/dbutil"
	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// PlaceholderToken is what the example config holds until -g generates real tokens.
const PlaceholderToken = "This value is generated when generating the registration"

type Config struct {
	Homeserver HomeserverConfig `yaml:"homeserver"`
	AppService AppServiceConfig `yaml:"appservice"`
	Database   DatabaseConfig   `yaml:"database"`
	Stripe     StripeConfig     `yaml:"stripe"`
	Bridge     BridgeConfig     `yaml:"bridge"`
	Assistant  AssistantConfig  `yaml:"assistant"`
	WebChat    WebChatConfig    `yaml:"web_chat"`
	Panel      PanelConfig      `yaml:"agent_panel"`
	Metrics    MetricsConfig    `yaml:"metrics"`
	Encryption EncryptionConfig `yaml:"encryption"`
	Logging    LoggingConfig    `yaml:"logging"`
}

type HomeserverConfig struct {
	Address string `yaml:"address"`
	Domain  string `yaml:"domain"`
}

type AppServiceConfig struct {
	Address          string    `yaml:"address"`
	PublicAddress    string    `yaml:"public_address"`
	Hostname         string    `yaml:"hostname"`
	Port             uint16    `yaml:"port"`
	ID               string    `yaml:"id"`
	Bot              BotConfig `yaml:"bot"`
	UsernameTemplate string    `yaml:"username_template"`
	ASToken          string    `yaml:"as_token"`
	HSToken          string    `yaml:"hs_token"`
	// Limits protect the listener from slow or oversized clients.
	Limits ListenerLimits `yaml:"limits"`
}

// ListenerLimits bound what one client can hold of the HTTP listener that
// serves homeserver transactions and Stripe webhooks.
type ListenerLimits struct {
	MaxConnections      int    `yaml:"max_connections"`
	HeaderTimeout       string `yaml:"header_timeout"`
	ReadTimeout         string `yaml:"read_timeout"`
	WriteTimeout        string `yaml:"write_timeout"`
	IdleTimeout         string `yaml:"idle_timeout"`
	MaxHeaderBytes      int    `yaml:"max_header_bytes"`
	MaxTransactionBytes int64  `yaml:"max_transaction_bytes"`
}

type BotConfig struct {
	Username    string `yaml:"username"`
	Displayname string `yaml:"displayname"`
	Avatar      string `yaml:"avatar"`
}

type DatabaseConfig struct {
	Type            string  `yaml:"type"`
	URI             string  `yaml:"uri"`
	MaxOpenConns    int     `yaml:"max_open_conns"`
	MaxIdleConns    int     `yaml:"max_idle_conns"`
	MaxConnIdleTime *string `yaml:"max_conn_idle_time"`
	MaxConnLifetime *string `yaml:"max_conn_lifetime"`
}

type StripeConfig struct {
	Accounts []AccountConfig `yaml:"accounts"`
}

type AccountConfig struct {
	Alias          string   `yaml:"alias"`
	DisplayName    string   `yaml:"display_name"`
	APIKey         string   `yaml:"api_key"`
	WebhookSecrets []string `yaml:"webhook_secrets"`
	Livemode       bool     `yaml:"livemode"`
	DashboardURL   string   `yaml:"dashboard_url"`
	APIURL         string   `yaml:"api_url"`
	// CatchupEvents are the event types the Events API catch-up stores
	// (exact, "prefix.*" or "*"); empty means those the account's webhook
	// endpoints select, read through the API.
	CatchupEvents []string `yaml:"catchup_events"`
}

type BridgeConfig struct {
	CommandPrefix   string                 `yaml:"command_prefix"`
	Permissions     Permissions            `yaml:"permissions"`
	InviteAgents    map[string][]id.UserID `yaml:"invite_agents"`
	CustomerLinkKey string                 `yaml:"customer_link_key"`
	UnknownEvents   string                 `yaml:"unknown_events"`
	DeliveryWorkers int                    `yaml:"delivery_workers"`
	CatchupInterval string                 `yaml:"catchup_interval"`
	// HoldWindow is how long an event of a billing happening waits after it
	// arrived before it is posted, so the happening's other events are
	// there to post with it.
	HoldWindow string `yaml:"hold_window"`
	// SelfService says which self-service commands customers may run.
	SelfService SelfServicePolicy `yaml:"self_service"`
	// Plans are the price ids a customer may switch to with change-plan.
	Plans []string `yaml:"plans"`
	// PortalLinkTTL is how long a billing-portal link stays in the room
	// before the bot redacts it: the link is a bearer credential.
	PortalLinkTTL string `yaml:"portal_link_ttl"`
	// PortalReturnURL is where the billing portal's back button leads; empty
	// means the account's default from the Stripe dashboard.
	PortalReturnURL string `yaml:"portal_return_url"`
	// MaxWriteAmount caps one refund or credit, per currency code, in the
	// currency's major unit as people write it ("1000", "1,500.00").
	// Currencies not listed have no ceiling.
	MaxWriteAmount map[string]string `yaml:"max_write_amount"`
}

// SelfServicePolicy switches each customer self-service command on or off.
// Agents are not bound by it: it only limits what the linked customer can do.
type SelfServicePolicy struct {
	Portal        bool `yaml:"portal"`
	Pay           bool `yaml:"pay"`
	RequestRefund bool `yaml:"request_refund"`
	Cancel        bool `yaml:"cancel"`
	ChangePlan    bool `yaml:"change_plan"`
}

// PortalLinkLifetime is how long a posted billing-portal link is kept.
func (b *BridgeConfig) PortalLinkLifetime() time.Duration {
	d, _ := time.ParseDuration(b.PortalLinkTTL)
	return d
}

// WriteCeiling is the most one refund or credit in currency may be, in the
// currency's minor unit; false means the currency has no ceiling. Codes
// match case-insensitively. An amount Validate would refuse yields a ceiling
// of zero, so a broken entry blocks writes instead of lifting the limit.
func (b *BridgeConfig) WriteCeiling(currency string) (int64, bool) {
	for code, major := range b.MaxWriteAmount {
		if strings.EqualFold(code, currency) {
			minor, err := stripeapi.ParseAmount(major, code)
			if err != nil {
				return 0, true
			}
			return minor, true
		}
	}
	return 0, false
}

// Hold is the hold window (HoldWindow); zero posts at once.
func (b *BridgeConfig) Hold() time.Duration {
	d, _ := time.ParseDuration(b.HoldWindow)
	return d
}

// CatchupEvery is how often to list missed events; zero means only at start.
func (b *BridgeConfig) CatchupEvery() time.Duration {
	d, _ := time.ParseDuration(b.CatchupInterval)
	return d
}

// AssistantConfig controls the plain-language assistant in customer rooms.
type AssistantConfig struct {
	Enabled             bool                   `yaml:"enabled"`
	ConfidenceThreshold float64                `yaml:"confidence_threshold"`
	AgentQuietWindow    string                 `yaml:"agent_quiet_window"`
	AgentsOnDuty        map[string][]id.UserID `yaml:"agents_on_duty"`
	// Knowledge is the merchant's knowledge base (a .md or .yaml file) for
	// policy questions the billing data cannot answer; "" for none.
	Knowledge string    `yaml:"knowledge"`
	LLM       LLMConfig `yaml:"llm"`
}

// LLMConfig points the optional LLM mode at an OpenAI-compatible API.
type LLMConfig struct {
	BaseURL string `yaml:"base_url"`
	Model   string `yaml:"model"`
	APIKey  string `yaml:"api_key"`
	Timeout string `yaml:"timeout"`
}

// Enabled reports whether LLM mode is configured.
func (l *LLMConfig) Enabled() bool { return l.BaseURL != "" }

// TimeoutDuration bounds one whole answer.
func (l *LLMConfig) TimeoutDuration() time.Duration {
	d, _ := time.ParseDuration(l.Timeout)
	return d
}

// QuietWindow is how long the assistant stays quiet after an agent spoke.
func (a *AssistantConfig) QuietWindow() time.Duration {
	d, _ := time.ParseDuration(a.AgentQuietWindow)
	return d
}

type LoggingConfig struct {
	MinLevel string `yaml:"min_level"`
	Format   string `yaml:"format"`
}

// Parse decodes a config, rejecting keys the structs do not know so that a
// typo is an error instead of a silently ignored option.
func Parse(data []byte) (*Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("failed to parse config: %w", err)
	}
	return &cfg, nil
}

// Load reads, upgrades (saving the result when save is set) and parses the
// config at path, then applies environment overrides.
func Load(path string, save bool) (*Config, error) {
	data, _, err := Upgrade(path, save)
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, err
	}
	cfg.ApplyEnv(os.Getenv)
	return cfg, nil
}

// Account returns the account with the given alias, or nil.
func (c *Config) Account(alias string) *AccountConfig {
	for i := range c.Stripe.Accounts {
		if c.Stripe.Accounts[i].Alias == alias {
			return &c.Stripe.Accounts[i]
		}
	}
	return nil
}

// BotMXID is the full user ID of the appservice bot.
func (c *Config) BotMXID() id.UserID {
	return id.NewUserID(c.AppService.Bot.Username, c.Homeserver.Domain)
}

// GhostMXID is the user ID of the ghost that posts an account's billing events.
func (c *Config) GhostMXID(alias string) id.UserID {
	localpart := strings.ReplaceAll(c.AppService.UsernameTemplate, "{{.}}", alias)
	return id.NewUserID(localpart, c.Homeserver.Domain)
}

func (c *Config) ghostRegex() *regexp.Regexp {
	parts := strings.SplitN(c.AppService.UsernameTemplate, "{{.}}", 2)
	pattern := regexp.QuoteMeta(parts[0]) + ".+"
	if len(parts) == 2 {
		pattern += regexp.QuoteMeta(parts[1])
	}
	return regexp.MustCompile(fmt.Sprintf("^@%s:%s$", pattern, regexp.QuoteMeta(c.Homeserver.Domain)))
}

// IsGhost reports whether userID is in the bridge's exclusive ghost namespace.
func (c *Config) IsGhost(userID id.UserID) bool {
	return c.ghostRegex().MatchString(string(userID))
}

// GenerateRegistration builds the appservice registration with fresh tokens.
// The caller saves the tokens back into the config.
func (c *Config) GenerateRegistration() *appservice.Registration {
	reg := appservice.CreateRegistration()
	reg.ID = c.AppService.ID
	reg.URL = c.AppService.Address
	reg.SenderLocalpart = c.AppService.Bot.Username
	falseVal := false
	reg.RateLimited = &falseVal
	botRegex := regexp.MustCompile(fmt.Sprintf("^@%s:%s$",
		regexp.QuoteMeta(c.AppService.Bot.Username), regexp.QuoteMeta(c.Homeserver.Domain)))
	reg.Namespaces.UserIDs.Register(botRegex, true)
	reg.Namespaces.UserIDs.Register(c.ghostRegex(), true)
	reg.Namespaces.RoomAliases.Register(c.aliasRegex(), true)
	if c.Encryption.Appservice {
		// Asked for in the registration; the homeserver's own config turns
		// them on (Synapse's experimental_features), and the bridge checks
		// at start which of them it really gets (docs/encryption.md).
		reg.EphemeralEvents = true
		reg.SoruEphemeralEvents = true
		reg.MSC3202 = true
		reg.MSC4190 = true
	}
	return reg
}

// RoomAlias is the alias of one of the bridge's rooms of an account
// (channel "space", "feed", or a customer key). Rooms are created under
// their alias, so a second attempt — after a crash between creating a room
// and recording it, or from a second bridge process — finds the first room
// instead of making another.
func (c *Config) RoomAlias(account, channel string) id.RoomAlias {
	localpart := strings.ReplaceAll(c.AppService.UsernameTemplate, "{{.}}", account+"_"+channel)
	return id.NewRoomAlias(localpart, c.Homeserver.Domain)
}

func (c *Config) aliasRegex() *regexp.Regexp {
	return regexp.MustCompile("^#" + strings.TrimPrefix(c.ghostRegex().String(), "^@"))
}

// Registration returns the registration the running bridge serves, built from
// the tokens in the config.
func (c *Config) Registration() *appservice.Registration {
	reg := c.GenerateRegistration()
	reg.AppToken = c.AppService.ASToken
	reg.ServerToken = c.AppService.HSToken
	return reg
}

// DBUtil converts the database section into go.mau.fi/util's pool config.
func (d *DatabaseConfig) DBUtil() dbutil.Config {
	cfg := dbutil.Config{PoolConfig: dbutil.PoolConfig{
		Type:         d.Type,
		URI:          d.URI,
		MaxOpenConns: d.MaxOpenConns,
		MaxIdleConns: d.MaxIdleConns,
	}}
	if d.MaxConnIdleTime != nil {
		cfg.ConnMaxIdleTime = *d.MaxConnIdleTime
	}
	if d.MaxConnLifetime != nil {
		cfg.ConnMaxLifetime = *d.MaxConnLifetime
	}
	return cfg
}

// DashboardURL links to an object in the Stripe dashboard, in test or live mode.
func (a *AccountConfig) DashboardLink(path string) string {
	base := strings.TrimRight(a.DashboardURL, "/")
	if !a.Livemode {
		base += "/test"
	}
	return base + "/" + strings.TrimLeft(path, "/")
}

// parseDuration accepts null (disabled) or a Go duration.
func parseDuration(val *string) error {
	if val == nil {
		return nil
	}
	_, err := time.ParseDuration(*val)
	return err
}
