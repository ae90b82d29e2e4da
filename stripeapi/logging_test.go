package stripeapi

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
)

// TestResponseBodiesAreNotLogged: stripe-go dumps whole response bodies to
// its debug logger, and a billing-portal session's body holds the bearer URL.
// Even at trace level the URL must not reach the log.
func TestResponseBodiesAreNotLogged(t *testing.T) {
	prev := zerolog.GlobalLevel()
	zerolog.SetGlobalLevel(zerolog.TraceLevel)
	t.Cleanup(func() { zerolog.SetGlobalLevel(prev) })

	fake := stripefake.New(stripefake.Options{Seed: 7, APIKeys: []string{"sk_test_fake"}})
	if err := fake.LoadScenarioFile("../internal/stripefake/testdata/basic.yaml"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(func() {
		srv.Close()
		_ = fake.Close()
	})
	var out bytes.Buffer
	zero := int64(0)
	c := New(Options{Alias: "main", Key: "sk_test_fake", URL: srv.URL, MaxNetworkRetries: &zero,
		Log: zerolog.New(&out).Level(zerolog.TraceLevel)})
	session, err := c.PortalSession(context.Background(), "cus_paid", "")
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, "/v1/billing_portal/sessions") {
		t.Fatalf("stripe-go's request line is missing, so the test proves nothing: %q", got)
	}
	if session.URL == "" || strings.Contains(got, session.URL) || strings.Contains(got, session.ID) {
		t.Errorf("the portal session (%s) reached the log:\n%s", session.URL, got)
	}
}
