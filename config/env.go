package config

import "strings"

// EnvPrefix is the environment-variable prefix for an account's secrets, so
// keys can stay out of the config file (MATRIX_STRIPE_MAIN_API_KEY).
func (a *AccountConfig) EnvPrefix() string {
	return "MATRIX_STRIPE_" + strings.ToUpper(strings.ReplaceAll(a.Alias, "-", "_")) + "_"
}

// ApplyEnv lets secrets come from the environment instead of the file.
// getenv is a parameter so tests need not mutate the process environment.
func (c *Config) ApplyEnv(getenv func(string) string) {
	setIf := func(dst *string, name string) {
		if val := getenv(name); val != "" {
			*dst = val
		}
	}
	setIf(&c.AppService.ASToken, "MATRIX_STRIPE_AS_TOKEN")
	setIf(&c.AppService.HSToken, "MATRIX_STRIPE_HS_TOKEN")
	setIf(&c.Database.URI, "MATRIX_STRIPE_DATABASE_URI")
	setIf(&c.Assistant.LLM.APIKey, "MATRIX_STRIPE_LLM_API_KEY")
	setIf(&c.Encryption.PickleKey, "MATRIX_STRIPE_PICKLE_KEY")
	setIf(&c.Encryption.BotPassword, "MATRIX_STRIPE_BOT_PASSWORD")
	for i := range c.Stripe.Accounts {
		acct := &c.Stripe.Accounts[i]
		setIf(&acct.APIKey, acct.EnvPrefix()+"API_KEY")
		if secret := getenv(acct.EnvPrefix() + "WEB_CHAT_SECRET"); secret != "" {
			if c.WebChat.Accounts == nil {
				c.WebChat.Accounts = map[string]*WebChatAccount{}
			}
			if c.WebChat.Accounts[acct.Alias] == nil {
				c.WebChat.Accounts[acct.Alias] = &WebChatAccount{}
			}
			c.WebChat.Accounts[acct.Alias].IdentitySecret = secret
		}
		if secrets := getenv(acct.EnvPrefix() + "WEBHOOK_SECRETS"); secrets != "" {
			acct.WebhookSecrets = nil
			for _, s := range strings.Split(secrets, ",") {
				if s = strings.TrimSpace(s); s != "" {
					acct.WebhookSecrets = append(acct.WebhookSecrets, s)
				}
			}
		}
	}
}
