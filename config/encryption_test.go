package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	matrixstripe "github.com/matrix-stripe/matrix-stripe"
)

func TestEncryptionConfig(t *testing.T) {
	cfg := validConfig(t)
	if cfg.Encryption.Allow || cfg.Encryption.PickleKey != "generate" {
		t.Fatalf("example encryption section: %+v, want off with a key to generate", cfg.Encryption)
	}
	cfg.Encryption = EncryptionConfig{Allow: true, Default: true, PickleKey: "sixteen or more characters"}
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid encryption rejected: %v", err)
	}
	for name, enc := range map[string]EncryptionConfig{
		"encryption.allow":      {Default: true, PickleKey: "sixteen or more characters"},
		"encryption.allow ":     {SelfSign: true, PickleKey: "sixteen or more characters"},
		"encryption.pickle_key": {Allow: true, PickleKey: "generate"},
	} {
		cfg := validConfig(t)
		cfg.Encryption = enc
		name = strings.TrimSpace(name)
		if err := cfg.Validate(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), name+":") {
			t.Errorf("%+v: want an error naming %s, got %v", enc, name, err)
		}
	}
	cfg = validConfig(t)
	if slices.Contains(cfg.Secrets(), "generate") {
		t.Error(`the example's pickle key "generate" is treated as a secret: every "generate" in the logs would be redacted`)
	}
	cfg.ApplyEnv(func(name string) string {
		switch name {
		case "MATRIX_STRIPE_PICKLE_KEY":
			return "from the environment"
		case "MATRIX_STRIPE_BOT_PASSWORD":
			return "the bot's password"
		}
		return ""
	})
	if cfg.Encryption.PickleKey != "from the environment" || cfg.Encryption.BotPassword != "the bot's password" {
		t.Errorf("MATRIX_STRIPE_PICKLE_KEY or _BOT_PASSWORD not applied: %+v", cfg.Encryption)
	}
	// Both are secrets: the log redactor must know them.
	secrets := strings.Join(cfg.Secrets(), "\n")
	if !strings.Contains(secrets, "from the environment") || !strings.Contains(secrets, "the bot's password") {
		t.Errorf("the pickle key or bot password is not among the secrets the logs redact")
	}
}

// -g saves a pickle key once; a second -g must not replace it, or the
// device's stored keys would become unreadable.
func TestSavePickleKeyKeepsTheFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(matrixstripe.ExampleConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SavePickleKey(path, "the first key, long enough"); err != nil {
		t.Fatal(err)
	}
	if err := SavePickleKey(path, "a second key, long enough"); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Encryption.PickleKey != "the first key, long enough" {
		t.Errorf("pickle key %q", cfg.Encryption.PickleKey)
	}
}
