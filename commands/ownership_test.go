package commands

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// The bridge hands commands a *stripeapi.Client; this keeps the two in step.
var _ CustomerAPI = (*stripeapi.Client)(nil)

// basicFake is stripefake seeded with basic.yaml and a client for it. The
// scenario's generated ids (charges, refunds…) are read back through the
// fake's own client, so the tests do not depend on the id seed.
type basicFake struct {
	fake *stripefake.Server
	api  *stripeapi.Client
}

func newBasicFake(t *testing.T) *basicFake {
	t.Helper()
	fake := stripefake.New(stripefake.Options{Seed: 11})
	if err := fake.LoadScenarioFile("../internal/stripefake/testdata/basic.yaml"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(func() {
		srv.Close()
		_ = fake.Close()
	})
	zero := int64(0)
	api := stripeapi.New(stripeapi.Options{Alias: "main", Key: fake.APIKey(), URL: srv.URL, MaxNetworkRetries: &zero, Log: zerolog.Nop()})
	return &basicFake{fake: fake, api: api}
}

// firstCharge is the charge that paid a seeded invoice.
func (b *basicFake) firstCharge(t *testing.T, invoiceID string) *stripe.Charge {
	t.Helper()
	inv, err := b.api.Invoice(context.Background(), invoiceID)
	if err != nil || inv.Charge == nil {
		t.Fatalf("invoice %s: %v", invoiceID, err)
	}
	ch, err := b.api.Charge(context.Background(), inv.Charge.ID)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestOwned(t *testing.T) {
	env := newBasicFake(t)
	ctx := context.Background()
	refunded := env.firstCharge(t, "in_refunded")
	disputed := env.firstCharge(t, "in_disputed")
	charges, err := env.api.Charges(ctx, "cus_refund", 1)
	if err != nil || len(charges) != 1 || charges[0].Refunds == nil || len(charges[0].Refunds.Data) != 1 {
		t.Fatalf("cus_refund's refund: %v", err)
	}
	refundID := charges[0].Refunds.Data[0].ID
	disputes, err := env.api.Disputes(ctx, "cus_dispute", 1)
	if err != nil || len(disputes) != 1 {
		t.Fatalf("cus_dispute's dispute: %v", err)
	}

	tests := []struct {
		kind     string
		id       string // owned by owner
		owner    string
		stranger string // another customer of the same account
		missing  string
	}{
		{"invoice", "in_refunded", "cus_refund", "cus_dispute", "in_doesnotexist"},
		{"charge", refunded.ID, "cus_refund", "cus_dispute", "ch_doesnotexist"},
		{"payment", refunded.PaymentIntent.ID, "cus_refund", "cus_dispute", "pi_doesnotexist"},
		{"subscription", "sub_paid", "cus_paid", "cus_failed", "sub_doesnotexist"},
		{"refund", refundID, "cus_refund", "cus_dispute", "re_doesnotexist"},
		{"dispute", disputes[0].ID, "cus_dispute", "cus_refund", "dp_doesnotexist"},
		{"charge of another kind of customer", disputed.ID, "cus_dispute", "cus_paid", "ch_0"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			obj, err := Owned(ctx, env.api, tt.owner, tt.id)
			if err != nil {
				t.Fatalf("owner: %v", err)
			}
			if got := objectID(obj); got != tt.id {
				t.Errorf("owner got %T %q, want %q", obj, got, tt.id)
			}
			foreign, errForeign := Owned(ctx, env.api, tt.stranger, tt.id)
			missing, errMissing := Owned(ctx, env.api, tt.owner, tt.missing)
			nobody, errNobody := Owned(ctx, env.api, "", tt.id)
			for name, got := range map[string]any{"foreign": foreign, "missing": missing, "no customer": nobody} {
				if got != nil {
					t.Errorf("%s: got an object %T", name, got)
				}
			}
			for name, err := range map[string]error{"foreign": errForeign, "missing": errMissing, "no customer": errNobody} {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("%s: want ErrNotFound, got %v", name, err)
				}
			}
			// Indistinguishable: same text, same sentence, nothing that names the id.
			if errForeign.Error() != errMissing.Error() || errorSentence(errForeign) != errorSentence(errMissing) {
				t.Errorf("foreign %q and missing %q differ", errForeign, errMissing)
			}
			if !strings.HasPrefix(errForeign.Error(), "No such ") || strings.Contains(errForeign.Error(), tt.id) {
				t.Errorf("sentence %q", errForeign)
			}
		})
	}

	t.Run("bad prefix", func(t *testing.T) {
		for _, bad := range []string{"", "cus_paid", "prod_basic", "evt_1", "in_", "in_a/../b", "in_a?b=c", "hello", "IN_refunded", "sub"} {
			obj, err := Owned(ctx, env.api, "cus_refund", bad)
			if obj != nil || !errors.Is(err, ErrInvalidID) || errors.Is(err, ErrNotFound) {
				t.Errorf("%q: got %v, %v", bad, obj, err)
				continue
			}
			for _, prefix := range []string{"in_", "ch_", "pi_", "sub_", "re_", "dp_"} {
				if !strings.Contains(err.Error(), prefix) {
					t.Errorf("%q: usage %q does not name %s", bad, err, prefix)
				}
			}
		}
	})
}

func objectID(obj any) string {
	switch o := obj.(type) {
	case *stripe.Invoice:
		return o.ID
	case *stripe.Charge:
		return o.ID
	case *stripe.PaymentIntent:
		return o.ID
	case *stripe.Subscription:
		return o.ID
	case *stripe.Refund:
		return o.ID
	case *stripe.Dispute:
		return o.ID
	}
	return ""
}

// stubAPI answers the few calls a test needs; any other call panics.
type stubAPI struct {
	CustomerAPI
	invoice *stripe.Invoice
	refund  *stripe.Refund
	charges map[string]*stripe.Charge
}

func (s *stubAPI) Invoice(context.Context, string) (*stripe.Invoice, error) { return s.invoice, nil }
func (s *stubAPI) Refund(context.Context, string) (*stripe.Refund, error)   { return s.refund, nil }
func (s *stubAPI) Charge(_ context.Context, id string) (*stripe.Charge, error) {
	if ch, ok := s.charges[id]; ok {
		return ch, nil
	}
	return nil, &stripe.Error{HTTPStatusCode: 404, Code: stripe.ErrorCodeResourceMissing}
}

func TestOwnedEdgeCases(t *testing.T) {
	ctx := context.Background()
	mine := &stripe.Customer{ID: "cus_me"}
	t.Run("deleted invoice", func(t *testing.T) {
		api := &stubAPI{invoice: &stripe.Invoice{ID: "in_1", Customer: mine, Deleted: true}}
		if _, err := Owned(ctx, api, "cus_me", "in_1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("want ErrNotFound, got %v", err)
		}
	})
	t.Run("refund with an unexpanded charge", func(t *testing.T) {
		api := &stubAPI{
			refund:  &stripe.Refund{ID: "re_1", Charge: &stripe.Charge{ID: "ch_1"}},
			charges: map[string]*stripe.Charge{"ch_1": {ID: "ch_1", Customer: mine}},
		}
		if obj, err := Owned(ctx, api, "cus_me", "re_1"); err != nil || objectID(obj) != "re_1" {
			t.Errorf("got %v, %v", obj, err)
		}
		if _, err := Owned(ctx, api, "cus_other", "re_1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("stranger: want ErrNotFound, got %v", err)
		}
		api.refund = &stripe.Refund{ID: "re_1", Charge: &stripe.Charge{ID: "ch_1"}}
		api.charges = nil // the charge is gone
		if _, err := Owned(ctx, api, "cus_me", "re_1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing charge: want ErrNotFound, got %v", err)
		}
	})
	t.Run("guest charge", func(t *testing.T) {
		api := &stubAPI{charges: map[string]*stripe.Charge{"ch_guest": {ID: "ch_guest"}}}
		if _, err := Owned(ctx, api, "cus_me", "ch_guest"); !errors.Is(err, ErrNotFound) {
			t.Errorf("want ErrNotFound, got %v", err)
		}
	})
	t.Run("other Stripe errors are described, not hidden", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":{"type":"api_error","message":"boom"}}`))
		}))
		defer srv.Close()
		zero := int64(0)
		api := stripeapi.New(stripeapi.Options{Alias: "main", Key: "sk_test_1", URL: srv.URL, MaxNetworkRetries: &zero, Log: zerolog.Nop()})
		_, err := Owned(ctx, api, "cus_me", "in_1")
		var serr *stripe.Error
		if errors.Is(err, ErrNotFound) || !errors.As(err, &serr) {
			t.Fatalf("want a wrapped Stripe error, got %v", err)
		}
		if got := errorSentence(err); !strings.Contains(got, "temporary problem") {
			t.Errorf("sentence %q", got)
		}
	})
}

func TestResolveTarget(t *testing.T) {
	const room id.RoomID = "!room:example.com"
	messages := map[id.EventID]*database.Message{
		"$invoice":   {RoomID: room, MatrixEventID: "$invoice", StripeObjectID: "in_1"},
		"$elsewhere": {RoomID: "!elsewhere:example.com", MatrixEventID: "$elsewhere", StripeObjectID: "in_2"},
	}
	deps := &Deps{Messages: func(_ context.Context, _ id.RoomID, evt id.EventID) (*database.Message, error) {
		if evt == "$broken" {
			return nil, errors.New("database is down")
		}
		return messages[evt], nil
	}}
	nop := zerolog.Nop()
	ce := func(replyTo id.EventID) *Event {
		content := &event.MessageEventContent{MsgType: event.MsgText, Body: "!stripe invoice"}
		if replyTo != "" {
			content.RelatesTo = (&event.RelatesTo{}).SetReplyTo(replyTo)
		}
		evt := &event.Event{RoomID: room, ID: "$cmd", Content: event.Content{Parsed: content}}
		return &Event{Event: evt, Ctx: context.Background(), Log: &nop, Meta: deps}
	}
	tests := []struct {
		name    string
		replyTo id.EventID
		arg     string
		want    string
	}{
		{"argument wins", "$invoice", "in_9", "in_9"},
		{"reply to a billing message", "$invoice", "", "in_1"},
		{"not a reply", "", "", ""},
		{"reply to an unmapped message", "$chat", "", ""},
		{"mapping from another room", "$elsewhere", "", ""},
		{"lookup fails", "$broken", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ResolveTarget(ce(tt.replyTo), tt.arg); got != tt.want {
				t.Errorf("ResolveTarget = %q, want %q", got, tt.want)
			}
		})
	}
	unwired := ce("$invoice")
	unwired.Meta = &Deps{}
	if got := ResolveTarget(unwired, ""); got != "" {
		t.Errorf("without a message map: %q", got)
	}
}
