package commands

import (
	"encoding/json"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
)

const linkUsage = "Usage: `link @user:server` — links that Matrix user to this customer."

// linkParams is what a link or unlink confirmation stores; User "" unlinks.
type linkParams struct {
	Key  string    `json:"key"`
	User id.UserID `json:"user,omitempty"`
}

// linkCommands set the customer's link metadata in Stripe only. The
// customer.updated webhook that follows invites or removes the user
// (portal.UpdateCustomer), so the room is changed in one place.
func (p *Processor) linkCommands() []*Command {
	p.executors["link"] = p.runLink
	p.executors["unlink"] = p.runLink
	return []*Command{
		{Name: "link", Role: config.RoleAgent, Write: true, Args: "@user:server",
			Help: "Link a Matrix user to this customer; they are invited to the room (asks for confirmation)", Func: p.cmdLink},
		{Name: "unlink", Role: config.RoleAgent, Write: true,
			Help: "Unlink this customer's Matrix user; they are removed from the room (asks for confirmation)", Func: p.cmdUnlink},
	}
}

func (p *Processor) cmdLink(ce *Event) {
	if len(ce.Args) != 1 {
		ce.Reply("%s", linkUsage)
		return
	}
	user := id.UserID(ce.Args[0])
	// Strict validation: the value is written to Stripe and later used to
	// invite, so only a well-formed MXID may get there.
	if _, _, err := user.ParseAndValidateStrict(); err != nil {
		ce.Reply("%s is not a valid Matrix user ID. %s", code(string(user)), linkUsage)
		return
	}
	portal, _, ok := roomCustomer(ce)
	if !ok {
		return
	}
	if portal.MatrixUserID == user {
		ce.Reply("%s is already linked to this customer.", code(string(user)))
		return
	}
	key := p.deps.Config.Bridge.CustomerLinkKey
	summary := fmt.Sprintf("**Link** %s to customer %s (%s), setting its %s metadata.", code(string(user)), plain(portal.Name), code(portal.CustomerID), code(key))
	if portal.MatrixUserID != "" {
		summary += fmt.Sprintf(" %s is linked now and will be removed from the room.", code(string(portal.MatrixUserID)))
	}
	summary += " They will be invited to this room and can see its billing history."
	p.askConfirmation(ce, portal, "link", portal.CustomerID, linkParams{Key: key, User: user}, summary)
}

func (p *Processor) cmdUnlink(ce *Event) {
	if len(ce.Args) != 0 {
		ce.Reply("Usage: `unlink` — removes this customer's linked Matrix user.")
		return
	}
	portal, _, ok := roomCustomer(ce)
	if !ok {
		return
	}
	if portal.MatrixUserID == "" {
		ce.Reply("No Matrix user is linked to this customer.")
		return
	}
	key := p.deps.Config.Bridge.CustomerLinkKey
	summary := fmt.Sprintf("**Unlink** %s from customer %s (%s), clearing its %s metadata. They will be removed from this room.",
		code(string(portal.MatrixUserID)), plain(portal.Name), code(portal.CustomerID), code(key))
	p.askConfirmation(ce, portal, "unlink", portal.CustomerID, linkParams{Key: key}, summary)
}

func (p *Processor) runLink(ce *Event, portal *database.Portal, api CustomerAPI, action *database.PendingAction) (string, string, string, error) {
	var params linkParams
	if err := json.Unmarshal(action.Parameters, &params); err != nil || strings.TrimSpace(params.Key) == "" {
		if err == nil {
			err = fmt.Errorf("no metadata key")
		}
		return "Could not read the confirmed change; nothing was changed.", "", "", err
	}
	cust, err := api.SetCustomerMetadata(ce.Ctx, portal.CustomerID, params.Key, string(params.User), action.IdempotencyKey)
	requestID := ""
	if cust != nil && cust.LastResponse != nil {
		requestID = cust.LastResponse.RequestID
	}
	if err != nil {
		return "Nothing was changed: " + errorSentence(err), portal.CustomerID, requestID, err
	}
	if params.User == "" {
		return fmt.Sprintf("Unlinked customer %s. The linked user will be removed from the room when Stripe reports the change.", code(portal.CustomerID)), cust.ID, requestID, nil
	}
	return fmt.Sprintf("Linked %s to customer %s. They will be invited when Stripe reports the change.", code(string(params.User)), code(portal.CustomerID)), cust.ID, requestID, nil
}
