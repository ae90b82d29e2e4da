package config

import (
	"errors"
	"os"
	"path/filepath"
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
		"encryption.pickle_key": {Allow: true, PickleKey: "generate"},
	} {
		cfg := validConfig(t)
		cfg.Encryption = enc
		if err := cfg.Validate(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), name+":") {
			t.Errorf("%+v: want an error naming %s, got %v", enc, name, err)
		}
	}
	cfg = validConfig(t)
	cfg.ApplyEnv(func(name string) string {
		if name == "MATRIX_STRIPE_PICKLE_KEY" {
			return "from the environment"
		}
		return ""
	})
	if cfg.Encryption.PickleKey != "from the environment" {
		t.Errorf("MATRIX_STRIPE_PICKLE_KEY not applied: %q", cfg.Encryption.PickleKey)
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
