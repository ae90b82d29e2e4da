package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestDemoComesUpAndCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Dendrite, the fake Stripe and the bridge (run without -short)")
	}
	parent := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()

	var progress bytes.Buffer
	d, err := setup(ctx, options{TempParent: parent, Log: zerolog.NewTestWriter(t), Progress: &progress})
	if err != nil {
		t.Fatalf("setup: %v\nprogress:\n%s", err, progress.String())
	}
	closed := false
	defer func() {
		if !closed {
			_ = d.Close()
		}
	}()
	hsPID := d.Homeserver.PID()

	t.Run("users log in", func(t *testing.T) {
		for _, u := range demoUsers() {
			cli, err := d.Homeserver.Login(ctx, u.localpart, password)
			if err != nil {
				t.Fatal(err)
			}
			if who, err := cli.Whoami(ctx); err != nil || who.UserID != d.Homeserver.UserID(u.localpart) {
				t.Errorf("whoami as %s = %v, %v", u.localpart, who, err)
			}
		}
	})

	t.Run("agent sees the bot's display name", func(t *testing.T) {
		agent, err := d.Homeserver.Login(ctx, "agent", password)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := agent.GetDisplayName(ctx, d.Config.BotMXID())
		if err != nil {
			t.Fatal(err)
		}
		if want := d.Config.AppService.Bot.Displayname; resp.DisplayName != want {
			t.Errorf("bot display name %q, want %q", resp.DisplayName, want)
		}
	})

	t.Run("fake Stripe holds the demo scenario", func(t *testing.T) {
		if n := len(d.Stripe.Events()); n == 0 {
			t.Error("no events after loading the scenario")
		}
		if d.Config.Stripe.Accounts[0].APIURL != d.Stripe.URL() {
			t.Errorf("bridge talks to %q, fake is at %q", d.Config.Stripe.Accounts[0].APIURL, d.Stripe.URL())
		}
	})

	t.Run("banner names real ids", func(t *testing.T) {
		var out bytes.Buffer
		printBanner(ctx, &out, d)
		banner := out.String()
		for _, want := range []string{"http://localhost:", "agent / " + password, "/_fake/invoices/in_", "/payment_failure", "@stripebot:localhost", d.Config.Panel.DashboardURL()} {
			if !strings.Contains(banner, want) {
				t.Errorf("banner lacks %q:\n%s", want, banner)
			}
		}
	})

	bridgeAddr := d.Config.AppService.Address
	fakeURL := d.Stripe.URL()
	hsURL := d.Homeserver.URL
	closed = true
	if err := d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	// The child is reaped by now, so its pid answers ESRCH (barring reuse).
	if err := syscall.Kill(hsPID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("dendrite (pid %d) still there after Close: %v", hsPID, err)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for name, u := range map[string]string{"bridge": bridgeAddr, "fake Stripe": fakeURL, "Dendrite": hsURL} {
		if resp, err := client.Get(u); err == nil {
			resp.Body.Close()
			t.Errorf("%s still answers at %s after Close", name, u)
		}
	}
	if _, err := os.Stat(d.Dir); !os.IsNotExist(err) {
		t.Errorf("demo folder %s still there after Close: %v", d.Dir, err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestSetupFailureCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the test peers installed")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port

	for _, tc := range []struct {
		name, step string
		opts       options
	}{
		{"homeserver port taken", "starting Dendrite", options{HomeserverPort: port}},
		// Fails after the folder and the config exist.
		{"fake Stripe port taken", "starting the fake Stripe", options{StripePort: port}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.TempParent = t.TempDir()
			tc.opts.Log = zerolog.NewTestWriter(t)
			_, err := setup(t.Context(), tc.opts)
			if err == nil {
				t.Fatal("setup succeeded")
			}
			var buf bytes.Buffer
			reportStartError(&buf, err, false)
			if got := buf.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, tc.step) {
				t.Errorf("report is not one line naming %q:\n%s", tc.step, got)
			}
			entries, err := os.ReadDir(tc.opts.TempParent)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 0 {
				t.Errorf("failed setup left %v behind", entries)
			}
		})
	}
}

// `ask` answers from the demo's customers without a homeserver.
func TestAskDemoCustomer(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"ask", "-json", "-customer", "cus_DemoBob", "why did my card get declined?"}, &out, &errOut)
	if code != exitOK || !strings.Contains(out.String(), `"intent": "failed_payment"`) {
		t.Fatalf("code %d\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	code = run([]string{"ask", "-scenario", "../../internal/stripefake/testdata/basic.yaml", "-customer", "cus_DemoBob", "hi"}, &out, &errOut)
	if code == exitOK || errOut.String() != "There is no customer cus_DemoBob in this account.\n" {
		t.Errorf("customer of another scenario: code %d, %q", code, errOut.String())
	}
}
