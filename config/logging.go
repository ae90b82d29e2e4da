package config

import (
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/internal/logredact"
)

func parseLevel(level string) (zerolog.Level, error) {
	return zerolog.ParseLevel(level)
}

// Logger builds the root logger: pretty on a terminal, JSON for log
// collectors. Every line passes through a redacting writer that knows the
// config's secrets, under the console formatting too, because at debug level
// mautrix and stripe-go log whole request bodies and those carry tokens and
// billing-portal links.
func (c *Config) Logger(out io.Writer) zerolog.Logger {
	level, err := parseLevel(c.Logging.MinLevel)
	if err != nil {
		level = zerolog.InfoLevel
	}
	// zerolog drops events below its process-wide level (debug by default)
	// whatever the logger's own level says, so min_level: trace would
	// silently log no trace lines.
	if level < zerolog.GlobalLevel() {
		zerolog.SetGlobalLevel(level)
	}
	var w io.Writer = logredact.New(out, c.Secrets()...)
	if c.Logging.Format == "pretty" || (c.Logging.Format == "auto" && isTerminal(out)) {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

func isTerminal(out io.Writer) bool {
	f, ok := out.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// Secrets lists every secret value in the config (tokens, API keys, webhook
// secrets, the database password), for the log redactor. Empty and
// placeholder values are left out.
func (c *Config) Secrets() []string {
	all := []string{c.AppService.ASToken, c.AppService.HSToken, c.Assistant.LLM.APIKey,
		c.Encryption.PickleKey, c.Encryption.BotPassword}
	for _, acct := range c.Stripe.Accounts {
		all = append(all, acct.APIKey)
		all = append(all, acct.WebhookSecrets...)
	}
	for _, chat := range c.WebChat.Accounts {
		if chat != nil {
			all = append(all, chat.IdentitySecret)
		}
	}
	all = append(all, databasePasswords(c.Database.URI)...)
	var out []string
	for _, s := range all {
		if !placeholder(s) && s != generatePickleKey {
			out = append(out, s)
		}
	}
	return out
}

// databasePasswords returns the password in a database URI both as written
// and decoded, since either may end up in a log line (a driver's error
// quotes the URI, a parsed DSN echoes the password). Key/value connection
// strings ("host=db password='s3cret'") are covered too.
func databasePasswords(uri string) []string {
	if u, err := url.Parse(uri); err == nil && u.Scheme != "" {
		var out []string
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw, rawURIPassword(uri))
		}
		for _, kv := range strings.Split(u.RawQuery, "&") {
			if k, raw, _ := strings.Cut(kv, "="); k == "password" {
				decoded, _ := url.QueryUnescape(raw)
				out = append(out, raw, decoded)
			}
		}
		return out
	}
	dsnPassword := regexp.MustCompile(`(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)
	if m := dsnPassword.FindStringSubmatch(uri); m != nil {
		pw := m[1]
		if len(pw) >= 2 && pw[0] == '\'' {
			pw = pw[1 : len(pw)-1]
		}
		return []string{pw, m[1]}
	}
	return nil
}

// rawURIPassword is the password of scheme://user:password@host as written,
// before percent-decoding.
func rawURIPassword(uri string) string {
	_, rest, _ := strings.Cut(uri, "://")
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return ""
	}
	_, raw, _ := strings.Cut(rest[:at], ":")
	return raw
}
