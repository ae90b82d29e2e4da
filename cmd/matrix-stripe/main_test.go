package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix/appservice"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
)

// runMainEnv makes the test binary run main's run() instead of the tests,
// so a test can watch the real bridge as a child process: its exit code
// and the log lines it writes to stderr.
const runMainEnv = "MATRIX_STRIPE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "--version")
	if code != exitOK || out != "matrix-stripe "+version()+"\n" || version() == "" {
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

// askConfig is a config whose account is a fake Stripe holding the basic
// scenario's customers.
func askConfig(t *testing.T) string {
	t.Helper()
	fake := stripefake.New(stripefake.Options{})
	if err := fake.LoadScenarioFile("../../internal/stripefake/testdata/basic.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := fake.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	return bridgeConfig(t, t.TempDir(), 29340, "http://127.0.0.1:9", fake)
}

func TestAsk(t *testing.T) {
	cfg := askConfig(t)
	code, out, errOut := runCLI(t, "ask", "-c", cfg, "-customer", "cus_failed", "why did my payment fail?")
	if code != exitOK {
		t.Fatalf("ask failed: %d %s", code, errOut)
	}
	if !strings.Contains(out, "intent:     failed_payment") || !strings.Contains(out, "reply:") {
		t.Errorf("ask output:\n%s", out)
	}
	if code, _, errOut := runCLI(t, "ask", "-customer", "nope", "hi"); code != exitUsage || !strings.Contains(errOut, "-customer cus_") {
		t.Errorf("bad customer id: code %d, %q", code, errOut)
	}
}

// ask -json prints the stable fields; an unknown customer or an empty
// question is refused with one sentence and a non-zero code.
func TestAskJSON(t *testing.T) {
	cfg := askConfig(t)
	code, out, errOut := runCLI(t, "ask", "-json", "-c", cfg, "-customer", "cus_failed",
		"Warum ist meine Zahlung fehlgeschlagen? Und wann ist die nächste Rechnung?")
	if code != exitOK {
		t.Fatalf("ask -json failed: %d %s", code, errOut)
	}
	var got struct {
		Intent     string   `json:"intent"`
		Intents    []string `json:"intents"`
		Confidence *float64 `json:"confidence"`
		Language   string   `json:"language"`
		Handoff    *bool    `json:"handoff"`
		Reply      string   `json:"reply"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got.Intent != "failed_payment" || len(got.Intents) != 2 || got.Intents[1] != "next_bill" || got.Language != "de" ||
		got.Confidence == nil || got.Handoff == nil || got.Reply == "" {
		t.Errorf("ask -json: %s", out)
	}
	code, _, errOut = runCLI(t, "ask", "-c", cfg, "-customer", "cus_nobody", "hi")
	if code != exitStripe || errOut != "There is no customer cus_nobody in this account.\n" {
		t.Errorf("unknown customer: code %d, %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "ask", "-c", cfg, "-customer", "cus_failed", "  ")
	if code != exitUsage || !strings.Contains(errOut, "question is empty") {
		t.Errorf("empty question: code %d, %q", code, errOut)
	}
}

// The fake Stripe is for tests and the demo; it must never be linked into
// the binary self-hosters run.
func TestProductionBinaryLeavesOutTheFake(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/matrix-stripe/matrix-stripe/bridge") {
		t.Fatalf("go list -deps did not list the bridge; is this the right package?\n%s", out)
	}
	for _, dep := range deps {
		if strings.Contains(dep, "stripefake") || strings.Contains(dep, "/internal/testenv") || strings.Contains(dep, "/internal/dbtest") {
			t.Errorf("matrix-stripe links %s", dep)
		}
	}
}

// fakeHomeserver answers the calls the bridge makes before "Bridge started"
// (versions, bot registration, whoami, profile) and 200 {} to the rest, so
// a bridge whose listener works gets all the way up.
func fakeHomeserver(t *testing.T, bot string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/_matrix/client/versions":
			fmt.Fprint(w, `{"versions":["v1.2"]}`)
		case strings.HasSuffix(r.URL.Path, "/account/whoami"), strings.HasSuffix(r.URL.Path, "/register"):
			fmt.Fprintf(w, `{"user_id":%q}`, bot)
		default:
			fmt.Fprint(w, `{}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// bridgeConfig writes a valid config (generated tokens, SQLite in dir) that
// listens on port and talks to the given homeserver and Stripe.
func bridgeConfig(t *testing.T, dir string, port int, homeserver string, fake *stripefake.Server) string {
	t.Helper()
	cfgPath := filepath.Join(dir, "config.yaml")
	if code, _, errOut := runCLI(t, "-e", "-c", cfgPath); code != exitOK {
		t.Fatalf("-e: %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "-g", "-c", cfgPath, "-r", filepath.Join(dir, "registration.yaml")); code != exitOK {
		t.Fatalf("-g: %d %s", code, errOut)
	}
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for old, repl := range map[string]string{
		"address: http://localhost:8008":               "address: " + homeserver,
		"port: 29340":                                  "port: " + strconv.Itoa(port),
		"uri: file:matrix-stripe.db?_txlock=immediate": "uri: file:" + filepath.Join(dir, "bridge.db") + "?_txlock=immediate",
		`api_key: "rk_test_replace_me"`:                "api_key: " + fake.APIKey(),
		`"whsec_replace_me"`:                           "whsec_test_listener",
		`api_url: ""`:                                  "api_url: " + fake.URL(),
	} {
		if strings.Count(text, old) != 1 {
			t.Fatalf("example config no longer has exactly one %q", old)
		}
		text = strings.Replace(text, old, repl, 1)
	}
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath
}

// TestListenerFailureExits runs the bridge binary's run() as a child
// process. With the appservice port free it gets to "Bridge started" (so
// the fakes suffice); with the port held by the test it must not: it exits
// 14, as the README promises, and its log names the listener and address.
func TestListenerFailureExits(t *testing.T) {
	const bot = "@stripebot:example.com"
	cases := []struct {
		name  string
		taken bool
	}{
		{"port free", false},
		{"port taken", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fake := stripefake.New(stripefake.Options{})
			if err := fake.Start("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = fake.Close() })
			held, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := held.Addr().(*net.TCPAddr).Port
			if !tc.taken {
				held.Close() // free again; the bridge may take it
			} else {
				t.Cleanup(func() { held.Close() })
			}
			cfgPath := bridgeConfig(t, dir, port, fakeHomeserver(t, bot).URL, fake)

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-c", cfgPath, "-n")
			cmd.Env = append(os.Environ(), runMainEnv+"=1")
			cmd.Dir = dir
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var lines []string
			started := false
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				lines = append(lines, sc.Text())
				if strings.Contains(sc.Text(), `"Bridge started"`) && !started {
					started = true
					_ = cmd.Process.Signal(syscall.SIGTERM)
				}
			}
			err = cmd.Wait()
			if ctx.Err() != nil {
				t.Fatalf("bridge still running after 60 s (killed); log:\n%s", strings.Join(lines, "\n"))
			}
			code := cmd.ProcessState.ExitCode()
			log := strings.Join(lines, "\n")
			if !tc.taken {
				if !started || code != exitOK {
					t.Fatalf("free port: started %v, exit %d (%v); log:\n%s", started, code, err, log)
				}
				// SIGTERM is a clean shutdown, not an incident.
				for _, line := range lines[slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, `"Bridge started"`) }):] {
					if strings.Contains(line, `"level":"error"`) || strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"fatal"`) {
						t.Errorf("clean shutdown logged: %s", line)
					}
				}
				return
			}
			addr := fmt.Sprintf("appservice HTTP listener on 127.0.0.1:%d", port)
			if started || code != exitStartFailed || !strings.Contains(log, addr) || !strings.Contains(log, "address already in use") {
				t.Fatalf("taken port: started %v, exit %d, want %d and a log line with %q; log:\n%s", started, code, exitStartFailed, addr, log)
			}
		})
	}
}
