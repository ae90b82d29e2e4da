package commands

import (
	"strings"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, prefix := range prefixes {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// roomCustomer is the room's customer and its account's Stripe API. Every
// customer command goes through it, so none can run without a customer or
// with anyone else's; on failure it has already told the user why.
func roomCustomer(ce *Event) (*database.Portal, CustomerAPI, bool) {
	if ce.Meta.Portal == nil || ce.Meta.API == nil {
		ce.Reply(notCustomerRoom)
		return nil, nil, false
	}
	portal, err := ce.Meta.Portal(ce.Ctx, ce.RoomID)
	if err != nil {
		ce.Log.Err(err).Msg("Failed to look up the room's customer")
		ce.Reply("Could not look up this room's customer; please try again.")
		return nil, nil, false
	}
	if portal == nil || portal.CustomerID == "" {
		ce.Reply(notCustomerRoom)
		return nil, nil, false
	}
	api := ce.Meta.API(portal.AccountID)
	if api == nil {
		ce.Log.Warn().Str("account", portal.AccountID).Msg("Customer room of an account that is not configured")
		ce.Reply("This room's Stripe account is not configured any more; ask an admin.")
		return nil, nil, false
	}
	return portal, api, true
}
