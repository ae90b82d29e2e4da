package bridge

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/internal/localstack"
)

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, _, err := localstack.Build(localstack.Options{
		Dir: t.TempDir(), StripeURL: "http://127.0.0.1:1", APIKey: "sk_test_1", WebhookSecret: "whsec_1",
	})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1: the homeserver is unreachable.
	cfg.Homeserver.Address = "http://127.0.0.1:1"
	return cfg
}

func TestStartFailures(t *testing.T) {
	t.Run("homeserver unreachable", func(t *testing.T) {
		br := New(testConfig(t), zerolog.Nop(), "test")
		br.HomeserverWait = time.Second
		err := br.Start(context.Background())
		if !errors.Is(err, ErrHomeserver) {
			t.Fatalf("want ErrHomeserver, got %v", err)
		}
		br.Stop() // a second Stop after the failed Start must be harmless
	})
	t.Run("database unusable", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Database.URI = "file:/nonexistent-dir/x/y.db?_txlock=immediate"
		err := New(cfg, zerolog.Nop(), "test").Start(context.Background())
		if !errors.Is(err, ErrDatabase) {
			t.Fatalf("want ErrDatabase, got %v", err)
		}
	})
	t.Run("listen port taken", func(t *testing.T) {
		cfg := testConfig(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		cfg.AppService.Port = uint16(l.Addr().(*net.TCPAddr).Port)
		err = New(cfg, zerolog.Nop(), "test").Start(context.Background())
		if err == nil || !strings.Contains(err.Error(), "listener") {
			t.Fatalf("want a listener error, got %v", err)
		}
	})
}

func TestAssistantOptions(t *testing.T) {
	cfg := testConfig(t)
	if opts, err := AssistantOptions(cfg); err != nil || opts.LLM != nil || opts.Threshold != cfg.Assistant.ConfidenceThreshold || opts.CommandPrefix != "!stripe" {
		t.Errorf("without llm: %+v", opts)
	}
	cfg.Assistant.LLM = config.LLMConfig{BaseURL: "http://127.0.0.1:9/v1", Model: "m", APIKey: "k", Timeout: "5s"}
	opts, err := AssistantOptions(cfg)
	if err != nil || opts.LLM == nil || opts.LLM.BaseURL != "http://127.0.0.1:9/v1" || opts.LLM.Model != "m" || opts.LLM.APIKey != "k" || opts.LLM.Timeout != 5*time.Second {
		t.Errorf("with llm: %+v", opts.LLM)
	}
}

// TestListenerFailureIsFatal: a listener that dies after start must stop the
// process (cmd exits 14), not leave a bridge that runs deaf.
func TestListenerFailureIsFatal(t *testing.T) {
	br := New(testConfig(t), zerolog.Nop(), "test")
	ctx := context.Background()
	if err := br.openDatabase(ctx); err != nil {
		t.Fatal(err)
	}
	if err := br.initAppservice(); err != nil {
		t.Fatal(err)
	}
	if err := br.listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(br.Stop)
	select {
	case err := <-br.Fatal():
		t.Fatalf("fatal before anything failed: %v", err)
	default:
	}
	_ = br.server.listener.Close() // what an fd or network failure looks like to Serve
	select {
	case err := <-br.Fatal():
		if !strings.Contains(err.Error(), "listener") {
			t.Errorf("fatal error %q does not name the listener", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the dead listener was not reported")
	}
}
