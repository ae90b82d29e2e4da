package portal

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/event"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// The agent panel is a room widget: the legacy widget state Element reads
// (im.vector.modular.widgets, keyed by widget id) and Element's layout
// state, which pins it beside the timeline for everyone in the room.
var (
	widgetStateType = event.Type{Type: "im.vector.modular.widgets", Class: event.StateEventType}
	layoutStateType = event.Type{Type: "io.element.widgets.layout", Class: event.StateEventType}
)

// PanelWidgetID is the panel's widget id in every customer room.
const PanelWidgetID = "matrix_stripe_panel"

// SetPanelWidget gives the portal's room the agent panel widget at url, or
// removes it (url ""), and records that it did: a room is written to once
// per change of the panel's URL, not on every start.
func (m *Manager) SetPanelWidget(ctx context.Context, portal *database.Portal, url string) error {
	widget := map[string]any{}
	layout := map[string]any{"widgets": map[string]any{}}
	if url != "" {
		widget = map[string]any{
			"id": PanelWidgetID, "type": "m.custom", "name": "Billing",
			// Element fills in the room; the panel asks the homeserver who
			// the user is (OpenID), never trusts a URL parameter for it.
			"url":               url + "?room=$matrix_room_id",
			"creatorUserId":     m.Bot.UserID.String(),
			"waitForIframeLoad": false,
			"data":              map[string]any{"title": "Stripe billing"},
		}
		layout["widgets"] = map[string]any{PanelWidgetID: map[string]any{"container": "right"}}
	}
	if _, err := m.Bot.SendStateEvent(ctx, portal.RoomID, widgetStateType, PanelWidgetID, widget); err != nil {
		return transient(fmt.Errorf("set the panel widget: %w", err))
	}
	if _, err := m.Bot.SendStateEvent(ctx, portal.RoomID, layoutStateType, "", layout); err != nil {
		return transient(fmt.Errorf("pin the panel widget: %w", err))
	}
	return m.DB.Portal.SetPanelWidget(ctx, portal.AccountID, portal.CustomerID, url)
}
