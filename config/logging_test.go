package config

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func secretConfig(format, level string) *Config {
	c := &Config{}
	c.AppService.ASToken = "as-token-3f9c1e0a"
	c.AppService.HSToken = "hs-token-77b2d4e1"
	c.Assistant.LLM.APIKey = "llm-key-Qw8xYz"
	c.Database.URI = "postgres://bridge:db%2Fpass-9x@db.internal/bridge?sslmode=disable"
	c.Stripe.Accounts = []AccountConfig{{
		Alias: "main", APIKey: "custom-key-not-sk-shaped",
		WebhookSecrets: []string{"rotating-secret-old", "rotating-secret-new"},
	}}
	c.Logging = LoggingConfig{MinLevel: level, Format: format}
	return c
}

// TestLoggerScrubsConfigSecrets logs every secret of the config, in both
// output formats, and checks none of them reaches the output. The secrets
// are not Stripe- or token-shaped, so only the literal list can catch them.
func TestLoggerScrubsConfigSecrets(t *testing.T) {
	for _, format := range []string{"json", "pretty", "auto"} {
		t.Run(format, func(t *testing.T) {
			c := secretConfig(format, "debug")
			var out bytes.Buffer
			log := c.Logger(&out)
			secrets := []string{"as-token-3f9c1e0a", "hs-token-77b2d4e1", "llm-key-Qw8xYz",
				"db/pass-9x", "db%2Fpass-9x", "custom-key-not-sk-shaped", "rotating-secret-old", "rotating-secret-new"}
			for _, s := range secrets {
				log.Debug().Str("value", s).Msg("secret " + s)
			}
			log.Debug().Str("uri", c.Database.URI).Msg("connecting")
			got := out.String()
			for _, s := range secrets {
				if strings.Contains(got, s) {
					t.Errorf("%q reached the log:\n%s", s, got)
				}
			}
			if n := strings.Count(got, "[redacted]"); n < 2*len(secrets) {
				t.Errorf("%d redactions, want at least %d:\n%s", n, 2*len(secrets), got)
			}
			if format != "pretty" { // auto on a buffer is JSON: isatty only for files
				for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
					if !json.Valid([]byte(line)) {
						t.Errorf("not a JSON line: %s", line)
					}
				}
			}
		})
	}
}

func TestLoggerTraceLevel(t *testing.T) {
	var out bytes.Buffer
	log := secretConfig("json", "trace").Logger(&out)
	log.Trace().Msg("trace line")
	if !strings.Contains(out.String(), "trace line") {
		t.Errorf("min_level trace logged no trace line: %q", out.String())
	}
}

func TestDatabasePasswords(t *testing.T) {
	cases := []struct {
		name, uri string
		want      []string
	}{
		{"URI with password", "postgres://u:p%40ss@host/db", []string{"p@ss", "p%40ss"}},
		{"URI password in query", "postgres://u@host/db?sslmode=disable&password=q%3Dw", []string{"q%3Dw", "q=w"}},
		{"URI without password", "postgres://u@host/db", nil},
		{"SQLite file", "file:/var/lib/matrix-stripe.db?_txlock=immediate", nil},
		{"key/value DSN", "host=db user=u password=s3cret dbname=x", []string{"s3cret", "s3cret"}},
		{"quoted key/value DSN", "host=db password='with space' user=u", []string{"with space", "'with space'"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := databasePasswords(tc.uri); !slices.Equal(got, tc.want) {
				t.Errorf("databasePasswords(%q) = %q, want %q", tc.uri, got, tc.want)
			}
		})
	}
}
