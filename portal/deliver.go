package portal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// ErrTransient marks a delivery failure worth retrying (homeserver or Stripe
// unreachable, rate-limited, 5xx). Anything else is permanent: retrying a
// payload we cannot render would only fail again.
var ErrTransient = errors.New("transient delivery failure")

func transient(err error) error {
	if err == nil || isPermanentHTTP(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrTransient, err)
}

// isPermanentHTTP: a 4xx from the homeserver (other than rate limiting) will
// not go away by itself.
func isPermanentHTTP(err error) bool {
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.Response != nil {
		code := httpErr.Response.StatusCode
		return code >= 400 && code < 500 && code != http.StatusTooManyRequests && code != http.StatusRequestTimeout
	}
	return false
}

func isNotFound(err error) bool {
	var serr *stripe.Error
	return errors.As(err, &serr) && (serr.HTTPStatusCode == http.StatusNotFound || serr.Code == stripe.ErrorCodeResourceMissing)
}

// TxnID is the Matrix transaction id for posting one Stripe event as one
// sender. It is deterministic so that a crash between send and commit makes
// the retry a no-op on the homeserver; the sender is part of it because
// Dendrite scopes transaction ids per access token, which all ghosts share.
func TxnID(sender id.UserID, stripeEventID string) string {
	sum := sha256.Sum256([]byte(string(sender) + "\x00" + stripeEventID))
	return "mxstripe_" + hex.EncodeToString(sum[:16])
}

// Result is what a delivery did.
type Result struct {
	RoomID        id.RoomID
	MatrixEventID id.EventID
	Skipped       bool
	// Message is the message-map row to store with the inbox outcome (nil
	// when the message is about no particular object).
	Message *database.Message
}

// Deliver posts one inbox event into its room, creating the room if needed.
// The caller records Result.Message and marks the inbox row, together.
func (m *Manager) Deliver(ctx context.Context, row *database.Event, opts RenderOptions) (*Result, error) {
	var evt stripe.Event
	if err := json.Unmarshal(row.Payload, &evt); err != nil {
		return nil, fmt.Errorf("payload is not a Stripe event: %w", err)
	}
	customerID := row.CustomerID
	if customerID == "" {
		var err error
		if customerID, err = m.resolveCustomer(ctx, row.AccountID, &evt); err != nil {
			return nil, err
		}
		if customerID != "" {
			// The caller's logger names the row's (empty) customer; each key
			// once per line, so add it only when it was resolved here.
			log := zerolog.Ctx(ctx).With().Str("resolved_customer_id", customerID).Logger()
			ctx = log.WithContext(ctx)
		}
	}

	var roomID id.RoomID
	if customerID == "" {
		room, err := m.EnsureFeedRoom(ctx, row.AccountID)
		if err != nil {
			return nil, err
		}
		roomID = room
	} else {
		cus := customerFromEvent(&evt)
		portal, err := m.EnsurePortal(ctx, row.AccountID, customerID, cus)
		if err != nil {
			return nil, err
		}
		if cus != nil && !cus.Deleted && (evt.Type == "customer.updated" || evt.Type == "customer.created") {
			if err = m.UpdateCustomer(ctx, portal, cus); err != nil {
				return nil, err
			}
		}
		roomID = portal.RoomID
	}

	rendered, err := Render(&evt, opts)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", evt.Type, err)
	}
	if rendered == nil {
		return &Result{RoomID: roomID, Skipped: true}, nil
	}
	ghost := m.Ghost(row.AccountID)
	resp, err := ghost.SendMessageEvent(ctx, roomID, event.EventMessage, rendered.Content,
		mautrix.ReqSendEvent{TransactionID: TxnID(ghost.UserID, row.ID)})
	if err != nil {
		return nil, transient(fmt.Errorf("send: %w", err))
	}
	res := &Result{RoomID: roomID, MatrixEventID: resp.EventID}
	if rendered.ObjectID != "" {
		res.Message = &database.Message{
			RoomID:         roomID,
			MatrixEventID:  resp.EventID,
			StripeObjectID: rendered.ObjectID,
			StripeEventID:  row.ID,
			AccountID:      row.AccountID,
			CustomerID:     customerID,
			CreatedAt:      time.Now(),
		}
	}
	return res, nil
}

// customerFromEvent returns the customer object when the event is about one,
// so room creation needs no extra Stripe call.
func customerFromEvent(evt *stripe.Event) *stripe.Customer {
	if evt.Data == nil || len(evt.Data.Raw) == 0 || evt.GetObjectValue("object") != "customer" {
		return nil
	}
	var cus stripe.Customer
	if err := json.Unmarshal(evt.Data.Raw, &cus); err != nil || cus.ID == "" {
		return nil
	}
	return &cus
}

// resolveCustomer finds the customer of events whose object does not name
// one: disputes name their charge, and the charge names the customer.
func (m *Manager) resolveCustomer(ctx context.Context, alias string, evt *stripe.Event) (string, error) {
	if evt.Data == nil || evt.GetObjectValue("object") != "dispute" {
		return "", nil
	}
	chargeID := evt.GetObjectValue("charge")
	if chargeID == "" {
		var nested struct {
			Charge struct {
				ID string `json:"id"`
			} `json:"charge"`
		}
		_ = json.Unmarshal(evt.Data.Raw, &nested)
		chargeID = nested.Charge.ID
	}
	reader := m.Stripe[alias]
	if chargeID == "" || reader == nil {
		return "", nil
	}
	charge, err := reader.Charge(ctx, chargeID)
	if err != nil {
		if isNotFound(err) {
			return "", nil
		}
		return "", transient(fmt.Errorf("fetch charge %s for dispute: %w", chargeID, err))
	}
	if charge.Customer != nil {
		return charge.Customer.ID, nil
	}
	return "", nil
}
