package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// WebChatConfig is the embeddable web chat (docs/webchat.md): customers on
// the merchant's billing page talk in their customer room without a Matrix
// account.
type WebChatConfig struct {
	Enabled bool `yaml:"enabled"`
	// SessionLifetime is how long a session lasts after the merchant's
	// token was exchanged for it.
	SessionLifetime string `yaml:"session_lifetime"`
	// Accounts are keyed by account alias; an account not listed has no
	// web chat.
	Accounts map[string]*WebChatAccount `yaml:"accounts"`
}

// WebChatAccount is one account's web chat: who may sign customers in, and
// which pages may embed it.
type WebChatAccount struct {
	// IdentitySecret is the HS256 key the merchant's backend signs tokens
	// with (MATRIX_STRIPE_<ALIAS>_WEB_CHAT_SECRET overrides it).
	IdentitySecret string `yaml:"identity_secret"`
	// AllowedOrigins are the exact origins (scheme://host[:port]) of the
	// pages that may embed the chat and call its API.
	AllowedOrigins []string `yaml:"allowed_origins"`
	Title          string   `yaml:"title"`
	Greeting       string   `yaml:"greeting"`
	AccentColor    string   `yaml:"accent_color"`
}

// WebChatAccount returns the web chat of an account, or nil when the web
// chat is off or the account has none.
func (c *Config) WebChatAccount(alias string) *WebChatAccount {
	if !c.WebChat.Enabled {
		return nil
	}
	return c.WebChat.Accounts[alias]
}

// SessionDuration is the web chat session lifetime.
func (w *WebChatConfig) SessionDuration() time.Duration {
	d, _ := time.ParseDuration(w.SessionLifetime)
	return d
}

// AllowsOrigin reports whether origin is one of the account's exact
// allowed origins.
func (a *WebChatAccount) AllowsOrigin(origin string) bool {
	for _, allowed := range a.AllowedOrigins {
		if origin == allowed {
			return true
		}
	}
	return false
}

var accentPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// minIdentitySecret: HS256 keys shorter than the hash are guessable
// offline from one token.
const minIdentitySecret = 32

func (c *Config) validateWebChat() error {
	w := &c.WebChat
	if !w.Enabled {
		return nil
	}
	if d, err := time.ParseDuration(w.SessionLifetime); err != nil || d < time.Minute || d > 30*24*time.Hour {
		return invalid("web_chat.session_lifetime", "%q must be a duration from 1m to 720h", w.SessionLifetime)
	}
	for alias, acct := range w.Accounts {
		key := "web_chat.accounts." + alias
		if c.Account(alias) == nil {
			return invalid("web_chat.accounts", "%q is not a configured account alias", alias)
		}
		if acct == nil {
			return invalid(key, "is empty")
		}
		if len(acct.IdentitySecret) < minIdentitySecret || placeholder(acct.IdentitySecret) {
			return invalid(key+".identity_secret", "must be at least %d characters (or set %sWEB_CHAT_SECRET)", minIdentitySecret, c.Account(alias).EnvPrefix())
		}
		if len(acct.AllowedOrigins) == 0 {
			return invalid(key+".allowed_origins", "must list the origins of the pages that embed the chat")
		}
		for _, origin := range acct.AllowedOrigins {
			if err := checkOrigin(origin); err != nil {
				return invalid(key+".allowed_origins", "%q %v", origin, err)
			}
		}
		if acct.AccentColor != "" && !accentPattern.MatchString(acct.AccentColor) {
			return invalid(key+".accent_color", "%q must be a colour like #635bff", acct.AccentColor)
		}
	}
	return nil
}

// checkOrigin accepts exactly what browsers send in Origin: a scheme, a
// host and an optional port, nothing else.
func checkOrigin(origin string) error {
	u, err := url.Parse(origin)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("must start with https:// (or http:// for local testing)")
	case u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("must be an origin: scheme://host[:port], without a path")
	case strings.HasSuffix(origin, "/") || strings.Contains(origin, "*"):
		return fmt.Errorf("must be an exact origin: no trailing slash, no wildcard")
	case origin != strings.ToLower(origin):
		return fmt.Errorf("must be lower case, as browsers send it")
	}
	return nil
}
