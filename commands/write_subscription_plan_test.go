package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// stripeRequests records the parameters (query or form body) of each
// request the bridge sends to stripefake, by "METHOD /path": stripefake
// ignores parameters it does not model, such as proration dates.
type stripeRequests struct {
	mu    sync.Mutex
	forms map[string][]url.Values
	next  http.RoundTripper
}

func (r *stripeRequests) RoundTrip(req *http.Request) (*http.Response, error) {
	raw := req.URL.RawQuery
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if len(body) > 0 {
			raw = string(body)
		}
	}
	form, err := url.ParseQuery(raw)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.forms[req.Method+" "+req.URL.Path] = append(r.forms[req.Method+" "+req.URL.Path], form)
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *stripeRequests) sent(name string) []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.forms[name]
}

// recordStripe routes env's Stripe client through a stripeRequests.
func recordStripe(env *refundEnv) *stripeRequests {
	rec := &stripeRequests{forms: map[string][]url.Values{}, next: http.DefaultTransport}
	zero := int64(0)
	api := stripeapi.New(stripeapi.Options{
		Alias: "main", Key: env.fake.APIKey(), URL: env.fake.URL(), MaxNetworkRetries: &zero,
		HTTPClient: &http.Client{Transport: rec}, Log: zerolog.Nop(),
	})
	env.proc.deps.API = func(string) CustomerAPI { return api }
	return rec
}

// TestChangePlanAppliesTheProrationItPreviewed: the moment the prompt's
// preview prorated for is stored with the pending action and sent as
// proration_date on confirmation, minutes later, so Stripe applies the
// proration the prompt showed rather than one for the confirmation's moment.
func TestChangePlanAppliesTheProrationItPreviewed(t *testing.T) {
	cases := []struct {
		name, cmd string
		prorated  bool
	}{
		{"prorate", "change-plan sub_alice price_pro", true},
		{"no proration", "change-plan sub_alice price_pro none", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newAgentWriteEnv(t)
			reqs := recordStripe(env)
			prompted := env.clock.Unix()
			if prompt := env.run(t, agent, "$cmd", "!stripe "+c.cmd); prompt == nil {
				t.Fatal("no prompt")
			}
			action, err := env.db.PendingAction.Get(context.Background(), mustActionID("$cmd"))
			if err != nil || action == nil {
				t.Fatalf("pending action: %v, %v", action, err)
			}
			var stored subscriptionParams
			if err := json.Unmarshal(action.Parameters, &stored); err != nil {
				t.Fatal(err)
			}
			previews := reqs.sent("GET /v1/invoices/upcoming")
			want := []string(nil)
			if c.prorated {
				want = []string{strconv.FormatInt(prompted, 10)}
				if stored.ProrationDate != prompted {
					t.Errorf("stored proration_date = %d, want the prompt's moment %d", stored.ProrationDate, prompted)
				}
				if len(previews) != 1 || previews[0].Get("subscription_proration_date") != want[0] {
					t.Errorf("preview requests %v, want one with subscription_proration_date=%s", previews, want[0])
				}
			} else if stored.ProrationDate != 0 || len(previews) != 0 {
				t.Errorf("no proration: stored proration_date %d, previews %v; want neither", stored.ProrationDate, previews)
			}

			env.clock = env.clock.Add(3 * time.Minute)
			if done := env.run(t, agent, "$ok", "!stripe confirm"); done == nil {
				t.Fatal("no reply to confirm")
			}
			updates := reqs.sent("POST /v1/subscriptions/sub_alice")
			if len(updates) != 1 {
				t.Fatalf("subscription updates %v, want one", updates)
			}
			if got := updates[0]["proration_date"]; len(got) != len(want) || len(want) == 1 && got[0] != want[0] {
				t.Errorf("update proration_date = %q, want %q (the moment previewed)", got, want)
			}
		})
	}
}
