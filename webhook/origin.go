package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// A valid signature proves only that the event came to this endpoint's
// secret, not that it belongs to the account the endpoint stands for: a test
// event sent to a live endpoint (or the reverse) and, on a Connect endpoint,
// an event of some connected account carry a valid signature too. Posting
// them would put another account's, or test mode's, billing into customer
// rooms, so they are refused before they reach the inbox.

var (
	errNoLivemode     = errors.New("event has no livemode")
	errWrongMode      = errors.New("event livemode differs from the account's")
	errForeignAccount = errors.New("event is for a connected account this bridge does not serve")
	// The own id is learned from Stripe after the listener is up, so an
	// event naming an account can arrive before it is known; Stripe retries
	// a 503, and by then the check has an answer.
	errOwnIDUnknown = errors.New("event names a Stripe account, and this account's own id is not known yet")
)

// endpoint is one account as the handler sees it. Everything but stripeID is
// fixed when the handler is built; stripeID is set once the bridge has asked
// Stripe, while requests are already being served.
type endpoint struct {
	secrets  []string
	livemode bool
	stripeID atomic.Pointer[string]
}

// ownID is the account's acct_ id, or "" while it is not known.
func (ep *endpoint) ownID() string {
	if id := ep.stripeID.Load(); id != nil {
		return *id
	}
	return ""
}

// SetStripeAccountID records the acct_ id Stripe reports for the account
// with this alias, so that Connect events naming it are accepted. It is safe
// to call while the handler serves requests.
func (h *Handler) SetStripeAccountID(alias, id string) error {
	ep, ok := h.accounts[alias]
	if !ok {
		return fmt.Errorf("webhook: no account %q", alias)
	}
	if id == "" {
		return fmt.Errorf("webhook: empty Stripe account id for %q", alias)
	}
	ep.stripeID.Store(&id)
	return nil
}

// eventOrigin is what a Stripe event says about where it comes from. Account
// is absent on the platform's own events and is the connected account's id
// on events a Connect endpoint receives for it.
type eventOrigin struct {
	Livemode *bool
	Account  *string
}

// decodeOrigin reads the envelope's livemode and account (raw, nil when
// absent).
func decodeOrigin(evt *rawEvent) (origin eventOrigin, err error) {
	if len(evt.Livemode) > 0 {
		err = json.Unmarshal(evt.Livemode, &origin.Livemode)
	}
	if err == nil && len(evt.Account) > 0 {
		err = json.Unmarshal(evt.Account, &origin.Account)
	}
	return origin, err
}

// checkOrigin says whether a signed event belongs to this account and, when
// it does not, how to answer: 400 for an event that will never be ours, 503
// while the answer is not known yet.
func (ep *endpoint) checkOrigin(log zerolog.Logger, env *envelope) int {
	origin, err := env.origin, env.originErr
	switch {
	case err != nil:
		err = fmt.Errorf("malformed livemode or account: %w", err)
	case origin.Livemode == nil:
		err = errNoLivemode
	case *origin.Livemode != ep.livemode:
		err = errWrongMode
	case origin.Account != nil:
		switch own := ep.ownID(); {
		case own == "":
			err = errOwnIDUnknown
		case *origin.Account != own:
			err = errForeignAccount
		}
	}
	if err == nil {
		return 0
	}
	warn := log.Warn().Str("reason", err.Error()).Bool("livemode", ep.livemode)
	if origin.Livemode != nil {
		warn = warn.Bool("event_livemode", *origin.Livemode)
	}
	if origin.Account != nil {
		warn = warn.Str("connected_account_id", *origin.Account).Str("stripe_account_id", ep.ownID())
	}
	if errors.Is(err, errOwnIDUnknown) {
		warn.Msg("Deferred Stripe webhook until the account's Stripe id is known; answering 503 so Stripe retries")
		return http.StatusServiceUnavailable
	}
	warn.Msg("Rejected Stripe webhook that does not belong to this account; check the endpoint's mode and Connect setting in Stripe")
	return http.StatusBadRequest
}
