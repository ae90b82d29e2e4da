// Package localstack writes a bridge config and registration for a bridge
// running next to local test peers (Dendrite, a Stripe fake or stripe-mock),
// the way a self-hoster would: example config, then -g. The end-to-end tests
// and `make demo` share it so they exercise the same setup.
package localstack

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"maunium.net/go/mautrix/id"

	matrixstripe "github.com/matrix-stripe/matrix-stripe"
	"github.com/matrix-stripe/matrix-stripe/config"
)

// Options describe the local peers.
type Options struct {
	// Dir holds the registration and the SQLite database.
	Dir string
	// ServerName of the homeserver; default "localhost".
	ServerName string
	// StripeURL is the API base of the Stripe peer.
	StripeURL string
	// APIKey and WebhookSecret for the single account "main".
	APIKey        string
	WebhookSecret string
	// DatabaseType/URI override the default SQLite file in Dir.
	DatabaseType, DatabaseURI string
	// Agents and Admins get those roles by MXID.
	Agents, Admins []id.UserID
}

// FreePort asks the kernel for an unused loopback port.
func FreePort() (uint16, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port), nil
}

// Build returns a validated config and the path of the registration file
// written for it. The homeserver address is left for the caller to fill in
// once the homeserver (which needs the registration first) is up.
func Build(opts Options) (*config.Config, string, error) {
	cfg, err := config.Parse([]byte(matrixstripe.ExampleConfig))
	if err != nil {
		return nil, "", err
	}
	port, err := FreePort()
	if err != nil {
		return nil, "", err
	}
	if opts.ServerName == "" {
		opts.ServerName = "localhost"
	}
	cfg.Homeserver.Domain = opts.ServerName
	cfg.Homeserver.Address = "http://127.0.0.1:8008"
	cfg.AppService.Hostname = "127.0.0.1"
	cfg.AppService.Port = port
	cfg.AppService.Address = "http://127.0.0.1:" + strconv.Itoa(int(port))
	cfg.Database.Type = "sqlite3-fk-wal"
	cfg.Database.URI = "file:" + filepath.Join(opts.Dir, "matrix-stripe.db") + "?_txlock=immediate"
	if opts.DatabaseType != "" {
		cfg.Database.Type, cfg.Database.URI = opts.DatabaseType, opts.DatabaseURI
	}
	acct := &cfg.Stripe.Accounts[0]
	acct.DisplayName = "Demo Shop"
	acct.APIKey = opts.APIKey
	acct.WebhookSecrets = []string{opts.WebhookSecret}
	acct.APIURL = opts.StripeURL
	cfg.Bridge.Permissions = config.Permissions{}
	for _, user := range opts.Agents {
		cfg.Bridge.Permissions[string(user)] = config.RoleAgent
	}
	for _, user := range opts.Admins {
		cfg.Bridge.Permissions[string(user)] = config.RoleAdmin
	}
	cfg.Bridge.InviteAgents = map[string][]id.UserID{acct.Alias: opts.Agents}

	reg := cfg.GenerateRegistration()
	cfg.AppService.ASToken, cfg.AppService.HSToken = reg.AppToken, reg.ServerToken
	regPath := filepath.Join(opts.Dir, "registration.yaml")
	if err = reg.Save(regPath); err != nil {
		return nil, "", err
	}
	if err = cfg.Validate(); err != nil {
		return nil, "", fmt.Errorf("local config invalid: %w", err)
	}
	return cfg, regPath, nil
}
