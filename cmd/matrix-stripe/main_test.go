package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maunium.net/go/mautrix/appservice"

	"github.com/matrix-stripe/matrix-stripe/config"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "--version")
	if code != exitOK || !strings.Contains(out, "matrix-stripe "+Version) {
		t.Fatalf("code %d, out %q", code, out)
	}
}

func TestExampleThenRegistrationThenValidation(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	regPath := filepath.Join(dir, "registration.yaml")

	if code, _, errOut := runCLI(t, "-e", "-c", cfgPath); code != exitOK {
		t.Fatalf("-e failed: %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "-e", "-c", cfgPath); code != exitConfig || !strings.Contains(errOut, "exists") {
		t.Fatalf("-e overwrote an existing config: %d %s", code, errOut)
	}

	// The example still has placeholder tokens: the bridge must refuse to
	// start and name the key.
	code, _, errOut := runCLI(t, "-c", cfgPath)
	if code != exitConfig || !strings.Contains(errOut, "appservice.as_token") {
		t.Fatalf("placeholder tokens accepted: %d %s", code, errOut)
	}

	if code, _, errOut = runCLI(t, "-g", "-c", cfgPath, "-r", regPath); code != exitOK {
		t.Fatalf("-g failed: %d %s", code, errOut)
	}
	reg, err := appservice.LoadRegistration(regPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AppService.ASToken != reg.AppToken || cfg.AppService.HSToken != reg.ServerToken {
		t.Error("tokens in config and registration differ")
	}
	if reg.URL != cfg.AppService.Address || reg.SenderLocalpart != cfg.AppService.Bot.Username {
		t.Errorf("registration %+v does not match config", reg)
	}
	info, err := os.Stat(regPath)
	if err != nil || info.Mode().Perm()&0o077 != 0 {
		t.Errorf("registration holds tokens but is readable by others: %v", info.Mode())
	}

	// Tokens are real now; the next complaint is the Stripe key placeholder.
	code, _, errOut = runCLI(t, "-c", cfgPath)
	if code != exitConfig || !strings.Contains(errOut, "stripe.accounts[0].api_key") {
		t.Fatalf("placeholder API key accepted: %d %s", code, errOut)
	}
}

func TestBadFlag(t *testing.T) {
	if code, _, _ := runCLI(t, "--frobnicate"); code != exitUsage {
		t.Fatalf("code %d", code)
	}
}

func TestMissingConfig(t *testing.T) {
	code, _, errOut := runCLI(t, "-c", filepath.Join(t.TempDir(), "nope.yaml"))
	if code != exitConfig || !strings.Contains(errOut, "nope.yaml") {
		t.Fatalf("code %d, %s", code, errOut)
	}
}

func TestAsk(t *testing.T) {
	code, out, errOut := runCLI(t, "ask", "-scenario", "../../stripefake/testdata/basic.yaml", "-customer", "cus_failed", "why did my payment fail?")
	if code != exitOK {
		t.Fatalf("ask failed: %d %s", code, errOut)
	}
	if !strings.Contains(out, "intent:     failed_payment") || !strings.Contains(out, "reply:") {
		t.Errorf("ask output:\n%s", out)
	}
	if code, _, _ := runCLI(t, "ask", "-customer", "nope", "hi"); code != exitUsage {
		t.Errorf("bad customer id: code %d", code)
	}
}
