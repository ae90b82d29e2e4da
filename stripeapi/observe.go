package stripeapi

import (
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Request is what an Observer hears about one HTTP request to Stripe.
type Request struct {
	Method string
	// Endpoint is the request path with every object id replaced by {id}
	// (Endpoint), so it can be a metric label.
	Endpoint string
	// Status is the HTTP status, 0 if no response came (Err says why).
	Status   int
	Duration time.Duration
	Err      error
}

// Observer is told about every HTTP request to Stripe, each of stripe-go's
// retries being one, after it ends. It must not block.
type Observer func(Request)

// observingTransport times the requests that go through it: every Stripe
// call of the client does, whatever backend (API, Connect, Uploads) or
// method (typed or raw Call) stripe-go uses for it.
type observingTransport struct {
	next    http.RoundTripper
	observe Observer
}

func (t *observingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	started := time.Now()
	resp, err := t.next.RoundTrip(req)
	r := Request{Method: req.Method, Endpoint: Endpoint(req.URL.Path), Duration: time.Since(started), Err: err}
	if resp != nil {
		r.Status = resp.StatusCode
	}
	t.observe(r)
	return resp, err
}

// observed is a copy of client whose transport reports to observe.
func observed(client *http.Client, observe Observer) *http.Client {
	next := client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	copied := *client
	copied.Transport = &observingTransport{next: next, observe: observe}
	return &copied
}

// isNamespace tells the Stripe path segments that group resources
// (/v1/billing_portal/sessions): the segment after one is a resource name,
// not an id.
func isNamespace(seg string) bool {
	switch seg {
	case "apps", "billing", "billing_portal", "checkout", "climate", "entitlements", "financial_connections",
		"forwarding", "identity", "issuing", "radar", "reporting", "sigma", "tax", "terminal", "test_helpers", "treasury":
		return true
	}
	return false
}

// isAction tells the words Stripe puts where an id would be
// (/v1/customers/search, /v1/invoices/upcoming).
func isAction(seg string) bool { return seg == "search" || seg == "upcoming" }

// word is what a resource name looks like; anything else in a resource's
// place is replaced too, so an id can never slip into a label.
var word = regexp.MustCompile(`^[a-z][a-z_]{0,39}$`)

// maxSegments bounds the endpoint label; Stripe's deepest paths have six.
const maxSegments = 8

// Endpoint is a Stripe request path with its object ids replaced by {id}:
// /v1/customers/cus_123/balance_transactions becomes
// /v1/customers/{id}/balance_transactions. Stripe's paths alternate
// resource names and ids after /v1 (and an optional namespace), so the
// position says which is which, not the id's shape: customer ids may be
// chosen by the merchant and look like words.
func Endpoint(path string) string {
	segments := strings.Split(strings.Trim(path, "/"), "/")
	if len(segments) == 0 || segments[0] != "v1" {
		return "other"
	}
	if len(segments) > maxSegments {
		return "other"
	}
	out := []string{"", "v1"}
	rest := segments[1:]
	if len(rest) > 1 && isNamespace(rest[0]) {
		out = append(out, rest[0])
		rest = rest[1:]
	}
	for i, seg := range rest {
		resource := i%2 == 0
		switch {
		case resource && word.MatchString(seg):
			out = append(out, seg)
		case !resource && isAction(seg):
			out = append(out, seg)
		default:
			out = append(out, "{id}")
		}
	}
	return strings.Join(out, "/")
}
