package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/internal/localstack"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
	"github.com/matrix-stripe/matrix-stripe/internal/testenv"
)

// bridgeBinary is MATRIX_STRIPE_TEST_BRIDGE_BINARY (a binary to test
// instead, see envFaultBinary), else buildBridge's.
func bridgeBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(envFaultBinary); bin != "" {
		return bin
	}
	return buildBridge(t)
}

// buildBridge compiles the real binary once per test.
func buildBridge(t testing.TB) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "matrix-stripe")
	build := exec.Command("go", "build", "-tags", "goolm", "-o", bin, "./cmd/matrix-stripe")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestSlowClientsDoNotStallTheListener runs the bridge as its own process
// with a small open-file limit, holds hundreds of connections that never
// finish their request headers, and checks that webhooks and homeserver
// transactions (a command round trip) are still served.
func TestSlowClientsDoNotStallTheListener(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: needs Dendrite (run without -short)")
	}
	const (
		fileLimit   = 256
		slowClients = 600
	)
	fake := scenarioFake(t, commandsScenario)
	dir := t.TempDir()
	cfg, regPath, err := localstack.Build(localstack.Options{
		Dir: dir, StripeURL: fake.URL(), APIKey: "sk_test_123", WebhookSecret: webhookSecret,
		Agents: []id.UserID{"@agent:localhost"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.AppService.Limits.MaxConnections = 100
	cfg.AppService.Limits.HeaderTimeout = "2s"
	fake.AddWebhookEndpoint(stripefake.WebhookEndpoint{URL: cfg.AppService.Address + "/stripe/webhook/main", Secret: webhookSecret})
	hs := testenv.DendriteServer(t, testenv.DendriteOptions{AppserviceRegistrations: []string{regPath}})
	cfg.Homeserver.Address = hs.URL
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err = os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	bin := buildBridge(t)
	logFile, err := os.Create(filepath.Join(dir, "bridge.log"))
	if err != nil {
		t.Fatal(err)
	}
	proc := exec.Command("sh", "-c", fmt.Sprintf("ulimit -n %d && exec %q -c %q -n", fileLimit, bin, cfgPath))
	proc.Stdout, proc.Stderr = logFile, logFile
	if err = proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = proc.Process.Signal(os.Interrupt)
		_ = proc.Wait()
		if t.Failed() {
			if log, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("bridge log tail:\n%s", lastLines(string(log), 40))
			}
		}
	})
	waitFor(t, 60*time.Second, "the bridge ready", func() (bool, string) {
		resp, err := http.Get(cfg.AppService.Address + "/_matrix/mau/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})

	// The agent's room exists before the attack, so the command round trip
	// below needs nothing but the listener.
	agent, err := hs.RegisterUser(t.Context(), "agent", password, false)
	if err != nil {
		t.Fatal(err)
	}
	bot := cfg.BotMXID()
	if _, err = fake.Client().Customers.Update("cus_alice", &stripe.CustomerParams{Description: stripe.String("VIP")}); err != nil {
		t.Fatal(err)
	}
	var room id.RoomID
	waitFor(t, 30*time.Second, "the agent invited to Alice's room", func() (bool, string) {
		rooms, err := agent.SyncRequest(t.Context(), 0, "", "", false, "")
		if err != nil {
			return false, err.Error()
		}
		for roomID := range rooms.Rooms.Invite {
			if _, err = agent.JoinRoomByID(t.Context(), roomID); err == nil {
				room = roomID
			}
		}
		return room != "", ""
	})

	var slow []net.Conn
	t.Cleanup(func() {
		for _, c := range slow {
			_ = c.Close()
		}
	})
	for range slowClients {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(cfg.AppService.Hostname, fmt.Sprint(cfg.AppService.Port)), 5*time.Second)
		if err != nil {
			t.Fatalf("open slow connection %d: %v", len(slow), err)
		}
		// A request line and one header, and then nothing, ever.
		if _, err = c.Write([]byte("POST /stripe/webhook/main HTTP/1.1\r\nHost: bridge\r\n")); err != nil {
			t.Fatal(err)
		}
		slow = append(slow, c)
	}

	t.Run("webhooks are still served", func(t *testing.T) {
		payload := chargeEvent(1, "cus_alice")
		client := &http.Client{Timeout: 90 * time.Second}
		req, _ := http.NewRequest(http.MethodPost, cfg.AppService.Address+"/stripe/webhook/main", bytes.NewReader(payload))
		req.Header.Set("Stripe-Signature", stripefake.SignatureHeader(payload, webhookSecret, time.Now()))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("webhook during the attack: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook during the attack answered %d", resp.StatusCode)
		}
	})

	t.Run("homeserver transactions are still served", func(t *testing.T) {
		if _, err := agent.SendText(t.Context(), room, "!stripe version"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 90*time.Second, "the bot's answer to a command", func() (bool, string) {
			for _, evt := range messages(t, agent, room) {
				if evt.Sender == bot && strings.Contains(evt.Content.AsMessage().Body, "Stripe API") {
					return true, ""
				}
			}
			return false, ""
		})
	})

	t.Run("the server hangs up on clients that never finish", func(t *testing.T) {
		buf := make([]byte, 512)
		_ = slow[0].SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := slow[0].Read(buf)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("a half-open connection is still open after 30 s (read %d bytes)", n)
		}
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
