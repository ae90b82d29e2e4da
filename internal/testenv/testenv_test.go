package testenv

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

func TestDendriteUsersRoomsAndRestart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	started := time.Now()
	d := DendriteServer(t, DendriteOptions{})
	t.Logf("dendrite ready in %s, RSS %s", time.Since(started).Round(time.Millisecond), rss(d.PID()))

	alice, err := d.RegisterUser(ctx, "alice", "alice-pw", true)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := d.RegisterUser(ctx, "bob", "bob-password", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, cli := range []*mautrix.Client{alice, bob} {
		resp, err := cli.Whoami(ctx)
		if err != nil {
			t.Fatalf("whoami %s: %v", cli.UserID, err)
		}
		if resp.UserID != cli.UserID {
			t.Fatalf("whoami = %s, want %s", resp.UserID, cli.UserID)
		}
	}
	if want := d.UserID("bob"); bob.UserID != want {
		t.Fatalf("bob is %s, want %s", bob.UserID, want)
	}

	room, err := bob.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "private_chat",
		Invite: []id.UserID{alice.UserID},
	})
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	if _, err := alice.JoinRoomByID(ctx, room.RoomID); err != nil {
		t.Fatalf("join: %v", err)
	}
	const body = "hello from alice"
	if _, err := alice.SendText(ctx, room.RoomID, body); err != nil {
		t.Fatalf("send: %v", err)
	}
	waitForMessage(t, bob, room.RoomID, alice.UserID, body)
	t.Logf("RSS after users, room and message: %s", rss(d.PID()))

	stopped := time.Now()
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("dendrite stopped in %s", time.Since(stopped).Round(time.Millisecond))
	if _, err := bob.Whoami(ctx); err == nil {
		t.Fatal("whoami succeeded while dendrite was stopped")
	}
	restarted := time.Now()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("dendrite ready again in %s", time.Since(restarted).Round(time.Millisecond))

	bob2, err := d.Login(ctx, "bob", "bob-password")
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := bob2.Whoami(ctx); err != nil || resp.UserID != bob.UserID {
		t.Fatalf("whoami after restart = %v, %v; want %s", resp, err, bob.UserID)
	}
	if _, err := alice.Whoami(ctx); err != nil {
		t.Fatalf("old access token after restart: %v", err)
	}
	waitForMessage(t, bob2, room.RoomID, alice.UserID, body)
}

// waitForMessage polls /messages because Dendrite's sync API learns of new
// events asynchronously, so a just-sent message may not be listed yet.
func waitForMessage(t *testing.T, cli *mautrix.Client, roomID id.RoomID, sender id.UserID, body string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := cli.Messages(t.Context(), roomID, "", "", mautrix.DirectionBackward, nil, 50)
		if err != nil {
			t.Fatalf("messages: %v", err)
		}
		for _, evt := range resp.Chunk {
			if evt.Type == event.EventMessage && evt.Sender == sender && evt.Content.Raw["body"] == body {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never saw %q from %s in %s (%d events)", cli.UserID, body, sender, roomID, len(resp.Chunk))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDendriteLoadsAppserviceRegistration(t *testing.T) {
	t.Parallel()
	const asToken = "as-token-for-testenv"
	reg := filepath.Join(t.TempDir(), "registration.yaml")
	err := os.WriteFile(reg, []byte(`id: stripe
url: http://127.0.0.1:1
as_token: `+asToken+`
hs_token: hs-token-for-testenv
sender_localpart: stripebot
rate_limited: false
namespaces:
  users:
    - regex: '@stripe_.*:localhost'
      exclusive: true
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	d := DendriteServer(t, DendriteOptions{AppserviceRegistrations: []string{reg}})

	bot, err := mautrix.NewClient(d.URL, d.UserID("stripebot"), asToken)
	if err != nil {
		t.Fatal(err)
	}
	bot.SetAppServiceUserID = true
	resp, err := bot.Whoami(t.Context())
	if err != nil {
		t.Fatalf("appservice whoami: %v", err)
	}
	if resp.UserID != bot.UserID {
		t.Fatalf("appservice whoami = %s, want %s", resp.UserID, bot.UserID)
	}

}

func TestStripeMockServesStripeGo(t *testing.T) {
	t.Parallel()
	started := time.Now()
	m := StripeMockServer(t)
	t.Logf("stripe-mock ready in %s", time.Since(started).Round(time.Millisecond))

	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:           stripe.String(m.URL),
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelError},
	})
	sc := client.New(StripeMockKey, &stripe.Backends{API: backend, Connect: backend, Uploads: backend})

	acct, err := sc.Accounts.Get()
	if err != nil {
		t.Fatalf("get account: %v", err)
	}
	if !strings.HasPrefix(acct.ID, "acct_") {
		t.Fatalf("account id = %q", acct.ID)
	}
	iter := sc.Customers.List(&stripe.CustomerListParams{})
	n := 0
	for iter.Next() && n < 5 {
		n++
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("list customers: %v", err)
	}
	if n == 0 {
		t.Fatal("list customers returned nothing")
	}
}

func TestStartFailureShowsLogTail(t *testing.T) {
	t.Parallel()
	ensureToolForTest(t, dendriteBinary)
	// A registration file that exists but is invalid makes Dendrite exit at
	// start; the error must say why without anyone opening the log.
	reg := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(reg, []byte("id: broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	d, err := StartDendrite(ctx, DendriteOptions{AppserviceRegistrations: []string{reg}})
	if err == nil {
		_ = d.Close()
		t.Fatal("dendrite started with an invalid appservice registration")
	}
	if !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "Token is required") {
		t.Fatalf("error does not carry the log tail:\n%v", err)
	}
}

func TestToolsDirHonoursEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(ToolsEnv, dir)
	got, err := ToolsDir()
	if err != nil || got != dir {
		t.Fatalf("ToolsDir() = %q, %v; want %q", got, err, dir)
	}
	if err := EnsureTools(t.Context()); err == nil {
		t.Fatal("EnsureTools with an empty override folder reported success")
	}
}

func TestCloseStopsAndKeepsGivenDir(t *testing.T) {
	t.Parallel()
	d := DendriteServer(t, DendriteOptions{Dir: t.TempDir()})
	if !strings.HasPrefix(d.URL, "http://127.0.0.1:") {
		t.Fatalf("URL = %q, want loopback", d.URL)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(d.URL + "/_matrix/client/versions"); err == nil {
		resp.Body.Close()
		t.Fatal("dendrite still answers after Close")
	}
	if _, err := os.Stat(filepath.Join(d.Dir, "dendrite.yaml")); err != nil {
		t.Fatalf("Close removed a folder it did not create: %v", err)
	}
	// The helper's cleanup closes it again; that must be harmless.
}

// rss reads the resident set size from /proc, for the measurements the
// design doc quotes.
func rss(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				return strings.TrimSpace(v)
			}
			return strconv.Itoa(kb/1024) + " MiB"
		}
	}
	return "unknown"
}
