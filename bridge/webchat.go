package bridge

import (
	"context"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/stripeapi"
	"github.com/matrix-stripe/matrix-stripe/webchat"
)

// initWebChat mounts the web chat on the appservice listener when it is
// enabled. Its live fan-out follows every message and redaction the
// homeserver sends.
func (br *Bridge) initWebChat() {
	if !br.Config.WebChat.Enabled {
		return
	}
	br.WebChat = webchat.New(webchat.Options{
		Config:            br.Config,
		DB:                br.DB,
		AS:                br.AS,
		BindIntent:        br.bindIntent,
		Bot:               br.Bot,
		Customer:          br.webChatCustomer,
		Room:              br.webChatRoom,
		OnCustomerMessage: br.handleMessage,
		ProcessID:         br.processPrefix(),
		Log:               br.Log.With().Str("component", "webchat").Logger(),
		Observer:          br.webChatObserver(),
	})
	br.AS.Router.Handle(webchat.Prefix, br.WebChat)
	br.Events.On(event.EventMessage, br.WebChat.OnEvent)
	br.Events.On(event.EventRedaction, br.WebChat.OnEvent)
}

// webChatCustomer is the customer a web chat token names, or nil when
// Stripe has no such live customer in the account.
func (br *Bridge) webChatCustomer(ctx context.Context, alias, customerID string) (*stripe.Customer, error) {
	client := br.customerAPI(alias)
	if client == nil {
		return nil, nil
	}
	cus, err := client.Customer(ctx, customerID)
	if stripeapi.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if cus.Deleted {
		return nil, nil
	}
	return cus, nil
}

func (br *Bridge) webChatRoom(ctx context.Context, alias, customerID string, cus *stripe.Customer) (id.RoomID, error) {
	portal, err := br.Portal.EnsurePortal(ctx, alias, customerID, cus)
	if err != nil {
		return "", err
	}
	return portal.RoomID, nil
}
