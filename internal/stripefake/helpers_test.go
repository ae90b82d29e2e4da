package stripefake

import (
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// testNow is the frozen "now" of most tests.
var testNow = time.Date(2024, 5, 15, 12, 0, 0, 0, time.UTC)

// testClock is a clock a test can move.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fake struct {
	*Server
	sc    *client.API
	url   string
	clock *testClock
}

// newFake starts a fake on an httptest server with a frozen clock, a fixed
// id seed and the key sk_test_123.
func newFake(t *testing.T, opts Options) *fake {
	t.Helper()
	clock := &testClock{t: testNow}
	if opts.Clock == nil {
		opts.Clock = clock.Now
	}
	if opts.Seed == 0 {
		opts.Seed = 42
	}
	if opts.APIKeys == nil {
		opts.APIKeys = []string{"sk_test_123"}
	}
	s := New(opts)
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		_ = s.Close()
	})
	return &fake{Server: s, sc: NewClient(hs.URL, "sk_test_123"), url: hs.URL, clock: clock}
}

// newBasic is newFake seeded from testdata/basic.yaml.
func newBasic(t *testing.T, opts Options) *fake {
	t.Helper()
	f := newFake(t, opts)
	if err := f.LoadScenarioFile("testdata/basic.yaml"); err != nil {
		t.Fatalf("loading basic.yaml: %v", err)
	}
	return f
}

func (f *fake) load(t *testing.T, yaml string) {
	t.Helper()
	if err := f.LoadScenario(strings.NewReader(yaml)); err != nil {
		t.Fatalf("loading scenario: %v", err)
	}
}

// stripeErr asserts err is the *stripe.Error stripe-go builds from a
// Stripe error body.
func stripeErr(t *testing.T, err error) *stripe.Error {
	t.Helper()
	var se *stripe.Error
	if !errors.As(err, &se) {
		t.Fatalf("want *stripe.Error, got %T: %v", err, err)
	}
	return se
}

func wantCode(t *testing.T, err error, status int, code stripe.ErrorCode) *stripe.Error {
	t.Helper()
	se := stripeErr(t, err)
	if se.HTTPStatusCode != status || se.Code != code {
		t.Fatalf("want %d %q, got %d %q (%s)", status, code, se.HTTPStatusCode, se.Code, se.Msg)
	}
	if !strings.HasPrefix(se.RequestID, "req_") {
		t.Errorf("error has no Request-Id: %q", se.RequestID)
	}
	return se
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func eventTypes(evs []Event) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// eventsSince returns events recorded after the first n.
func (f *fake) eventsSince(n int) []Event { return f.Events()[n:] }

func contains(list []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, l := range list {
			found = found || l == w
		}
		if !found {
			return false
		}
	}
	return true
}
